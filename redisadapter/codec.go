package redisadapter

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// This file converts between three representations:
//
//   - wire bytes: MessagePack as written by notepack.io 3.x (the parser of
//     @socket.io/redis-adapter) or JSON as written by JSON.stringify;
//   - trees: the decoded form used inside this package. A tree is one of
//     nil, bool, int64, uint64, float64, string, []byte, time.Time, []any
//     or object (a map that keeps its key order);
//   - Go values as adapter.Packet.Data carries them (json.RawMessage,
//     []byte, or anything encoding/json can marshal).

// maxDepth bounds the nesting of decoded and encoded values so that a
// hostile message cannot exhaust the stack.
const maxDepth = 1000

// maxPrealloc bounds the room reserved for an array's or a map's
// elements before they are decoded: a header's count is only a claim.
const maxPrealloc = 16

var (
	errTooDeep   = errors.New("redisadapter: value nested too deeply")
	errTruncated = errors.New("redisadapter: truncated message")
)

// member is one key/value pair of an object.
type member struct {
	key   string
	value any
}

// object is a decoded map that keeps the order of its keys, as JavaScript
// objects do.
type object []member

// get returns the value of key; like JavaScript, the last duplicate wins.
func (o object) get(key string) (any, bool) {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].key == key {
			return o[i].value, true
		}
	}
	return nil, false
}

// ---------------------------------------------------------------------------
// MessagePack → tree

// parseMsgpack decodes one MessagePack value that must span all of data.
func parseMsgpack(data []byte) (any, error) {
	r := bytes.NewReader(data)
	d := msgpack.NewDecoder(r)
	v, err := decodeMsgpack(d, r, 0)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("redisadapter: %d trailing bytes after msgpack value", r.Len())
	}
	return v, nil
}

func decodeMsgpack(d *msgpack.Decoder, r *bytes.Reader, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	c, err := d.PeekCode()
	if err != nil {
		return nil, truncated(err)
	}
	switch {
	case c == msgpcode.Nil:
		return nil, d.DecodeNil()
	case c == msgpcode.False || c == msgpcode.True:
		return d.DecodeBool()
	case c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if err != nil {
			return nil, truncated(err)
		}
		if u <= math.MaxInt64 {
			return int64(u), nil
		}
		return u, nil
	case msgpcode.IsFixedNum(c), c >= msgpcode.Uint8 && c <= msgpcode.Uint32,
		c >= msgpcode.Int8 && c <= msgpcode.Int64:
		n, err := d.DecodeInt64()
		return n, truncated(err)
	case c == msgpcode.Float:
		f, err := d.DecodeFloat32()
		return float64(f), truncated(err)
	case c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		return f, truncated(err)
	case msgpcode.IsString(c):
		b, err := readBytes(d, r)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case msgpcode.IsBin(c):
		return readBytes(d, r)
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, truncated(err)
		}
		if n < 0 || n > r.Len() {
			return nil, errTruncated
		}
		// The header's count is the sender's claim: grow with what is
		// decoded instead of trusting it, or nested headers that each
		// claim every remaining byte would allocate 16 bytes per payload
		// byte at every level.
		arr := make([]any, 0, min(n, maxPrealloc))
		for range n {
			v, err := decodeMsgpack(d, r, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, truncated(err)
		}
		if n < 0 || n > r.Len()/2 {
			return nil, errTruncated
		}
		obj := make(object, 0, min(n, maxPrealloc))
		for range n {
			k, err := decodeMsgpack(d, r, depth+1)
			if err != nil {
				return nil, err
			}
			key, ok := keyString(k)
			if !ok {
				return nil, fmt.Errorf("redisadapter: unsupported msgpack map key %T", k)
			}
			v, err := decodeMsgpack(d, r, depth+1)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{key, v})
		}
		return obj, nil
	case msgpcode.IsExt(c):
		return decodeExt(d, r, c)
	}
	return nil, fmt.Errorf("redisadapter: invalid msgpack code 0x%02x", c)
}

// readBytes reads a str or bin value, checking its length against what is
// left so that a forged length cannot trigger a huge allocation.
func readBytes(d *msgpack.Decoder, r *bytes.Reader) ([]byte, error) {
	n, err := d.DecodeBytesLen()
	if err != nil {
		return nil, truncated(err)
	}
	return readN(d, r, n)
}

// readN reads n raw bytes, refusing a length larger than what is left.
func readN(d *msgpack.Decoder, r *bytes.Reader, n int) ([]byte, error) {
	if n < 0 || n > r.Len() {
		return nil, errTruncated
	}
	b := make([]byte, n)
	if err := d.ReadFull(b); err != nil {
		return nil, truncated(err)
	}
	return b, nil
}

// decodeExt decodes the extension types notepack.io has produced over its
// versions: timestamps (type -1, notepack 3), Dates as fixext 8 type 0 and
// undefined as fixext 1 type 0 (notepack 2), ArrayBuffers as ext type 0
// and BigInts as ext type 1. Unknown extensions decode as nil.
func decodeExt(d *msgpack.Decoder, r *bytes.Reader, code byte) (any, error) {
	id, n, err := d.DecodeExtHeader()
	if err != nil {
		return nil, truncated(err)
	}
	b, err := readN(d, r, n)
	if err != nil {
		return nil, err
	}
	switch id {
	case -1:
		switch n {
		case 4:
			return time.Unix(int64(binary.BigEndian.Uint32(b)), 0).UTC(), nil
		case 8:
			v := binary.BigEndian.Uint64(b)
			return time.Unix(int64(v&0x3ffffffff), int64(v>>34)).UTC(), nil
		case 12:
			nsec := binary.BigEndian.Uint32(b)
			sec := int64(binary.BigEndian.Uint64(b[4:]))
			return time.Unix(sec, int64(nsec)).UTC(), nil
		}
		return nil, nil
	case 0:
		switch {
		case code == msgpcode.FixExt1:
			return nil, nil // undefined
		case code == msgpcode.FixExt8:
			ms := int64(binary.BigEndian.Uint64(b))
			return time.UnixMilli(ms).UTC(), nil
		}
		return b, nil // ArrayBuffer
	case 1:
		return numberFromString(string(b)), nil // BigInt as decimal text
	}
	return nil, nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return err
}

// keyString turns a scalar map key into the string JavaScript would use.
func keyString(k any) (string, bool) {
	switch k := k.(type) {
	case string:
		return k, true
	case int64:
		return strconv.FormatInt(k, 10), true
	case uint64:
		return strconv.FormatUint(k, 10), true
	case float64:
		return string(appendJSNumber(nil, k)), true
	case bool:
		return strconv.FormatBool(k), true
	case nil:
		return "null", true
	}
	return "", false
}

// ---------------------------------------------------------------------------
// JSON → tree

// parseJSON decodes one JSON value that must span all of data, keeping
// object key order and integer precision.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("redisadapter: trailing data after JSON value")
	}
	return v, nil
}

func decodeJSON(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errTruncated
		}
		return nil, fmt.Errorf("redisadapter: invalid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("redisadapter: invalid JSON: %w", err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("redisadapter: invalid JSON object key")
				}
				v, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj = append(obj, member{key, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("redisadapter: invalid JSON: %w", err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("redisadapter: invalid JSON: %w", err)
			}
			return arr, nil
		}
		return nil, fmt.Errorf("redisadapter: invalid JSON: unexpected %v", t)
	case json.Number:
		return numberFromString(string(t)), nil
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("redisadapter: invalid JSON token %T", tok)
}

// numberFromString converts a JSON number to int64, uint64 or float64,
// keeping integers exact whenever they fit.
func numberFromString(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return u
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil
	}
	return f
}

// ---------------------------------------------------------------------------
// tree → JSON

// appendJSON appends the JSON text of v as JSON.stringify would write it.
// Trees keep their key order; Go maps get sorted keys (as encoding/json);
// []byte becomes Node's Buffer form {"type":"Buffer","data":[...]}.
func appendJSON(buf []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, v), nil
	case string:
		return appendJSONString(buf, v), nil
	case int64:
		return strconv.AppendInt(buf, v, 10), nil
	case uint64:
		return strconv.AppendUint(buf, v, 10), nil
	case int:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case float64:
		return appendJSNumber(buf, v), nil
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, errors.New("redisadapter: invalid json.RawMessage")
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, err
		}
		return append(buf, b.Bytes()...), nil
	case []byte:
		buf = append(buf, `{"type":"Buffer","data":[`...)
		for i, c := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendUint(buf, uint64(c), 10)
		}
		return append(buf, "]}"...), nil
	case time.Time:
		return appendJSONString(buf, jsDate(v)), nil
	case []any:
		if v == nil {
			return append(buf, "null"...), nil // as encoding/json
		}
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSON(buf, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case object:
		buf = append(buf, '{')
		for i, m := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, m.key)
			buf = append(buf, ':')
			var err error
			if buf, err = appendJSON(buf, m.value, depth+1); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	case map[string]any:
		if v == nil {
			return append(buf, "null"...), nil // as encoding/json
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			var err error
			if buf, err = appendJSON(buf, v[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	}
	b, err := marshalJSON(v)
	if err != nil {
		return nil, err
	}
	return append(buf, b...), nil
}

// marshalJSON is json.Marshal without HTML escaping (JSON.stringify does
// not escape <, > and &).
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("redisadapter: encode JSON: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// jsDate formats t as Date.prototype.toJSON does.
func jsDate(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// appendJSONString appends s as a JSON string the way JSON.stringify
// escapes it; invalid UTF-8 becomes U+FFFD.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c >= 0x20:
				buf = append(buf, c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c == '\b':
				buf = append(buf, '\\', 'b')
			case c == '\f':
				buf = append(buf, '\\', 'f')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, "\ufffd"...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}

// appendJSNumber formats f as JavaScript's Number.prototype.toString does
// (non-finite numbers become null, as in JSON.stringify).
func appendJSNumber(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(buf, "null"...)
	}
	if f == 0 {
		return append(buf, '0')
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(buf, f, 'f', -1, 64)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'e', -1, 64)
	// Go writes e-07 / e+21; JavaScript writes e-7 / e+21.
	n := len(buf)
	if n-start >= 4 && buf[n-4] == 'e' && buf[n-2] == '0' {
		buf[n-2] = buf[n-1]
		buf = buf[:n-1]
	}
	return buf
}

// ---------------------------------------------------------------------------
// tree → Go values handed to the node

// hasBinary reports whether v contains a []byte at any depth.
func hasBinary(v any) bool {
	switch v := v.(type) {
	case []byte:
		return true
	case []any:
		return slices.ContainsFunc(v, hasBinary)
	case object:
		for _, m := range v {
			if hasBinary(m.value) {
				return true
			}
		}
	}
	return false
}

// argFromTree converts one decoded packet argument into the form
// adapter.Packet.Data uses: []byte for a binary argument,
// json.RawMessage (key order and integers kept) for an argument without
// binary, and map[string]any/[]any trees for an argument holding nested
// binary.
func argFromTree(v any) (any, error) {
	switch v := v.(type) {
	case []byte:
		return v, nil
	}
	if hasBinary(v) {
		return goTree(v), nil
	}
	b, err := appendJSON(nil, v, 0)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// dataFromTree converts a decoded packet.data array. A string event name
// stays a Go string.
func dataFromTree(v any) ([]any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("redisadapter: packet data is not an array")
	}
	out := make([]any, len(arr))
	for i, e := range arr {
		if s, ok := e.(string); ok && i == 0 {
			out[0] = s
			continue
		}
		a, err := argFromTree(e)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// goTree turns a tree into plain Go values: object → map[string]any,
// time.Time → its JSON string. Integers stay int64/uint64.
func goTree(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = goTree(e)
		}
		return out
	case object:
		out := make(map[string]any, len(v))
		for _, m := range v {
			out[m.key] = goTree(m.value)
		}
		return out
	case time.Time:
		return jsDate(v)
	}
	return v
}

// ---------------------------------------------------------------------------
// Go values and trees → MessagePack (notepack.io 3.x byte for byte)

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// encodeMsgpack writes v in notepack's encoding: the smallest integer
// form, float64 for non-integral numbers, str for strings, bin for
// []byte, maps with string keys. json.RawMessage is transcoded keeping
// key order; other Go values go through reflection, and types the
// reflection path does not know (structs, json.Marshaler) through their
// JSON form.
func encodeMsgpack(e *msgpack.Encoder, v any, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch v := v.(type) {
	case nil:
		return e.EncodeNil()
	case bool:
		return e.EncodeBool(v)
	case string:
		return e.EncodeString(v)
	case []byte:
		if err := e.EncodeBytesLen(len(v)); err != nil {
			return err
		}
		_, err := e.Writer().Write(v)
		return err
	case json.RawMessage:
		t, err := parseJSON(v)
		if err != nil {
			return err
		}
		return encodeMsgpack(e, t, depth)
	case json.Number:
		return encodeMsgpack(e, numberFromString(string(v)), depth)
	case int:
		return e.EncodeInt(int64(v))
	case int8:
		return e.EncodeInt(int64(v))
	case int16:
		return e.EncodeInt(int64(v))
	case int32:
		return e.EncodeInt(int64(v))
	case int64:
		return e.EncodeInt(v)
	case uint:
		return e.EncodeUint(uint64(v))
	case uint16:
		return e.EncodeUint(uint64(v))
	case uint32:
		return e.EncodeUint(uint64(v))
	case uint64:
		return e.EncodeUint(v)
	case float32:
		return encodeFloat(e, float32Value(v))
	case float64:
		return encodeFloat(e, v)
	case time.Time:
		// As local clients get it (encoding/json), not as a JS Date.
		return encodeViaJSON(e, v, depth)
	case []any:
		if v == nil {
			return e.EncodeNil() // null, as encoding/json writes it
		}
		if err := e.EncodeArrayLen(len(v)); err != nil {
			return err
		}
		for _, x := range v {
			if err := encodeMsgpack(e, x, depth+1); err != nil {
				return err
			}
		}
		return nil
	case object:
		if err := e.EncodeMapLen(len(v)); err != nil {
			return err
		}
		for _, m := range v {
			if err := e.EncodeString(m.key); err != nil {
				return err
			}
			if err := encodeMsgpack(e, m.value, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if v == nil {
			return e.EncodeNil()
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if err := e.EncodeMapLen(len(keys)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := e.EncodeString(k); err != nil {
				return err
			}
			if err := encodeMsgpack(e, v[k], depth+1); err != nil {
				return err
			}
		}
		return nil
	case json.Marshaler, encoding.TextMarshaler:
		// Their JSON form, as encoding/json gives local clients (a
		// net.IP is a string there, not binary).
		return encodeViaJSON(e, v, depth)
	}
	return encodeReflect(e, reflect.ValueOf(v), depth)
}

// float32Value returns the float64 whose shortest form is f's (1.1, not
// 1.100000023841858), as encoding/json writes a float32.
func float32Value(f float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f) // Inf or NaN: not JSON, refused downstream
	}
	return v
}

// encodeFloat writes a number as notepack does: integral values in
// integer form, others as float64.
func encodeFloat(e *msgpack.Encoder, f float64) error {
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		if f >= math.MinInt64 && f < math.MaxInt64 {
			return e.EncodeInt(int64(f))
		}
		if f >= 0 && f < math.MaxUint64 {
			return e.EncodeUint(uint64(f))
		}
	}
	return e.EncodeFloat64(f)
}

func encodeReflect(e *msgpack.Encoder, rv reflect.Value, depth int) error {
	switch rv.Kind() {
	case reflect.Invalid:
		return e.EncodeNil()
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return e.EncodeNil()
		}
		if rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Struct {
			return encodeViaJSON(e, rv.Interface(), depth)
		}
		return encodeMsgpack(e, rv.Elem().Interface(), depth+1)
	case reflect.Bool:
		return e.EncodeBool(rv.Bool())
	case reflect.String:
		return e.EncodeString(rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return e.EncodeInt(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return e.EncodeUint(rv.Uint())
	case reflect.Float32:
		return encodeFloat(e, float32Value(float32(rv.Float())))
	case reflect.Float64:
		return encodeFloat(e, rv.Float())
	case reflect.Slice:
		if rv.IsNil() {
			return e.EncodeNil()
		}
		if rv.Type() == rawMessageType {
			return encodeMsgpack(e, json.RawMessage(rv.Bytes()), depth)
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return encodeMsgpack(e, rv.Bytes(), depth)
		}
		fallthrough
	case reflect.Array:
		n := rv.Len()
		if err := e.EncodeArrayLen(n); err != nil {
			return err
		}
		for i := range n {
			if err := encodeMsgpack(e, rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if rv.IsNil() {
			return e.EncodeNil()
		}
		if rv.Type().Key().Kind() != reflect.String {
			return encodeViaJSON(e, rv.Interface(), depth)
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			switch {
			case a.String() < b.String():
				return -1
			case a.String() > b.String():
				return 1
			}
			return 0
		})
		if err := e.EncodeMapLen(len(keys)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := e.EncodeString(k.String()); err != nil {
				return err
			}
			if err := encodeMsgpack(e, rv.MapIndex(k).Interface(), depth+1); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		return encodeViaJSON(e, rv.Interface(), depth)
	}
	return fmt.Errorf("redisadapter: cannot encode value of type %s", rv.Type())
}

// encodeViaJSON encodes v through its JSON form (struct tags, Marshalers).
func encodeViaJSON(e *msgpack.Encoder, v any, depth int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("redisadapter: encode %T: %w", v, err)
	}
	t, err := parseJSON(b)
	if err != nil {
		return err
	}
	return encodeMsgpack(e, t, depth)
}

// ---------------------------------------------------------------------------
// tree accessors (lenient, as JavaScript would read the fields)

func asString(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// asInt reads an integral number of any encoding.
func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
	case float64:
		if v == math.Trunc(v) && v >= math.MinInt64 && v < math.MaxInt64 {
			return int64(v), true
		}
	}
	return 0, false
}

// asNumber reads any number as float64.
func asNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// truthy mirrors JavaScript truthiness for the scalar types.
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case int64:
		return v != 0
	case uint64:
		return v != 0
	case float64:
		return v != 0 && !math.IsNaN(v)
	}
	return true
}

// asStrings reads an array of room names; numbers are accepted and
// formatted as JavaScript would (rooms may be numbers in JS callers).
// Anything that is not an array gives nil.
func asStrings(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		switch e := e.(type) {
		case string:
			out = append(out, e)
		case int64, uint64, float64:
			s, _ := keyString(e)
			out = append(out, s)
		}
	}
	return out
}

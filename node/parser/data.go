package parser

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxEncodeDepth bounds the nesting EncodeData follows (pointers, slices,
// maps, structs), so that a cyclic value yields an error instead of
// exhausting the stack.
const maxEncodeDepth = 1000

// errEncodeDepth is returned by EncodeData for values nested deeper than
// maxEncodeDepth (usually a cycle).
var errEncodeDepth = fmt.Errorf("parser: encode data: value nested deeper than %d levels (cycle?)", maxEncodeDepth)

var (
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// EncodeData marshals values as a JSON array, replacing every []byte (at
// any depth, in slices, arrays, maps and json-marshalable structs' fields
// of type any) with {"_placeholder":true,"num":i} and returning the
// attachments in order. json.RawMessage values are copied byte for byte.
//
// Details:
//   - The common types are written without reflection: nil, bool, string,
//     the integer and float types, json.RawMessage, []byte, []any and
//     map[string]any (keys sorted, as encoding/json does). The output is
//     the same as encoding/json with HTML escaping off (like JavaScript's
//     JSON.stringify: "<", ">" and "&" stay as they are).
//   - A json.RawMessage anywhere in those types is checked with json.Valid
//     and copied byte for byte; an empty one is written as null.
//   - Every []byte, and every other byte-slice type that implements
//     neither json.Marshaler nor encoding.TextMarshaler, becomes an
//     attachment (a copy, so the caller may reuse it). Byte arrays
//     ([N]byte) stay JSON arrays of numbers, as in encoding/json.
//   - Other slices, arrays, maps (string, integer or TextMarshaler keys)
//     and pointers are walked by reflection, so [][]byte or
//     map[string][]byte work. Values implementing json.Marshaler or
//     encoding.TextMarshaler are marshalled by encoding/json, unwalked.
//   - Structs are marshalled by encoding/json: tags, omitempty and
//     embedding behave as usual, and a field of static type []byte
//     becomes a base64 string. Binary inside a struct is found in the
//     values held by slots of type any (or of another interface type
//     json.RawMessage satisfies), reached through exported fields and the
//     slices, arrays, maps and pointers they hold, at any depth: an `any`
//     field, the elements of a []any or map[string]any field, the `any`
//     fields of a []T or map[K]*T field's structs, and so on. Such values
//     are rendered by the rules above (a json.RawMessage in them is then
//     compacted by encoding/json). Types with their own MarshalJSON or
//     MarshalText are never looked into.
//   - NaN, infinities, channels, functions and other values encoding/json
//     refuses are errors, as is nesting deeper than 1000 levels.
func EncodeData(values []any) (data json.RawMessage, attachments [][]byte, err error) {
	e := dataEncoder{buf: make([]byte, 0, estimateSize(values))}
	if err := e.array(values); err != nil {
		return nil, nil, err
	}
	return e.buf, e.atts, nil
}

// array appends values as a JSON array.
func (e *dataEncoder) array(values []any) error {
	e.buf = append(e.buf, '[')
	for i, v := range values {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(v, 0); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// estimateSize guesses the encoded size of values to size the buffer once
// in the common case.
func estimateSize(values []any) int {
	n := 2
	for _, v := range values {
		switch v := v.(type) {
		case string:
			n += len(v) + 3
		case json.RawMessage:
			n += len(v) + 1
		default:
			n += 24
		}
	}
	return n
}

type dataEncoder struct {
	buf  []byte
	atts [][]byte
}

func (e *dataEncoder) value(x any, depth int) error {
	if depth > maxEncodeDepth {
		return errEncodeDepth
	}
	switch v := x.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case json.RawMessage:
		return e.raw(v)
	case []byte:
		e.attach(v)
	case string:
		e.buf = appendString(e.buf, v)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int8:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int16:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int32:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, v, 10)
	case uint:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint8:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint16:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint32:
		e.buf = strconv.AppendUint(e.buf, uint64(v), 10)
	case uint64:
		e.buf = strconv.AppendUint(e.buf, v, 10)
	case float64:
		return e.float(v, 64)
	case float32:
		return e.float(float64(v), 32)
	case []any:
		if v == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		e.buf = append(e.buf, '[')
		for i, el := range v {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(el, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case map[string]any:
		if v == nil {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.buf = append(e.buf, '{')
		for i, k := range keys {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.buf = appendString(e.buf, k)
			e.buf = append(e.buf, ':')
			if err := e.value(v[k], depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
	default:
		return e.reflectValue(x, depth)
	}
	return nil
}

// raw appends a json.RawMessage after checking it.
func (e *dataEncoder) raw(v json.RawMessage) error {
	if len(v) == 0 {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	if !jsonValid(v) { // json.Valid's verdict, several times faster
		return errors.New("parser: encode data: json.RawMessage is not valid JSON")
	}
	e.buf = append(e.buf, v...)
	return nil
}

// attach appends a placeholder for b and records a copy of b.
func (e *dataEncoder) attach(b []byte) {
	e.buf = append(e.buf, `{"_placeholder":true,"num":`...)
	e.buf = strconv.AppendInt(e.buf, int64(len(e.atts)), 10)
	e.buf = append(e.buf, '}')
	e.atts = append(e.atts, bytes.Clone(nonNil(b)))
}

// float appends f as encoding/json does (ES6 number formatting).
func (e *dataEncoder) float(f float64, bits int) error {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("parser: encode data: unsupported value %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	e.buf = strconv.AppendFloat(e.buf, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 -> 1e-7, as JavaScript writes it.
		n := len(e.buf)
		if n >= 4 && e.buf[n-4] == 'e' && e.buf[n-3] == '-' && e.buf[n-2] == '0' {
			e.buf[n-2] = e.buf[n-1]
			e.buf = e.buf[:n-1]
		}
	}
	return nil
}

func implementsMarshaler(t reflect.Type) bool {
	return t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType)
}

// reflectValue handles everything the fast switch in value does not.
func (e *dataEncoder) reflectValue(x any, depth int) error {
	rv := reflect.ValueOf(x)
	t := rv.Type()
	if implementsMarshaler(t) {
		return e.marshal(x)
	}
	switch t.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		return e.value(rv.Elem().Interface(), depth+1)
	case reflect.Slice:
		if el := t.Elem(); el.Kind() == reflect.Uint8 && !implementsMarshaler(el) && !implementsMarshaler(reflect.PointerTo(el)) {
			e.attach(rv.Bytes())
			return nil
		}
		if rv.IsNil() {
			e.buf = append(e.buf, "null"...)
			return nil
		}
		fallthrough
	case reflect.Array:
		e.buf = append(e.buf, '[')
		for i := range rv.Len() {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	case reflect.Map:
		return e.mapValue(rv, depth)
	case reflect.Struct:
		cp, _, err := e.rewrite(rv, depth+1)
		if err != nil {
			return err
		}
		return e.marshal(cp.Interface())
	default:
		// Named bool/string/number types, and the kinds encoding/json
		// refuses (it reports the error).
		return e.marshal(x)
	}
}

// mapEntry is one map entry with its key resolved as encoding/json does.
type mapEntry struct {
	name string
	k    reflect.Value
	val  reflect.Value
}

// sortedMapEntries returns the entries of the map rv sorted by resolved key,
// the order encoding/json writes them in.
func sortedMapEntries(rv reflect.Value) ([]mapEntry, error) {
	entries := make([]mapEntry, 0, rv.Len())
	kt := rv.Type().Key()
	for it := rv.MapRange(); it.Next(); {
		k := it.Key()
		var name string
		switch {
		case kt.Kind() == reflect.String:
			name = k.String()
		case kt.Implements(textMarshalerType):
			if k.Kind() == reflect.Pointer && k.IsNil() {
				break
			}
			b, err := k.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return nil, fmt.Errorf("parser: encode data: map key: %w", err)
			}
			name = string(b)
		case k.CanInt():
			name = strconv.FormatInt(k.Int(), 10)
		case k.CanUint():
			name = strconv.FormatUint(k.Uint(), 10)
		default:
			return nil, fmt.Errorf("parser: encode data: unsupported map key type %s", kt)
		}
		entries = append(entries, mapEntry{name, k, it.Value()})
	}
	slices.SortFunc(entries, func(a, b mapEntry) int { return strings.Compare(a.name, b.name) })
	return entries, nil
}

// mapValue writes a map with keys resolved and sorted as encoding/json does.
func (e *dataEncoder) mapValue(rv reflect.Value, depth int) error {
	if rv.IsNil() {
		e.buf = append(e.buf, "null"...)
		return nil
	}
	entries, err := sortedMapEntries(rv)
	if err != nil {
		return err
	}
	e.buf = append(e.buf, '{')
	for i, en := range entries {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendString(e.buf, en.name)
		e.buf = append(e.buf, ':')
		if err := e.value(en.val.Interface(), depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// holdsAnyCache maps a reflect.Type to whether rewrite may change values
// of that type (see holdsAny).
var holdsAnyCache sync.Map

// holdsAny reports whether a value of type t can hold, in a slot rewrite
// replaces (an interface type json.RawMessage implements, such as any),
// a value reached through exported struct fields, slices, arrays, maps and
// pointers, without crossing a type with its own JSON or text marshalling.
func holdsAny(t reflect.Type) bool {
	if v, ok := holdsAnyCache.Load(t); ok {
		return v.(bool)
	}
	// Only the root's answer is cached: with recursive types, answers for
	// types still in progress are provisional.
	r := holdsAnyWalk(t, map[reflect.Type]bool{})
	holdsAnyCache.Store(t, r)
	return r
}

func holdsAnyWalk(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if visiting[t] {
		return false // any path through t is explored from t itself
	}
	visiting[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return rawMessageType.Implements(t)
	case reflect.Pointer:
		return !implementsMarshaler(t) && holdsAnyWalk(t.Elem(), visiting)
	}
	if implementsMarshaler(t) || implementsMarshaler(reflect.PointerTo(t)) {
		return false
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return holdsAnyWalk(t.Elem(), visiting)
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			if sf.IsExported() && sf.Tag.Get("json") != "-" && holdsAnyWalk(sf.Type, visiting) {
				return true
			}
		}
	}
	return false
}

// rewrite returns v, or a copy of v of the same type in which every
// non-nil value held in a slot of interface type (any) is replaced by its
// EncodeData rendering, a json.RawMessage (attachments recorded). Slots are
// found as holdsAny describes. encoding/json then marshals the result with
// the original tags.
func (e *dataEncoder) rewrite(v reflect.Value, depth int) (reflect.Value, bool, error) {
	if depth > maxEncodeDepth {
		return reflect.Value{}, false, errEncodeDepth
	}
	t := v.Type()
	if !holdsAny(t) {
		return v, false, nil
	}
	switch t.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return v, false, nil
		}
		raw, err := e.render(v.Elem().Interface(), depth+1)
		if err != nil {
			return reflect.Value{}, false, err
		}
		return reflect.ValueOf(raw), true, nil
	case reflect.Pointer:
		if v.IsNil() {
			return v, false, nil
		}
		r, changed, err := e.rewrite(v.Elem(), depth+1)
		if err != nil || !changed {
			return v, false, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(r)
		return p, true, nil
	case reflect.Struct:
		cp := reflect.New(t).Elem()
		cp.Set(v)
		changed := false
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() || sf.Tag.Get("json") == "-" {
				continue
			}
			r, ch, err := e.rewrite(cp.Field(i), depth+1)
			if err != nil {
				return reflect.Value{}, false, err
			}
			if ch {
				cp.Field(i).Set(r)
				changed = true
			}
		}
		return cp, changed, nil
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && v.IsNil() {
			return v, false, nil
		}
		var cp reflect.Value
		if t.Kind() == reflect.Slice {
			cp = reflect.MakeSlice(t, v.Len(), v.Len())
		} else {
			cp = reflect.New(t).Elem()
		}
		changed := false
		for i := range v.Len() {
			r, ch, err := e.rewrite(v.Index(i), depth+1)
			if err != nil {
				return reflect.Value{}, false, err
			}
			if ch {
				changed = true
			} else {
				r = v.Index(i)
			}
			cp.Index(i).Set(r)
		}
		return cp, changed, nil
	case reflect.Map:
		if v.IsNil() {
			return v, false, nil
		}
		entries, err := sortedMapEntries(v)
		if err != nil {
			return reflect.Value{}, false, err
		}
		cp := reflect.MakeMapWithSize(t, len(entries))
		changed := false
		for _, en := range entries {
			r, ch, err := e.rewrite(en.val, depth+1)
			if err != nil {
				return reflect.Value{}, false, err
			}
			changed = changed || ch
			cp.SetMapIndex(en.k, r)
		}
		return cp, changed, nil
	}
	return v, false, nil
}

// render encodes x on its own and returns the bytes, recording its
// attachments.
func (e *dataEncoder) render(x any, depth int) (json.RawMessage, error) {
	start := len(e.buf)
	if err := e.value(x, depth); err != nil {
		return nil, err
	}
	raw := bytes.Clone(e.buf[start:])
	e.buf = e.buf[:start]
	return raw, nil
}

// marshal appends encoding/json's rendering of x, HTML escaping off.
func (e *dataEncoder) marshal(x any) error {
	// The writer holds the slice itself (not &e.buf) so that e does not
	// escape to the heap on the fast path.
	w := &sliceWriter{b: e.buf}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	start := len(e.buf)
	if err := enc.Encode(x); err != nil {
		return fmt.Errorf("parser: encode data: %w", err)
	}
	e.buf = w.b
	if n := len(e.buf); n > start && e.buf[n-1] == '\n' {
		e.buf = e.buf[:n-1]
	}
	return nil
}

// sliceWriter is an io.Writer appending to a byte slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping as encoding/json does
// with HTML escaping off: '"', '\\', control characters, U+2028, U+2029;
// invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// DecodeData splits a JSON array payload into its elements. An element
// that is a placeholder becomes the attachment ([]byte); an element
// containing placeholders deeper becomes a decoded value (map[string]any,
// []any, ...) with []byte in their place; any other element stays a
// json.RawMessage, byte for byte. A placeholder whose num is out of range
// is an error.
//
// Details:
//   - Empty (or all-whitespace) data, as in an ACK without payload, gives
//     nil, nil. Anything else must be a JSON array.
//   - A json.RawMessage element is a sub-slice of data (capacity capped):
//     it shares data's memory, so data must not be modified afterwards.
//   - A placeholder is, as in socket.io-parser, any object whose
//     "_placeholder" member is true; its "num" must be an integer in
//     [0, len(attachments)). Placeholders are only interpreted when
//     attachments is not empty: the data of a text packet (EVENT, ACK)
//     is never rewritten, like the reference parser does.
//   - Elements containing placeholders are decoded with encoding/json
//     (numbers become float64, so a number beyond float64's range there
//     is an error), and the attachment slices are returned as they are
//     (not copied).
//   - Every error wraps ErrInvalidPacket.
func DecodeData(data json.RawMessage, attachments [][]byte) ([]any, error) {
	if skipSpace(data, 0) == len(data) {
		return nil, nil // no payload
	}
	i, empty, err := openArray(data)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, 4)
	if empty {
		return out, nil
	}
	return appendElements(out, data, i, attachments)
}

// DecodeEvent is DecodeData for the payload of an EVENT or BINARY_EVENT,
// split into the event name and the arguments. name is the first element
// as it is on the wire: a JSON string or number (anything else is an
// error, as the Decoder enforces). The other elements, decoded as by
// DecodeData, are appended to dst, which the caller may provide to save an
// allocation; args is never nil (but empty without arguments). The
// boxing of the name, which the caller only needs as text, is saved.
func DecodeEvent(data json.RawMessage, attachments [][]byte, dst []any) (name json.RawMessage, args []any, err error) {
	i, empty, err := openArray(data)
	if err != nil {
		return nil, nil, err
	}
	if empty {
		return nil, nil, invalidf("event payload must not be an empty array")
	}
	if c := data[i]; c != '"' && c != '-' && !isDigit(c) {
		return nil, nil, invalidf("event name must be a string or a number")
	}
	end, ok := scanValue(data, i, 1)
	if !ok {
		return nil, nil, invalidf("data is not valid JSON")
	}
	name = data[i:end:end]
	i, last, ok := nextElement(data, end)
	if !ok {
		return nil, nil, invalidf("data is not valid JSON")
	}
	if dst == nil {
		dst = []any{} // args is never nil; no allocation
	}
	if last {
		return name, dst, nil
	}
	// The arguments are collected on the stack, then copied in one
	// allocation of the exact size.
	var buf [8]any
	elems, err := appendElements(buf[:0], data, i, attachments)
	if err != nil {
		return nil, nil, err
	}
	return name, append(dst, elems...), nil
}

// openArray checks that data starts a JSON array and returns the index of
// its first element; empty reports "[]", which it checks to the end.
func openArray(data json.RawMessage) (i int, empty bool, err error) {
	i = skipSpace(data, 0)
	if i == len(data) {
		return i, false, invalidf("data is empty")
	}
	if data[i] != '[' {
		// Tell invalid JSON from a valid non-array, as before.
		if !jsonValid(data) {
			return i, false, invalidf("data is not valid JSON")
		}
		return i, false, invalidf("data is not a JSON array")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		if skipSpace(data, i+1) != len(data) {
			return i, true, invalidf("data is not valid JSON")
		}
		return i, true, nil
	}
	return i, false, nil
}

// nextElement skips what follows an element ending at end: it returns the
// index of the next element, or last when the array closed there (and
// nothing but whitespace follows). ok is false on invalid JSON.
func nextElement(data json.RawMessage, end int) (i int, last, ok bool) {
	i = skipSpace(data, end)
	if i < len(data) && data[i] == ',' {
		return skipSpace(data, i+1), false, true
	}
	if i < len(data) && data[i] == ']' && skipSpace(data, i+1) == len(data) {
		return i, true, true
	}
	return i, false, false
}

// appendElements validates the array elements of data from index i (the
// first one, past '[') to the end and appends them to out, as DecodeData
// describes.
func appendElements(out []any, data json.RawMessage, i int, attachments [][]byte) ([]any, error) {
	// One pass: each element is validated as it is split off.
	for {
		end, ok := scanValue(data, i, 1)
		if !ok {
			return nil, invalidf("data is not valid JSON")
		}
		elem := data[i:end:end]
		var v any = elem
		if len(attachments) > 0 && mayHoldPlaceholder(elem) {
			var err error
			if v, err = resolveElement(elem, attachments); err != nil {
				return nil, err
			}
		}
		out = append(out, v)
		var last bool
		if i, last, ok = nextElement(data, end); !ok {
			return nil, invalidf("data is not valid JSON")
		}
		if last {
			return out, nil
		}
	}
}

// mayHoldPlaceholder is a cheap filter: an element can only hold a
// placeholder if it is an object or array that spells "_placeholder" or
// uses an escape (which could spell it).
func mayHoldPlaceholder(elem json.RawMessage) bool {
	if elem[0] != '{' && elem[0] != '[' {
		return false
	}
	return bytes.Contains(elem, []byte("_placeholder")) || bytes.IndexByte(elem, '\\') >= 0
}

// resolveElement decodes elem and replaces its placeholders. It returns
// elem itself when there turns out to be none.
func resolveElement(elem json.RawMessage, attachments [][]byte) (any, error) {
	var v any
	if err := json.Unmarshal(elem, &v); err != nil {
		return nil, invalidf("data element: %v", err)
	}
	v, found, err := resolve(v, attachments)
	if err != nil {
		return nil, err
	}
	if !found {
		return elem, nil
	}
	return v, nil
}

// resolve replaces placeholders in a freshly decoded value, in place.
func resolve(v any, attachments [][]byte) (any, bool, error) {
	switch v := v.(type) {
	case map[string]any:
		if v["_placeholder"] == true {
			num, ok := v["num"].(float64)
			if !ok || num != math.Trunc(num) || num < 0 || num >= float64(len(attachments)) {
				return nil, false, invalidf("placeholder num %v out of range (%d attachments)", v["num"], len(attachments))
			}
			return attachments[int(num)], true, nil
		}
		found := false
		for k, el := range v {
			r, f, err := resolve(el, attachments)
			if err != nil {
				return nil, false, err
			}
			if f {
				v[k], found = r, true
			}
		}
		return v, found, nil
	case []any:
		found := false
		for i, el := range v {
			r, f, err := resolve(el, attachments)
			if err != nil {
				return nil, false, err
			}
			if f {
				v[i], found = r, true
			}
		}
		return v, found, nil
	}
	return v, false, nil
}

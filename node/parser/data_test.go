package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// stdJSON is encoding/json with HTML escaping off, the reference for
// EncodeData's output on values without binary.
func stdJSON(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json(%#v): %v", v, err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func mustEncode(t testing.TB, values ...any) (string, [][]byte) {
	t.Helper()
	data, atts, err := EncodeData(values)
	if err != nil {
		t.Fatalf("EncodeData(%#v): %v", values, err)
	}
	if !json.Valid(data) {
		t.Fatalf("EncodeData(%#v) = %s: invalid JSON", values, data)
	}
	return string(data), atts
}

type Inner struct {
	Blob any    `json:"blob"`
	Name string `json:"name"`
}

type Embedded struct {
	E any `json:"e,omitempty"`
}

type Outer struct {
	Embedded
	ID      int            `json:"id"`
	Payload any            `json:"payload"`
	Raw     []byte         `json:"raw"` // static []byte: base64, as encoding/json
	List    []any          `json:"list,omitempty"`
	Meta    map[string]any `json:"meta,omitempty"`
	In      Inner          `json:"in"`
	Ptr     *Inner         `json:"ptr,omitempty"`
	Skip    any            `json:"-"`
	hidden  any
}

type named string

type textKey struct{ a int }

func (k textKey) MarshalText() ([]byte, error) {
	if k.a < 0 {
		return nil, errors.New("negative key")
	}
	return []byte("k" + strings.Repeat("i", k.a)), nil
}

type blob []byte

type withMarshal struct{ B []byte }

func (w withMarshal) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

func TestEncodeDataNoBinaryMatchesEncodingJSON(t *testing.T) {
	f32 := float32(3.14)
	values := []any{
		nil, true, false, "", "hello", "<script>&amp;</script>", "quote\"back\\slash",
		"ctl\x00\x01\x1f\b\f\n\r\t\x7f", "bad utf8 \xff\xfe end", "sep\u2028\u2029", "emoji 😀 é",
		0, -1, int8(-128), int16(300), int32(-70000), int64(math.MinInt64), uint(7), uint8(255),
		uint16(65535), uint32(1 << 31), uint64(math.MaxUint64),
		0.0, math.Copysign(0, -1), 0.1, 1.5, -2.25, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64,
		math.SmallestNonzeroFloat64, float32(0.1), float32(1e21), float32(1e-7), f32, &f32,
		[]any{1, "a", []any{}, map[string]any{}}, map[string]any{"b": 1, "a": []any{nil}, "": "e"},
		[]string{"x", "y"}, []int(nil), []any(nil), map[string]any(nil), [3]byte{1, 2, 3},
		map[int]string{2: "b", 10: "a"}, map[named]int{"z": 1, "y": 2}, named("nm"),
		map[uint8]any{3: "c", 20: nil}, map[textKey]int{{2}: 2, {1}: 1}, map[*textKey]int{nil: 0},
		struct {
			A int    `json:"a,omitempty"`
			B string `json:"bee"`
		}{B: "x"},
		Outer{ID: 1, Payload: "p", Raw: []byte{1, 2}, In: Inner{Name: "n"}},
		time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), net.IPv4(1, 2, 3, 4), withMarshal{},
		json.Number("12.50"), (*Inner)(nil),
	}
	for _, v := range values {
		got, atts := mustEncode(t, v)
		if want := stdJSON(t, []any{v}); got != want {
			t.Errorf("EncodeData(%#v)\n got %s\nwant %s", v, got, want)
		}
		if len(atts) != 0 {
			t.Errorf("EncodeData(%#v) attachments = %d", v, len(atts))
		}
	}
}

func TestEncodeDataRawMessage(t *testing.T) {
	got, _ := mustEncode(t, "message-back", raw(`1`), raw(`"2"`), raw(`{"3":[true]}`))
	if want := `["message-back",1,"2",{"3":[true]}]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Byte for byte: whitespace, key order, escapes and number spelling kept.
	in := raw(`{ "z" : 1.0, "a":"\u00e9<" , "n": 1e400 }`)
	got, _ = mustEncode(t, in, []any{in}, map[string]any{"k": in})
	want := `[` + string(in) + `,[` + string(in) + `],{"k":` + string(in) + `}]`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	got, _ = mustEncode(t, json.RawMessage(nil), json.RawMessage{})
	if got != `[null,null]` {
		t.Fatalf("empty RawMessage: %s", got)
	}
	if _, _, err := EncodeData([]any{raw(`{"a":`)}); err == nil {
		t.Fatal("invalid RawMessage accepted")
	}
	if _, _, err := EncodeData([]any{"a", []any{raw(`nope`)}}); err == nil {
		t.Fatal("invalid nested RawMessage accepted")
	}
}

func TestEncodeDataEmpty(t *testing.T) {
	for _, v := range [][]any{nil, {}} {
		data, atts, err := EncodeData(v)
		if err != nil || string(data) != "[]" || atts != nil {
			t.Errorf("EncodeData(%#v) = %s, %v, %v", v, data, atts, err)
		}
	}
}

func ph(n int) string { return `{"_placeholder":true,"num":` + string(rune('0'+n)) + `}` }

func TestEncodeDataBinary(t *testing.T) {
	b0, b1, b2 := []byte{1, 2, 3}, []byte{4, 5, 6}, []byte{}
	tests := []struct {
		name   string
		values []any
		want   string
		atts   [][]byte
	}{
		{"top level", []any{"message-back", b0, b1}, `["message-back",` + ph(0) + `,` + ph(1) + `]`, [][]byte{b0, b1}},
		{"nil and empty", []any{[]byte(nil), b2}, `[` + ph(0) + `,` + ph(1) + `]`, [][]byte{{}, {}}},
		{"named byte slice", []any{blob{7}}, `[` + ph(0) + `]`, [][]byte{{7}}},
		{"in []any", []any{"e", []any{1, []any{b0}}}, `["e",[1,[` + ph(0) + `]]]`, [][]byte{b0}},
		{"in map, sorted", []any{map[string]any{"b": b1, "a": b0, "c": 1}}, `[{"a":` + ph(0) + `,"b":` + ph(1) + `,"c":1}]`, [][]byte{b0, b1}},
		{"[][]byte", []any{[][]byte{b0, b1}}, `[[` + ph(0) + `,` + ph(1) + `]]`, [][]byte{b0, b1}},
		{"map[string][]byte", []any{map[string][]byte{"y": b1, "x": b0}}, `[{"x":` + ph(0) + `,"y":` + ph(1) + `}]`, [][]byte{b0, b1}},
		{"map[int]any", []any{map[int]any{10: b1, 9: b0}}, `[{"10":` + ph(0) + `,"9":` + ph(1) + `}]`, [][]byte{b1, b0}},
		{"pointer", []any{&b0}, `[` + ph(0) + `]`, [][]byte{b0}},
		{"array of any", []any{[2]any{b0, "x"}}, `[[` + ph(0) + `,"x"]]`, [][]byte{b0}},
		{"struct any field", []any{Inner{Blob: b0, Name: "n"}}, `[{"blob":` + ph(0) + `,"name":"n"}]`, [][]byte{b0}},
		{"pointer to struct", []any{&Inner{Blob: []any{b0}}}, `[{"blob":[` + ph(0) + `],"name":""}]`, [][]byte{b0}},
		{"struct in []any", []any{[]Inner{{Blob: b0}, {Blob: b1}}}, `[[{"blob":` + ph(0) + `,"name":""},{"blob":` + ph(1) + `,"name":""}]]`, [][]byte{b0, b1}},
		{"nested struct fields", []any{Outer{
			Embedded: Embedded{E: b0},
			ID:       1,
			Payload:  map[string]any{"f": b1},
			Raw:      []byte("hi"),
			List:     []any{"l", b2},
			Meta:     map[string]any{"m": []byte{8}},
			In:       Inner{Blob: []byte{9}},
			Ptr:      &Inner{Blob: []byte{10}},
			Skip:     []byte{11},
			hidden:   []byte{12},
		}}, `[{"e":` + ph(0) + `,"id":1,"payload":{"f":` + ph(1) + `},"raw":"aGk=","list":["l",` + ph(2) + `],"meta":{"m":` + ph(3) + `},"in":{"blob":` + ph(4) + `,"name":""},"ptr":{"blob":` + ph(5) + `,"name":""}}]`,
			[][]byte{b0, b1, b2, {8}, {9}, {10}}},
		{"RawMessage beside binary", []any{raw(`{ "a":1 }`), b0}, `[{ "a":1 },` + ph(0) + `]`, [][]byte{b0}},
		{"TextMarshaler byte slice is not binary", []any{net.IP{1, 2, 3, 4}}, `["1.2.3.4"]`, nil},
		{"Marshaler is not walked", []any{withMarshal{B: b0}}, `["custom"]`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, atts := mustEncode(t, tc.values...)
			if got != tc.want {
				t.Errorf("data\n got %s\nwant %s", got, tc.want)
			}
			if len(atts) != len(tc.atts) {
				t.Fatalf("attachments = %v, want %v", atts, tc.atts)
			}
			for i := range atts {
				if !bytes.Equal(atts[i], tc.atts[i]) || atts[i] == nil {
					t.Errorf("attachment %d = %v, want %v", i, atts[i], tc.atts[i])
				}
			}
		})
	}
}

func TestEncodeDataCopiesAttachments(t *testing.T) {
	b := []byte{1, 2, 3}
	_, atts, err := EncodeData([]any{b})
	if err != nil {
		t.Fatal(err)
	}
	b[0] = 9
	if atts[0][0] != 1 {
		t.Fatal("attachment aliases the caller's slice")
	}
}

type cyclic struct{ Next any }

func TestEncodeDataErrors(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	s := []any{nil}
	s[0] = s
	c := &cyclic{}
	c.Next = c
	tests := []struct {
		name string
		v    any
	}{
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"-Inf float32", float32(math.Inf(-1))},
		{"NaN nested", map[string]any{"a": []any{math.NaN()}}},
		{"NaN in struct", Inner{Blob: math.NaN()}},
		{"chan", make(chan int)},
		{"func", func() {}},
		{"complex", complex(1, 2)},
		{"bool map key", map[bool]int{true: 1}},
		{"MarshalText key error", map[textKey]any{{-1}: []byte{1}}},
		{"map key error inside struct", Deep{ByName: nil, Nested: nil, Items: nil, Arr: [2]any{map[textKey]any{{-1}: 1}}}},
		{"map cycle", m},
		{"slice cycle", s},
		{"pointer cycle", c},
	}
	for _, tc := range tests {
		data, atts, err := EncodeData([]any{"e", tc.v})
		if err == nil {
			t.Errorf("%s: EncodeData = %s, want error", tc.name, data)
		}
		if data != nil || atts != nil {
			t.Errorf("%s: partial result returned with error", tc.name)
		}
	}
	_, _, err := EncodeData([]any{m})
	if err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("cycle error = %v", err)
	}
}

func TestDecodeDataOfficialSuite(t *testing.T) {
	// "should send a plain-text packet": echo with "message-back".
	args, err := DecodeData(raw(`["message",1,"2",{"3":[true]}]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := mustEncode(t, append([]any{"message-back"}, args[1:]...)...)
	if want := `["message-back",1,"2",{"3":[true]}]`; got != want {
		t.Fatalf("plain echo = %s, want %s", got, want)
	}
	// "should send a packet with binary attachments".
	atts := [][]byte{{1, 2, 3}, {4, 5, 6}}
	args, err = DecodeData(raw(`["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), atts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(args[1].([]byte), atts[0]) || !bytes.Equal(args[2].([]byte), atts[1]) {
		t.Fatalf("args = %#v", args)
	}
	data, out, err := EncodeData(append([]any{"message-back"}, args[1:]...))
	if err != nil {
		t.Fatal(err)
	}
	p := &Packet{Type: BinaryEvent, Nsp: "/", Data: data, Attachments: out}
	if got, want := string(Encode(p)), `52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`; got != want {
		t.Fatalf("binary echo = %s, want %s", got, want)
	}
	if !reflect.DeepEqual(out, atts) {
		t.Fatalf("attachments = %v", out)
	}
}

func TestDecodeData(t *testing.T) {
	a0, a1 := []byte{1}, []byte{2, 2}
	atts := [][]byte{a0, a1}
	tests := []struct {
		name string
		data string
		atts [][]byte
		want []any
	}{
		{"empty", ``, nil, nil},
		{"whitespace", "  \n", atts, nil},
		{"empty array", `[]`, nil, []any{}},
		{"empty array spaced", ` [ ] `, nil, []any{}},
		{"raw elements", `[1,"2",{"3":[true]},null,-0.5e1,"a,b]",[[]]]`, nil,
			[]any{raw(`1`), raw(`"2"`), raw(`{"3":[true]}`), raw(`null`), raw(`-0.5e1`), raw(`"a,b]"`), raw(`[[]]`)}},
		{"whitespace between", "[ 1 ,\n\"x\\\"\" , { } ]", nil, []any{raw(`1`), raw(`"x\""`), raw(`{ }`)}},
		{"top placeholder", `["e",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`, atts, []any{raw(`"e"`), a1, a0}},
		{"placeholder reused", `[{"_placeholder":true,"num":0},{"num":0,"_placeholder":true}]`, atts, []any{a0, a0}},
		{"placeholder with extra keys", `[{"_placeholder":true,"num":1,"x":2}]`, atts, []any{a1}},
		{"nested placeholder", `["e",{"x":[1,{"_placeholder":true,"num":0}],"y":"z"},[{"_placeholder":true,"num":1}]]`, atts,
			[]any{raw(`"e"`), map[string]any{"x": []any{1.0, a0}, "y": "z"}, []any{a1}}},
		{"escaped key", `[{"\u005fplaceholder":true,"num":0}]`, atts, []any{a0}},
		{"escape but no placeholder stays raw", `[{"a":"\n"}]`, atts, []any{raw(`{"a":"\n"}`)}},
		{"placeholder text in string stays raw", `[{"s":"_placeholder"},"_placeholder"]`, atts, []any{raw(`{"s":"_placeholder"}`), raw(`"_placeholder"`)}},
		{"_placeholder not true", `[{"_placeholder":"true","num":0},{"_placeholder":1,"num":0}]`, atts,
			[]any{raw(`{"_placeholder":"true","num":0}`), raw(`{"_placeholder":1,"num":0}`)}},
		{"no attachments: text packet kept", `["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":7}]`, nil,
			[]any{raw(`"e"`), raw(`{"_placeholder":true,"num":0}`), raw(`{"_placeholder":true,"num":7}`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeData(raw(tc.data), tc.atts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeDataInvalid(t *testing.T) {
	atts := [][]byte{{1}, {2}}
	tests := []struct{ name, data string }{
		{"not JSON", `[1,`},
		{"object", `{"a":1}`},
		{"string", `"a"`},
		{"null", `null`},
		{"trailing", `[1] x`},
		{"num out of range", `["e",{"_placeholder":true,"num":2}]`},
		{"num negative", `["e",{"_placeholder":true,"num":-1}]`},
		{"num fraction", `["e",{"_placeholder":true,"num":0.5}]`},
		{"num string", `["e",{"_placeholder":true,"num":"0"}]`},
		{"num missing", `["e",{"_placeholder":true}]`},
		{"num huge", `["e",{"_placeholder":true,"num":1e300}]`},
		{"nested out of range", `["e",{"a":[{"_placeholder":true,"num":5}]}]`},
	}
	for _, tc := range tests {
		got, err := DecodeData(raw(tc.data), atts)
		if err == nil {
			t.Errorf("%s: DecodeData(%s) = %#v, want error", tc.name, tc.data, got)
			continue
		}
		if !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("%s: error %v does not wrap ErrInvalidPacket", tc.name, err)
		}
	}
}

func TestDecodeDataElementsCapped(t *testing.T) {
	data := raw(`["a","b"]`)
	got, err := DecodeData(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := got[0].(json.RawMessage)
	_ = append(first, 'X', 'X', 'X')
	if string(data) != `["a","b"]` {
		t.Fatalf("appending to an element clobbered data: %s", data)
	}
}

func TestDataRoundTrip(t *testing.T) {
	values := []any{
		"event", []byte{0, 1, 2}, map[string]any{"file": []byte("x"), "n": 1.5, "tags": []any{"a", []byte{}}},
		raw(`{"keep":[1, 2]}`), nil, true,
	}
	data, atts, err := EncodeData(values)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeData(data, atts)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		raw(`"event"`), []byte{0, 1, 2}, map[string]any{"file": []byte("x"), "n": 1.5, "tags": []any{"a", []byte{}}},
		raw(`{"keep":[1, 2]}`), raw(`null`), raw(`true`),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	// And back again: identical bytes.
	data2, atts2, err := EncodeData(got)
	if err != nil || !bytes.Equal(data, data2) || !reflect.DeepEqual(atts, atts2) {
		t.Fatalf("re-encode: %s vs %s, %v", data, data2, err)
	}
}

type Deep struct {
	Items  []Inner           `json:"items"`
	ByName map[string]*Inner `json:"by_name"`
	Arr    [2]any            `json:"arr"`
	Nested map[string][]any  `json:"nested"`
	Marsh  json.Marshaler    `json:"marsh,omitempty"`
	Typed  map[string][]byte `json:"typed"` // static []byte: base64
	Plain  []string          `json:"plain"`
	hidden map[string]any
}

type Tree struct {
	V    any    `json:"v,omitempty"`
	Kids []Tree `json:"kids,omitempty"`
}

// CycA and CycB reach an `any` slot only through each other: the per-type
// cache must not remember CycB as binary-free while CycA is in progress.
type CycA struct {
	B *CycB `json:"b,omitempty"`
	X any   `json:"x,omitempty"`
}

type CycB struct {
	A *CycA `json:"a,omitempty"`
}

func TestEncodeDataStructDepth(t *testing.T) {
	b0, b1, b2, b3 := []byte{0}, []byte{1}, []byte{2}, []byte{3}
	tests := []struct {
		name  string
		v     any
		want  string
		natts int
	}{
		{"deep", Deep{
			Items:  []Inner{{Blob: b0}, {Name: "x"}},
			ByName: map[string]*Inner{"z": {Blob: b2}, "a": {Blob: b1}, "nil": nil},
			Arr:    [2]any{"s", b3},
			Nested: map[string][]any{"k": {[]byte{4}}},
			Marsh:  raw(`{"m":1}`),
			Typed:  map[string][]byte{"t": {5}},
			Plain:  []string{"p"},
			hidden: map[string]any{"h": []byte{6}},
		}, `{"items":[{"blob":` + ph(0) + `,"name":""},{"blob":null,"name":"x"}],"by_name":{"a":{"blob":` + ph(1) + `,"name":""},"nil":null,"z":{"blob":` + ph(2) + `,"name":""}},"arr":["s",` + ph(3) + `],"nested":{"k":[` + ph(4) + `]},"marsh":{"m":1},"typed":{"t":"BQ=="},"plain":["p"]}`, 5},
		{"recursive type", Tree{V: "root", Kids: []Tree{{V: b0}, {Kids: []Tree{{V: []any{b1}}}}}},
			`{"v":"root","kids":[{"v":` + ph(0) + `},{"kids":[{"v":[` + ph(1) + `]}]}]}`, 2},
		// CycA is looked up first, while CycB is still unknown.
		{"cache order", []any{CycA{}, CycB{A: &CycA{X: b0, B: &CycB{}}}}, `[{},{"a":{"b":{},"x":` + ph(0) + `}}]`, 1},
		{"no binary struct unchanged", Deep{}, stdJSON(t, Deep{}), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, atts := mustEncode(t, tc.v)
			if want := "[" + tc.want + "]"; got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
			if len(atts) != tc.natts {
				t.Errorf("attachments = %d, want %d", len(atts), tc.natts)
			}
			for i, a := range atts {
				if len(a) != 1 || int(a[0]) != i {
					t.Errorf("attachment %d = %v", i, a)
				}
			}
		})
	}
	if !holdsAny(reflect.TypeFor[CycB]()) || !holdsAny(reflect.TypeFor[CycA]()) || holdsAny(reflect.TypeFor[Inner]().Field(1).Type) {
		t.Error("holdsAny wrong")
	}
}

func TestDecodeEvent(t *testing.T) {
	a0 := []byte{7}
	atts := [][]byte{a0}
	tests := []struct {
		data, name string
		atts       [][]byte
		args       []any
	}{
		{`["echo",{"a":1}]`, `"echo"`, nil, []any{raw(`{"a":1}`)}},
		{` [ "e" , 1 ,"x" ] `, `"e"`, nil, []any{raw(`1`), raw(`"x"`)}},
		{`["only"]`, `"only"`, nil, []any{}},
		{`[42,"numeric"]`, `42`, nil, []any{raw(`"numeric"`)}},
		{`[-1.5e3]`, `-1.5e3`, nil, []any{}},
		{`["a\"b",null]`, `"a\"b"`, nil, []any{raw(`null`)}},
		{`["up",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":0}}]`, `"up"`, atts,
			[]any{a0, map[string]any{"x": a0}}},
		{`["many",1,2,3,4,5,6,7,8,9,10]`, `"many"`, nil,
			[]any{raw(`1`), raw(`2`), raw(`3`), raw(`4`), raw(`5`), raw(`6`), raw(`7`), raw(`8`), raw(`9`), raw(`10`)}},
	}
	for _, tc := range tests {
		for _, dst := range [][]any{nil, make([]any, 0, 2)} {
			name, args, err := DecodeEvent(raw(tc.data), tc.atts, dst)
			if err != nil {
				t.Fatalf("DecodeEvent(%s): %v", tc.data, err)
			}
			if string(name) != tc.name || !reflect.DeepEqual(args, tc.args) {
				t.Fatalf("DecodeEvent(%s) = %s, %#v; want %s, %#v", tc.data, name, args, tc.name, tc.args)
			}
			if len(args) > 0 && len(args) <= cap(dst) && &args[0] != &dst[:1][0] {
				t.Fatalf("DecodeEvent(%s): arguments not stored in dst", tc.data)
			}
		}
	}
}

func TestDecodeEventInvalid(t *testing.T) {
	for _, data := range []string{
		``, ` `, `[]`, ` [ ] `, `{"a":1}`, `"e"`, `[{"a":1}]`, `[null,1]`, `[true]`, `[["e"]]`,
		`[{"_placeholder":true,"num":0}]`, `["e",`, `["e" 1]`, `["e"] x`, `["e",{"_placeholder":true,"num":3}]`,
	} {
		if name, args, err := DecodeEvent(raw(data), [][]byte{{1}}, nil); !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("DecodeEvent(%s) = %s, %#v, %v; want an ErrInvalidPacket", data, name, args, err)
		}
	}
}

func TestDecodeEventAllocations(t *testing.T) {
	data := raw(`["echo",{"user":"bob","text":"hello"}]`)
	dst := make([]any, 0, 2)
	// One box for the argument; none for the name, none for the slice.
	if n := testing.AllocsPerRun(100, func() { _, _, _ = DecodeEvent(data, nil, dst) }); n != 1 {
		t.Errorf("DecodeEvent with room in dst: %v allocations, want 1", n)
	}
	// Without dst, one more for the arguments' slice.
	if n := testing.AllocsPerRun(100, func() { _, _, _ = DecodeEvent(data, nil, nil) }); n != 2 {
		t.Errorf("DecodeEvent without dst: %v allocations, want 2", n)
	}
}

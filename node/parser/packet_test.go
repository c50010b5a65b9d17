package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// specPackets are the examples of the Socket.IO v5 specification and the
// official test suite, with their exact wire form.
var specPackets = []struct {
	wire string
	p    Packet
}{
	{"0", Packet{Type: Connect, Nsp: "/"}},
	{`0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, Packet{Type: Connect, Nsp: "/admin", Data: raw(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}},
	{`0{"token":"123"}`, Packet{Type: Connect, Nsp: "/", Data: raw(`{"token":"123"}`)}},
	{`0/custom,{"token":"abc"}`, Packet{Type: Connect, Nsp: "/custom", Data: raw(`{"token":"abc"}`)}},
	{"0/custom,", Packet{Type: Connect, Nsp: "/custom"}},
	{`4{"message":"Not authorized"}`, Packet{Type: ConnectError, Nsp: "/", Data: raw(`{"message":"Not authorized"}`)}},
	{`4/random,{"message":"Invalid namespace"}`, Packet{Type: ConnectError, Nsp: "/random", Data: raw(`{"message":"Invalid namespace"}`)}},
	{`4"Not authorized"`, Packet{Type: ConnectError, Nsp: "/", Data: raw(`"Not authorized"`)}},
	{`2["foo"]`, Packet{Type: Event, Nsp: "/", Data: raw(`["foo"]`)}},
	{`2/admin,["bar"]`, Packet{Type: Event, Nsp: "/admin", Data: raw(`["bar"]`)}},
	{`212["foo"]`, Packet{Type: Event, Nsp: "/", ID: 12, HasID: true, Data: raw(`["foo"]`)}},
	{`2/admin,1["tellme"]`, Packet{Type: Event, Nsp: "/admin", ID: 1, HasID: true, Data: raw(`["tellme"]`)}},
	{`2["message",1,"2",{"3":[true]}]`, Packet{Type: Event, Nsp: "/", Data: raw(`["message",1,"2",{"3":[true]}]`)}},
	{`2456["message-with-ack",1,"2",{"3":[false]}]`, Packet{Type: Event, Nsp: "/", ID: 456, HasID: true, Data: raw(`["message-with-ack",1,"2",{"3":[false]}]`)}},
	{`2[42,"numeric event"]`, Packet{Type: Event, Nsp: "/", Data: raw(`[42,"numeric event"]`)}},
	{`3/admin,13["bar"]`, Packet{Type: Ack, Nsp: "/admin", ID: 13, HasID: true, Data: raw(`["bar"]`)}},
	{`3456[1,"2",{"3":[false]}]`, Packet{Type: Ack, Nsp: "/", ID: 456, HasID: true, Data: raw(`[1,"2",{"3":[false]}]`)}},
	{`31[]`, Packet{Type: Ack, Nsp: "/", ID: 1, HasID: true, Data: raw(`[]`)}},
	{"1", Packet{Type: Disconnect, Nsp: "/"}},
	{"1/admin,", Packet{Type: Disconnect, Nsp: "/admin"}},
	{`51-["baz",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryEvent, Nsp: "/", Data: raw(`["baz",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{1, 2, 3}}}},
	{`52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, Packet{Type: BinaryEvent, Nsp: "/admin", Data: raw(`["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: [][]byte{{1}, {2}}}},
	{`52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, Packet{Type: BinaryEvent, Nsp: "/", ID: 789, HasID: true, Data: raw(`["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: [][]byte{{1, 2, 3}, {4, 5, 6}}}},
	{`61-15["bar",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryAck, Nsp: "/", ID: 15, HasID: true, Data: raw(`["bar",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{9}}}},
	{`61-/admin,1[{"_placeholder":true,"num":0}]`, Packet{Type: BinaryAck, Nsp: "/admin", ID: 1, HasID: true, Data: raw(`[{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{}}}},
	{`62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, Packet{Type: BinaryAck, Nsp: "/", ID: 789, HasID: true, Data: raw(`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Attachments: [][]byte{{1, 2, 3}, {4, 5, 6}}}},
}

// decodeAll feeds the text form and the attachments of one packet.
func decodeAll(t testing.TB, d *Decoder, wire []byte, atts [][]byte) (*Packet, error) {
	t.Helper()
	p, err := d.Add(wire, false)
	if err != nil || p != nil {
		if len(atts) > 0 && err == nil {
			t.Fatalf("Add(%q) completed before its %d attachments", wire, len(atts))
		}
		return p, err
	}
	for i, a := range atts {
		p, err = d.Add(a, true)
		if err != nil {
			return nil, err
		}
		if (p != nil) != (i == len(atts)-1) {
			t.Fatalf("Add(attachment %d of %d) returned packet=%v", i+1, len(atts), p != nil)
		}
	}
	return p, nil
}

func TestEncodeSpec(t *testing.T) {
	for _, tc := range specPackets {
		p := tc.p
		if got := string(Encode(&p)); got != tc.wire {
			t.Errorf("Encode(%+v) = %q, want %q", tc.p, got, tc.wire)
		}
	}
}

func TestDecodeSpec(t *testing.T) {
	for _, tc := range specPackets {
		d := NewDecoder(0)
		got, err := decodeAll(t, d, []byte(tc.wire), tc.p.Attachments)
		if err != nil {
			t.Errorf("decode %q: %v", tc.wire, err)
			continue
		}
		if got == nil {
			t.Errorf("decode %q: no packet", tc.wire)
			continue
		}
		if !packetsEqual(got, &tc.p) {
			t.Errorf("decode %q = %+v, want %+v", tc.wire, *got, tc.p)
		}
	}
}

func packetsEqual(a, b *Packet) bool {
	if a.Type != b.Type || a.Nsp != b.Nsp || a.HasID != b.HasID || a.ID != b.ID ||
		!bytes.Equal(a.Data, b.Data) || (a.Data == nil) != (b.Data == nil) ||
		len(a.Attachments) != len(b.Attachments) {
		return false
	}
	for i := range a.Attachments {
		if !bytes.Equal(a.Attachments[i], b.Attachments[i]) {
			return false
		}
	}
	return true
}

// Forms the reference accepts that do not re-encode to the same bytes.
func TestDecodeLenient(t *testing.T) {
	tests := []struct {
		wire string
		want Packet
	}{
		{"0/custom", Packet{Type: Connect, Nsp: "/custom"}},
		{"1/custom", Packet{Type: Disconnect, Nsp: "/custom"}},
		{`0/,{}`, Packet{Type: Connect, Nsp: "/", Data: raw(`{}`)}},
		{`2007["a"]`, Packet{Type: Event, Nsp: "/", ID: 7, HasID: true, Data: raw(`["a"]`)}},
		{`2["a"] `, Packet{Type: Event, Nsp: "/", Data: raw(`["a"] `)}},
		{`2[ "a" ]`, Packet{Type: Event, Nsp: "/", Data: raw(`[ "a" ]`)}},
		{`2/a{b,["x"]`, Packet{Type: Event, Nsp: "/a{b", Data: raw(`["x"]`)}},
		{`0/admin{}`, Packet{Type: Connect, Nsp: "/admin{}"}},
		{`29007199254740991["a"]`, Packet{Type: Event, Nsp: "/", ID: 1<<53 - 1, HasID: true, Data: raw(`["a"]`)}},
		{`3`, Packet{Type: Ack, Nsp: "/"}},
		// "42{}" reaches this layer as "2{}" (invalid) only after Engine.IO
		// strips its '4'; as a Socket.IO packet it is CONNECT_ERROR, id 2.
		{`42{}`, Packet{Type: ConnectError, Nsp: "/", ID: 2, HasID: true, Data: raw(`{}`)}},
		{`312`, Packet{Type: Ack, Nsp: "/", ID: 12, HasID: true}},
		{`4`, Packet{Type: ConnectError, Nsp: "/"}},
		{`11`, Packet{Type: Disconnect, Nsp: "/", ID: 1, HasID: true}},
		{`2[-1.5e3]`, Packet{Type: Event, Nsp: "/", Data: raw(`[-1.5e3]`)}},
		{`2["\u0063onnected"]`, Packet{Type: Event, Nsp: "/", Data: raw(`["\u0063onnected"]`)}},
		{`2["héllo ✓"]`, Packet{Type: Event, Nsp: "/", Data: raw(`["héllo ✓"]`)}},
		{`2["connect "]`, Packet{Type: Event, Nsp: "/", Data: raw(`["connect "]`)}},
	}
	for _, tc := range tests {
		got, err := NewDecoder(0).Add([]byte(tc.wire), false)
		if err != nil || got == nil {
			t.Errorf("Add(%q) = %v, %v", tc.wire, got, err)
			continue
		}
		if !packetsEqual(got, &tc.want) {
			t.Errorf("Add(%q) = %+v, want %+v", tc.wire, *got, tc.want)
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		wire, why string
	}{
		{"", "empty"},
		{" ", "whitespace type"},
		{"7", "unknown type"},
		{"a", "unknown type"},
		{"abc", "unknown type"},
		{"-1", "unknown type"},
		{"4abc", "CONNECT_ERROR bad payload (official suite)"},
		{"2{}", "event payload object (official suite)"},
		{`2abc["message-with-ack",1]`, "invalid ack id (official suite)"},
		{"2", "event without payload"},
		{"2/admin,", "event without payload"},
		{"212", "event without payload"},
		{"2[]", "event empty array"},
		{"2[ ]", "event empty array"},
		{`2[{}]`, "event name object"},
		{`2[null]`, "event name null"},
		{`2[true]`, "event name bool"},
		{`2[["a"]]`, "event name array"},
		{`2["connect"]`, "reserved"},
		{`2["connect_error"]`, "reserved"},
		{`2["disconnect"]`, "reserved"},
		{`2["disconnecting"]`, "reserved"},
		{`2["newListener"]`, "reserved"},
		{`2["removeListener"]`, "reserved"},
		{`2[ "disconnect",1]`, "reserved after whitespace"},
		{`2["\u0063onnect"]`, "reserved, escaped"},
		{`2/admin,1["disconnect"]`, "reserved with nsp and id"},
		{`2["a"`, "truncated JSON"},
		{`2["a"]]`, "trailing garbage"},
		{`2["a"]x`, "trailing garbage"},
		{`2 ["a"]`, "leading whitespace"},
		{"2\n[\"a\"]", "leading whitespace"},
		{`2"a"`, "event string payload"},
		{`2,["a"]`, "comma without namespace"},
		{`2/admin,abc`, "invalid json after nsp"},
		{`3{}`, "ack object"},
		{`3"a"`, "ack string"},
		{`3null`, "ack null"},
		{`0[]`, "connect array"},
		{`0"a"`, "connect string"},
		{`0null`, "connect null"},
		{`01`, "connect... id then nothing is fine; see below"},
		{`1{}`, "disconnect with payload"},
		{`1/admin,{}`, "disconnect with payload"},
		{`1[]`, "disconnect with payload"},
		{`4[]`, "connect_error array"},
		{`41`, "connect_error id only is fine; see below"},
		{`4null`, "connect_error null"},
		{`4true`, "connect_error bool"},
		{`41.5`, "connect_error number after id"},
		{`5-["a",{"_placeholder":true,"num":0}]`, "binary without count"},
		{`50-["a"]`, "binary with zero attachments"},
		{`51["a",{"_placeholder":true,"num":0}]`, "binary without dash"},
		{`51`, "binary count without dash"},
		{`5`, "binary without count"},
		{`5a-["a"]`, "binary non-digit count"},
		{`5 1-["a"]`, "binary whitespace count"},
		{`511-["a"]`, "too many attachments"},
		{`599999999999999999999999999999-["a"]`, "attachment count overflow"},
		{`61-{}`, "binary ack object"},
		{`51-`, "binary event without payload"},
		{`51-["connect",{"_placeholder":true,"num":0}]`, "binary reserved"},
		{`51-[{"_placeholder":true,"num":0}]`, "binary event name placeholder"},
		{`29007199254740992["a"]`, "ack id > 2^53-1"},
		{`2999999999999999999999999999["a"]`, "ack id overflow"},
		{"2[\"a\xff\"]", "invalid UTF-8"},
		{"0/\xff,", "invalid UTF-8 namespace"},
	}
	for _, tc := range tests {
		if tc.wire == "01" || tc.wire == "41" {
			continue // listed for completeness; valid, see TestDecodeLenient
		}
		p, err := NewDecoder(0).Add([]byte(tc.wire), false)
		if err == nil {
			t.Errorf("Add(%q) (%s) = %+v, want error", tc.wire, tc.why, p)
			continue
		}
		if !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("Add(%q) error %v does not wrap ErrInvalidPacket", tc.wire, err)
		}
		if p != nil {
			t.Errorf("Add(%q) returned a packet with an error", tc.wire)
		}
	}
}

func TestDecodeIDOnly(t *testing.T) {
	// The reference accepts an ack id on any type.
	for _, wire := range []string{"01", "41", "0/a,5"} {
		p, err := NewDecoder(0).Add([]byte(wire), false)
		if err != nil || p == nil || !p.HasID {
			t.Errorf("Add(%q) = %+v, %v; want packet with id", wire, p, err)
		}
	}
}

func TestDecodeErrorMessages(t *testing.T) {
	tests := []struct{ wire, substr string }{
		{"7", "unknown packet type"},
		{`511-["a"]`, "too many attachments"},
		{`50-["a"]`, "illegal attachments"},
		{`51["a"]`, "illegal attachments"},
		{`2["disconnect"]`, "reserved"},
		{`2{}`, "must be an array"},
		{`1{}`, "DISCONNECT must not carry a payload"},
		{`2abc`, "not valid JSON"},
		{`29007199254740992["a"]`, "ack id too large"},
	}
	for _, tc := range tests {
		_, err := NewDecoder(0).Add([]byte(tc.wire), false)
		if err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("Add(%q) error = %v, want it to mention %q", tc.wire, err, tc.substr)
		}
	}
}

func TestDecoderMaxAttachments(t *testing.T) {
	wire := []byte(`53-["a"]`)
	if _, err := NewDecoder(2).Add(wire, false); err == nil {
		t.Fatal("3 attachments accepted with limit 2")
	}
	if p, err := NewDecoder(3).Add(wire, false); err != nil || p != nil {
		t.Fatalf("3 attachments with limit 3: %v, %v", p, err)
	}
	// Default (<= 0 and zero value) is 10.
	for _, d := range []*Decoder{NewDecoder(0), NewDecoder(-5), {}} {
		if _, err := d.Add([]byte(`510-["a"]`), false); err != nil {
			t.Errorf("10 attachments refused by default decoder: %v", err)
		}
	}
	huge := NewDecoder(math.MaxInt)
	if _, err := huge.Add([]byte(`5999999999999999999999999999999999-["a"]`), false); err == nil {
		t.Error("overflowing attachment count accepted")
	}
	var zero Decoder
	if _, err := zero.Add([]byte(`511-["a"]`), false); err == nil {
		t.Error("11 attachments accepted by zero Decoder")
	}
}

func TestDecoderState(t *testing.T) {
	t.Run("binary without pending packet", func(t *testing.T) {
		d := NewDecoder(0)
		if _, err := d.Add([]byte{1, 2}, true); !errors.Is(err, ErrInvalidPacket) {
			t.Fatalf("err = %v", err)
		}
		// after a complete packet too
		d = NewDecoder(0)
		if p, err := d.Add([]byte(`2["a"]`), false); err != nil || p == nil {
			t.Fatal(p, err)
		}
		if _, err := d.Add([]byte{1}, true); err == nil {
			t.Fatal("binary accepted after a complete text packet")
		}
	})
	t.Run("text while attachments awaited", func(t *testing.T) {
		d := NewDecoder(0)
		if p, err := d.Add([]byte(`52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), false); err != nil || p != nil {
			t.Fatal(p, err)
		}
		if p, err := d.Add([]byte{1}, true); err != nil || p != nil {
			t.Fatal(p, err)
		}
		_, err := d.Add([]byte(`2["b"]`), false)
		if !errors.Is(err, ErrInvalidPacket) || !strings.Contains(err.Error(), "1 attachment") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("sequence of packets", func(t *testing.T) {
		d := NewDecoder(0)
		msgs := []struct {
			data   string
			binary bool
			done   bool
		}{
			{`2["a"]`, false, true},
			{`51-["b",{"_placeholder":true,"num":0}]`, false, false},
			{"\x01", true, true},
			{`3/x,1[]`, false, true},
			{`62-3[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`, false, false},
			{"\x02", true, false},
			{"\x03", true, true},
		}
		for i, m := range msgs {
			p, err := d.Add([]byte(m.data), m.binary)
			if err != nil || (p != nil) != m.done {
				t.Fatalf("msg %d: %+v, %v", i, p, err)
			}
		}
	})
	t.Run("copies input", func(t *testing.T) {
		d := NewDecoder(0)
		buf := []byte(`51-/nsp,["b",{"_placeholder":true,"num":0}]`)
		if _, err := d.Add(buf, false); err != nil {
			t.Fatal(err)
		}
		for i := range buf {
			buf[i] = 'X'
		}
		att := []byte{1, 2, 3}
		p, err := d.Add(att, true)
		if err != nil || p == nil {
			t.Fatal(p, err)
		}
		att[0] = 9
		if p.Nsp != "/nsp" || string(p.Data) != `["b",{"_placeholder":true,"num":0}]` || !bytes.Equal(p.Attachments[0], []byte{1, 2, 3}) {
			t.Fatalf("packet aliases caller buffers: %+v", p)
		}
	})
	t.Run("empty and nil attachments", func(t *testing.T) {
		d := NewDecoder(0)
		if _, err := d.Add([]byte(`52-["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), false); err != nil {
			t.Fatal(err)
		}
		d.Add(nil, true)
		p, err := d.Add([]byte{}, true)
		if err != nil || p == nil || len(p.Attachments) != 2 || p.Attachments[0] == nil || len(p.Attachments[1]) != 0 {
			t.Fatalf("%+v, %v", p, err)
		}
	})
}

func TestEncode(t *testing.T) {
	tests := []struct {
		p    Packet
		want string
	}{
		{Packet{Type: Connect}, "0"},                                         // empty Nsp means "/"
		{Packet{Type: Event, Nsp: "/", ID: 5, Data: raw(`["a"]`)}, `2["a"]`}, // ID ignored without HasID
		{Packet{Type: Event, Nsp: "/", ID: 0, HasID: true, Data: raw(`["a"]`)}, `20["a"]`},
		{Packet{Type: Ack, Nsp: "/", ID: 1<<64 - 1, HasID: true, Data: raw(`[]`)}, `318446744073709551615[]`},
		{Packet{Type: Event, Nsp: "/", Data: raw(`["a"]`), Attachments: [][]byte{{1}}}, `2["a"]`}, // count only for binary types
		{Packet{Type: BinaryEvent, Nsp: "/", Data: raw(`["a"]`)}, `50-["a"]`},
		{Packet{Type: BinaryEvent, Nsp: "/n", HasID: true, ID: 3, Data: raw(`["a"]`), Attachments: make([][]byte, 12)}, `512-/n,3["a"]`},
		{Packet{Type: ConnectError, Nsp: "/random", Data: raw(`{"message":"Invalid namespace"}`)}, `4/random,{"message":"Invalid namespace"}`},
		{Packet{Type: Disconnect, Nsp: "/admin"}, "1/admin,"},
	}
	for _, tc := range tests {
		if got := string(Encode(&tc.p)); got != tc.want {
			t.Errorf("Encode(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestTypeString(t *testing.T) {
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}
	for i, w := range want {
		if got := Type(i).String(); got != w {
			t.Errorf("Type(%d) = %q, want %q", i, got, w)
		}
	}
	if got := Type(9).String(); got != "UNKNOWN(9)" {
		t.Errorf("Type(9) = %q", got)
	}
}

func TestIsReservedEvent(t *testing.T) {
	for _, n := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if !IsReservedEvent(n) || !isReservedBytes([]byte(n)) {
			t.Errorf("%q not reserved", n)
		}
	}
	for _, n := range []string{"", "Connect", "message", "connection", "error", "ping", "disconnect "} {
		if IsReservedEvent(n) || isReservedBytes([]byte(n)) {
			t.Errorf("%q reserved", n)
		}
	}
}

func TestDecodedPacketEqualsSpecStruct(t *testing.T) {
	// reflect.DeepEqual guard on a full decode (catches stray fields).
	p, err := NewDecoder(0).Add([]byte(`2/admin,1["tellme"]`), false)
	if err != nil {
		t.Fatal(err)
	}
	want := &Packet{Type: Event, Nsp: "/admin", ID: 1, HasID: true, Data: raw(`["tellme"]`)}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("%+v != %+v", p, want)
	}
}

func TestAddToMatchesSpec(t *testing.T) {
	for _, tc := range specPackets {
		d := NewDecoder(0)
		var p Packet
		done, err := d.AddTo(&p, []byte(tc.wire), false)
		for i, a := range tc.p.Attachments {
			if err != nil || done {
				t.Fatalf("AddTo(%q) before attachment %d: %v, %v", tc.wire, i, done, err)
			}
			done, err = d.AddTo(&p, a, true)
		}
		if err != nil || !done {
			t.Fatalf("AddTo(%q) = %v, %v", tc.wire, done, err)
		}
		if !packetsEqual(&p, &tc.p) {
			t.Errorf("AddTo(%q) = %+v, want %+v", tc.wire, p, tc.p)
		}
	}
}

func TestAddToOverwritesPacket(t *testing.T) {
	d := NewDecoder(0)
	p := Packet{Type: BinaryAck, Nsp: "/old", ID: 9, HasID: true, Data: raw(`[1]`), Attachments: [][]byte{{1}}}
	if done, err := d.AddTo(&p, []byte(`2["a"]`), false); err != nil || !done {
		t.Fatal(done, err)
	}
	if want := (Packet{Type: Event, Nsp: "/", Data: raw(`["a"]`)}); !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v, want %+v", p, want)
	}
}

func TestAddToAllocatesOnlyThePayload(t *testing.T) {
	d := NewDecoder(0)
	msg := []byte(`2/chat,12["chat message",{"text":"hi"}]`)
	var p Packet
	if n := testing.AllocsPerRun(100, func() {
		if done, err := d.AddTo(&p, msg, false); err != nil || !done {
			t.Fatal(done, err)
		}
	}); n != 1 {
		t.Fatalf("AddTo: %v allocations, want 1 (the payload copy)", n)
	}
}

func TestEncodePacket(t *testing.T) {
	bin := []byte{1, 2}
	tests := []struct {
		name    string
		p       Packet
		values  []any
		reserve int
		want    string
		atts    [][]byte
	}{
		{"event", Packet{Type: Event, Nsp: "/"}, []any{"chat", "hi"}, 1, `2["chat","hi"]`, nil},
		{"event nsp id", Packet{Type: Event, Nsp: "/admin", ID: 7, HasID: true}, []any{"e", raw(`{"a":1}`)}, 1, `2/admin,7["e",{"a":1}]`, nil},
		{"ack no values", Packet{Type: Ack, ID: 3, HasID: true}, nil, 1, `33[]`, nil},
		{"ack raw", Packet{Type: Ack, Nsp: "/", ID: 1, HasID: true}, []any{raw(`{"user":"bob"}`)}, 1, `31[{"user":"bob"}]`, nil},
		{"no reserve", Packet{Type: Ack, ID: 1, HasID: true}, []any{1}, 0, `31[1]`, nil},
		{"reserve 3", Packet{Type: Event}, []any{"e"}, 3, `2["e"]`, nil},
		{"ignores Data and Attachments", Packet{Type: Event, Data: raw(`["x"]`), Attachments: [][]byte{{9}}}, []any{"e"}, 1, `2["e"]`, nil},
		{"binary event", Packet{Type: Event, Nsp: "/admin", ID: 789, HasID: true}, []any{"up", bin, map[string]any{"b": bin}}, 1,
			`52-/admin,789["up",{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]`, [][]byte{bin, bin}},
		{"binary ack", Packet{Type: Ack, ID: 15, HasID: true}, []any{bin}, 1, `61-15[{"_placeholder":true,"num":0}]`, [][]byte{bin}},
		{"BinaryEvent without binary", Packet{Type: BinaryEvent}, []any{"e"}, 1, `2["e"]`, nil},
		{"BinaryAck without binary", Packet{Type: BinaryAck, ID: 2, HasID: true}, []any{}, 1, `32[]`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, atts, err := EncodePacket(&tc.p, tc.values, tc.reserve)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b[:tc.reserve], make([]byte, tc.reserve)) || string(b[tc.reserve:]) != tc.want {
				t.Fatalf("got %q, want %d zero bytes then %q", b, tc.reserve, tc.want)
			}
			if !reflect.DeepEqual(atts, tc.atts) {
				t.Fatalf("attachments %v, want %v", atts, tc.atts)
			}
			// Encode of the same payload writes the same text.
			data, atts2, _ := EncodeData(tc.values)
			p := Packet{Type: tc.p.Type, Nsp: tc.p.Nsp, ID: tc.p.ID, HasID: tc.p.HasID, Data: data, Attachments: atts2}
			if p.Type == BinaryEvent || p.Type == BinaryAck {
				p.Type -= BinaryEvent - Event
			}
			if len(atts2) > 0 {
				p.Type += BinaryEvent - Event
			}
			if enc := string(Encode(&p)); enc != tc.want {
				t.Fatalf("Encode writes %q", enc)
			}
		})
	}
	p := &Packet{Type: Ack, Nsp: "/chat", ID: 12, HasID: true}
	values := []any{raw(`{"user":"bob","text":"hello"}`)}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = EncodePacket(p, values, 1) }); n != 1 {
		t.Errorf("EncodePacket without binary: %v allocations, want 1", n)
	}
}

func TestEncodePacketErrors(t *testing.T) {
	if _, _, err := EncodePacket(&Packet{Type: Connect}, []any{[]byte{1}}, 1); err == nil {
		t.Error("binary data in a CONNECT packet accepted")
	}
	if _, _, err := EncodePacket(&Packet{Type: Event}, []any{"e", math.NaN()}, 1); err == nil {
		t.Error("NaN accepted")
	}
}

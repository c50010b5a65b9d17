package main

import (
	"encoding/json"
	"strings"
	"testing"
)

var classifyTests = []struct {
	in   string
	kind frameKind
	body string
}{
	{`0{"sid":"a"}`, kindOpen, `{"sid":"a"}`},
	{"1", kindClose, ""},
	{"2", kindPing, ""},
	{"2probe", kindPing, "probe"},
	{"6", kindNoop, ""},
	{`40{"sid":"x"}`, kindConnect, `{"sid":"x"}`},
	{"41", kindDisconnect, ""},
	{`42["a"]`, kindEvent, `["a"]`},
	{`4212["a"]`, kindEvent, `12["a"]`},
	{`4307[1]`, kindAck, `07[1]`},
	{`44{"message":"no"}`, kindConnectError, `{"message":"no"}`},
	{`42/admin,["a"]`, kindOther, `/admin,["a"]`},
	{`451-["a",{"_placeholder":true,"num":0}]`, kindOther, `1-["a",{"_placeholder":true,"num":0}]`},
	{"4", kindOther, ""},
	{"", kindOther, ""},
	{"9x", kindOther, "x"},
	{"3", kindOther, ""},
}

func TestClassify(t *testing.T) {
	for _, tt := range classifyTests {
		k, body := classify([]byte(tt.in))
		if k != tt.kind || string(body) != tt.body {
			t.Errorf("classify(%q) = %d, %q; want %d, %q", tt.in, k, body, tt.kind, tt.body)
		}
	}
}

func TestSplitAckID(t *testing.T) {
	tests := []struct {
		in      string
		id      uint64
		payload string
		ok      bool
	}{
		{`0[{"ok":true}]`, 0, `[{"ok":true}]`, true},
		{`12345[]`, 12345, `[]`, true},
		{`18446744073709551615[]`, 0, "", false}, // more than 18 digits
		{`[1]`, 0, "", false},                    // no id
		{`12`, 0, "", false},                     // no payload
		{`12{}`, 0, "", false},                   // payload not an array
		{``, 0, "", false},
	}
	for _, tt := range tests {
		id, payload, ok := splitAckID([]byte(tt.in))
		if id != tt.id || string(payload) != tt.payload || ok != tt.ok {
			t.Errorf("splitAckID(%q) = %d, %q, %v; want %d, %q, %v", tt.in, id, payload, ok, tt.id, tt.payload, tt.ok)
		}
	}
}

func TestParseRoomMessage(t *testing.T) {
	tests := []struct {
		in     string
		t, seq int64
		ok     bool
	}{
		{`["room message",{"room":"r","from":"abc","msg":{"t":123,"seq":4}}]`, 123, 4, true},
		// keys reordered (a node that re-encodes objects with sorted keys)
		{`["room message",{"from":"abc","msg":{"p":"xx","seq":4,"t":123},"room":"r"}]`, 123, 4, true},
		// numbers re-encoded as floats
		{`["room message",{"room":"r","from":"a","msg":{"t":1.234e+06,"seq":7.0}}]`, 1234000, 7, true},
		{`["room message",{"room":"r","from":"a","msg":{"t": 5,"seq": 6}}]`, 5, 6, true},
		// a room whose name looks like the keys does not confuse the parser
		{`["room message",{"room":"\"t\":9","from":"a","msg":{"t":1,"seq":2}}]`, 1, 2, true},
		{`["chat message",{"msg":{"t":1,"seq":2}}]`, 0, 0, false},
		{`["room message",{"room":"r","from":"a"}]`, 0, 0, false},
		{`["room message",{"room":"r","from":"a","msg":{"seq":2}}]`, 0, 0, false},
		{`["room message",{"room":"r","from":"a","msg":{"t":"x","seq":2}}]`, 0, 0, false},
		{`["room message",{"room":"r","from":"a","msg":{"t":99999999999999999999,"seq":2}}]`, 0, 0, false},
		{`["room message",{"room":"r","from":"a","msg":null}]`, 0, 0, false},
		// the fast path's shape with something else after t falls back
		{`["room message",{"room":"r","from":"a","msg":{"t":1,"p":"x","seq":2}}]`, 1, 2, true},
		{`["room message",{"room":"r","from":"a","msg":{"t":1,"seq":"x"}}]`, 0, 0, false},
		// {"t": not under "msg" is not taken for the msg object
		{`["room message",{"room":"r","x":{"t":5,"seq":6},"msg":{"seq":2,"t":1}}]`, 1, 2, true},
		{`["room message",`, 0, 0, false},
		{`["room message",{`, 0, 0, false},
		{``, 0, 0, false},
	}
	for _, tt := range tests {
		ts, seq, ok := parseRoomMessage([]byte(tt.in))
		if ts != tt.t || seq != tt.seq || ok != tt.ok {
			t.Errorf("parseRoomMessage(%s) = %d, %d, %v; want %d, %d, %v", tt.in, ts, seq, ok, tt.t, tt.seq, tt.ok)
		}
	}
}

// TestParseMsgInOrder checks that the fast path takes the shape the chat
// nodes relay, and only that.
func TestParseMsgInOrder(t *testing.T) {
	tests := []struct {
		in     string
		t, seq int64
		ok     bool
	}{
		{`["room message",{"room":"r","from":"abc","msg":{"t":123,"seq":4}}]`, 123, 4, true},
		{`["room message",{"room":"r","from":"abc","msg":{"t":123,"seq":4,"p":"xx"}}]`, 123, 4, true},
		{`["room message",{"room":"r","from":"a","msg":{"t": 5,"seq": 6}}]`, 5, 6, true},
		{`["room message",{"room":"r","from":"a","msg":{"t":1.5e3,"seq":7.0}}]`, 1500, 7, true},
		{`["room message",{"from":"abc","msg":{"seq":4,"t":123},"room":"r"}]`, 0, 0, false},
		{`["room message",{"room":"r","from":"a","msg":{"t":1,"p":"x","seq":2}}]`, 0, 0, false},
		{`["room message",{"room":"r","x":{"t":5,"seq":6},"msg":{"seq":2,"t":1}}]`, 0, 0, false},
		{`["room message",{"t":5,"seq":6}]`, 0, 0, false},
		{`["room message",{"room":"r","from":"a","msg":{"t":1,"seq":"x"}}]`, 0, 0, false},
		{`["room message",`, 0, 0, false},
	}
	for _, tt := range tests {
		ts, seq, ok := parseMsgInOrder([]byte(tt.in))
		if ts != tt.t || seq != tt.seq || ok != tt.ok {
			t.Errorf("parseMsgInOrder(%s) = %d, %d, %v; want %d, %d, %v", tt.in, ts, seq, ok, tt.t, tt.seq, tt.ok)
		}
	}
}

func TestScanInt(t *testing.T) {
	tests := []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true},
		{"42,", 42, true},
		{"-17}", -17, true},
		{"  8", 8, true},
		{"1.5e3", 1500, true},
		{"123456789012345678", 123456789012345678, true},
		{"1234567890123456789", 0, false},
		{"-", 0, false},
		{"x", 0, false},
		{"", 0, false},
		{"1e400", 0, false},
	}
	for _, tt := range tests {
		v, ok := scanInt([]byte(tt.in))
		if v != tt.v || ok != tt.ok {
			t.Errorf("scanInt(%q) = %d, %v; want %d, %v", tt.in, v, ok, tt.v, tt.ok)
		}
	}
}

// TestBuiltFramesRoundTrip checks that the frames the generator sends are
// valid Socket.IO EVENT packets and that a broadcast built from the sent
// message parses back to the same time and sequence number.
func TestBuiltFramesRoundTrip(t *testing.T) {
	room := jsonString(`we"ird\room`)
	frame := appendRoomMessage(nil, 42, room, 987654321, 17, []byte("pad"))
	k, body := classify(frame)
	id, payload, ok := splitAckID(body)
	if k != kindEvent || !ok || id != 42 {
		t.Fatalf("room message frame %q: kind %d id %d ok %v", frame, k, id, ok)
	}
	var args []json.RawMessage
	if err := json.Unmarshal(payload, &args); err != nil || len(args) != 3 {
		t.Fatalf("room message payload %s: %v (%d args)", payload, err, len(args))
	}
	var name, gotRoom string
	_ = json.Unmarshal(args[0], &name)
	_ = json.Unmarshal(args[1], &gotRoom)
	if name != "room message" || gotRoom != `we"ird\room` {
		t.Fatalf("event %q room %q", name, gotRoom)
	}
	// What a chat node broadcasts for it, re-encoded with sorted keys.
	var msg map[string]any
	if err := json.Unmarshal(args[2], &msg); err != nil {
		t.Fatal(err)
	}
	bcast, _ := json.Marshal([]any{"room message", map[string]any{"room": gotRoom, "from": "sid", "msg": msg}})
	ts, seq, ok := parseRoomMessage(bcast)
	if !ok || ts != 987654321 || seq != 17 {
		t.Fatalf("parseRoomMessage(%s) = %d, %d, %v", bcast, ts, seq, ok)
	}

	for _, f := range []string{string(appendJoin(nil, 0, room)), string(appendEcho(nil, 3, jsonString("x")))} {
		k, body := classify([]byte(f))
		_, payload, ok := splitAckID(body)
		if k != kindEvent || !ok || !json.Valid(payload) {
			t.Errorf("frame %q is not a valid EVENT with ack id", f)
		}
	}
}

func TestParseOpen(t *testing.T) {
	h, err := parseOpen([]byte(`{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	if err != nil || h.SID != "abc" || h.PingInterval != 25000 || h.PingTimeout != 20000 {
		t.Fatalf("parseOpen = %+v, %v", h, err)
	}
	for _, bad := range []string{`{}`, `nope`, `{"sid":""}`} {
		if _, err := parseOpen([]byte(bad)); err == nil {
			t.Errorf("parseOpen(%q) accepted", bad)
		}
	}
}

func TestConnectErrorMessage(t *testing.T) {
	for in, want := range map[string]string{
		`{"message":"Invalid namespace"}`:               "Invalid namespace",
		`{"message":"nope","data":{"code":"REJECTED"}}`: "nope",
		`"old style"`:                        "old style",
		`garbage` + strings.Repeat("x", 300): "garbage" + strings.Repeat("x", 193),
	} {
		if got := connectErrorMessage([]byte(in)); got != want {
			t.Errorf("connectErrorMessage(%.20q) = %.20q; want %.20q", in, got, want)
		}
	}
}

// TestHotPathDoesNotAllocate guards the per-message cost of the readers
// and of the publisher.
func TestHotPathDoesNotAllocate(t *testing.T) {
	frame := []byte(`42["room message",{"room":"siobench","from":"Xy-12","msg":{"t":123456789,"seq":42}}]`)
	ack := []byte(`4317[{"ok":true}]`)
	buf := make([]byte, 0, 256)
	room := jsonString("siobench")
	allocs := testing.AllocsPerRun(100, func() {
		_, body := classify(frame)
		if _, _, ok := parseRoomMessage(body); !ok {
			t.Fatal("parse failed")
		}
		_, body = classify(ack)
		if _, p, ok := splitAckID(body); !ok || !ackOK(p) {
			t.Fatal("ack parse failed")
		}
		buf = appendRoomMessage(buf[:0], 17, room, 123456789, 42, nil)
	})
	if allocs != 0 {
		t.Fatalf("hot path allocates %.1f times per message", allocs)
	}
}

func BenchmarkParseRoomMessage(b *testing.B) {
	frame := []byte(`42["room message",{"room":"siobench","from":"Xy-12","msg":{"t":123456789,"seq":42}}]`)
	b.ReportAllocs()
	for b.Loop() {
		_, body := classify(frame)
		parseRoomMessage(body)
	}
}

package engineio

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

var decodePacketTests = []struct {
	in     string
	typ    packetType
	data   string
	binary bool
	err    bool
}{
	{in: "0", typ: ptOpen},
	{in: `0{"sid":"x"}`, typ: ptOpen, data: `{"sid":"x"}`},
	{in: "1", typ: ptClose},
	{in: "2", typ: ptPing},
	{in: "2probe", typ: ptPing, data: "probe"},
	{in: "3", typ: ptPong},
	{in: "3probe", typ: ptPong, data: "probe"},
	{in: "4", typ: ptMessage},
	{in: "4hello", typ: ptMessage, data: "hello"},
	{in: "4héllo €", typ: ptMessage, data: "héllo €"},
	{in: "5", typ: ptUpgrade},
	{in: "6", typ: ptNoop},
	{in: "bAQIDBA==", typ: ptMessage, data: "\x01\x02\x03\x04", binary: true},
	{in: "b", typ: ptMessage, data: "", binary: true},
	{in: "", err: true},
	{in: "7", err: true},
	{in: "9x", err: true},
	{in: "abc", err: true},
	{in: "/", err: true},
	{in: "b!!!!", err: true},
	{in: "bAQI", typ: ptMessage, data: "\x01\x02", binary: true},
	{in: "bAQ", typ: ptMessage, data: "\x01", binary: true},
	{in: "bAQ==", typ: ptMessage, data: "\x01", binary: true},
	{in: "bA", err: true},
	{in: "bAQ=x", err: true},
}

func TestDecodePacket(t *testing.T) {
	for _, tt := range decodePacketTests {
		var scratch []byte
		p, err := decodePacket([]byte(tt.in), &scratch)
		if tt.err {
			if !errors.Is(err, errParse) {
				t.Errorf("decodePacket(%q) err = %v, want errParse", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("decodePacket(%q): %v", tt.in, err)
			continue
		}
		if p.typ != tt.typ || string(p.data) != tt.data || p.binary != tt.binary {
			t.Errorf("decodePacket(%q) = {%v %q %v}, want {%v %q %v}", tt.in, p.typ, p.data, p.binary, tt.typ, tt.data, tt.binary)
		}
	}
}

func TestPacketTypeNames(t *testing.T) {
	want := []string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}
	for i, w := range want {
		if got := packetType(i).String(); got != w {
			t.Errorf("packetType(%d) = %q, want %q", i, got, w)
		}
	}
	if got := packetType(9).String(); got != "error" {
		t.Errorf("packetType(9) = %q", got)
	}
}

func TestAppendPacketRoundTrip(t *testing.T) {
	for _, tt := range decodePacketTests {
		if tt.err || (tt.binary && tt.in != "bAQIDBA==") {
			continue
		}
		got := appendPacket(nil, tt.typ, []byte(tt.data), tt.binary)
		if string(got) != tt.in {
			t.Errorf("appendPacket(%v, %q, %v) = %q, want %q", tt.typ, tt.data, tt.binary, got, tt.in)
		}
	}
}

func collectPayload(body string) ([]string, error) {
	var out []string
	var scratch []byte
	err := decodePayload([]byte(body), &scratch, func(p packet) bool {
		out = append(out, string(appendPacket(nil, p.typ, p.data, p.binary)))
		return true
	})
	return out, err
}

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "4hello", want: []string{"4hello"}},
		{in: "4hello\x1e2\x1e4world", want: []string{"4hello", "2", "4world"}},
		{in: "4test1\x1e4test2\x1e4test3", want: []string{"4test1", "4test2", "4test3"}},
		{in: "4hello\x1ebAQIDBA==", want: []string{"4hello", "bAQIDBA=="}},
		{in: "3", want: []string{"3"}},
		// engine.io-parser delivers the packets before a malformed one.
		{in: "4a\x1eabc\x1e4b", want: []string{"4a"}, err: true},
		{in: "", err: true},
		{in: "4a\x1e", want: []string{"4a"}, err: true},
		{in: "\x1e4a", err: true},
		{in: "4a\x1e\x1e4b", want: []string{"4a"}, err: true},
	}
	for _, tt := range tests {
		got, err := collectPayload(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("decodePayload(%q) err = %v, want err %v", tt.in, err, tt.err)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("decodePayload(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodePayloadStops(t *testing.T) {
	n := 0
	var scratch []byte
	err := decodePayload([]byte("4a\x1e4b\x1e4c"), &scratch, func(packet) bool { n++; return n < 2 })
	if err != nil || n != 2 {
		t.Fatalf("n = %d err = %v, want 2 packets then stop", n, err)
	}
}

func TestMessageEncoding(t *testing.T) {
	src := []byte("hello")
	m := NewTextMessage(src)
	src[0] = 'X' // the message must have copied its input
	if got := string(m.appendPolling(nil)); got != "4hello" {
		t.Errorf("text polling = %q", got)
	}
	if m.payloadLen() != 5 || m.binary || m.appendWSHeader(nil)[0] != 0x80|opText {
		t.Errorf("text message fields wrong: %d %v", m.payloadLen(), m.binary)
	}
	b := NewBinaryMessage([]byte{1, 2, 3, 4})
	if got := string(b.appendPolling(nil)); got != "bAQIDBA==" {
		t.Errorf("binary polling = %q", got)
	}
	if b.pollingLen() < len("bAQIDBA==") {
		t.Errorf("pollingLen %d too small", b.pollingLen())
	}
	if e := NewBinaryMessage(nil); string(e.appendPolling(nil)) != "b" {
		t.Errorf("empty binary = %q", e.appendPolling(nil))
	}
}

// TestMessageWSFrame checks the writer's own frame encoding against the
// bytes gorilla writes for the same message, across the three length
// encodings (7-bit, 16-bit, 64-bit).
func TestMessageWSFrame(t *testing.T) {
	for _, n := range []int{0, 1, 124, 125, 126, 127, 65535, 65536, 70000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		for _, m := range []*Message{NewTextMessage(payload), NewBinaryMessage(append([]byte(nil), payload...))} {
			ws, dc := gorillaServerWS(t)
			mt := websocket.TextMessage
			if m.binary {
				mt = websocket.BinaryMessage
			}
			if err := ws.WriteMessage(mt, m.data); err != nil {
				t.Fatal(err)
			}
			want := dc.bytes()
			got := append(m.appendWSHeader(nil), m.data...)
			if !bytes.Equal(got, want) {
				t.Fatalf("len %d binary %v: frame %x..., gorilla wrote %x...", n, m.binary, got[:min(len(got), 12)], want[:min(len(want), 12)])
			}
			if hl := len(got) - len(m.data); hl > maxWSHeaderLen {
				t.Fatalf("header %d bytes > maxWSHeaderLen", hl)
			}
		}
	}
}

func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{"0", `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		"1", "2", "2probe", "3", "3probe", "4", "4hello", "5", "6", "bAQIDBA==", "", "abc", "b", "b===", "9"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var scratch []byte
		p, err := decodePacket(in, &scratch)
		if err != nil {
			return
		}
		if p.typ > ptNoop {
			t.Fatalf("type %d out of range", p.typ)
		}
		if !p.binary {
			if got := appendPacket(nil, p.typ, p.data, false); !bytes.Equal(got, in) {
				t.Fatalf("re-encode %q = %q", in, got)
			}
			return
		}
		// A binary packet re-encodes to base64 that decodes to the same bytes.
		enc := appendPacket(nil, p.typ, p.data, true)
		data := append([]byte(nil), p.data...)
		var s2 []byte
		p2, err := decodePacket(enc, &s2)
		if err != nil || !bytes.Equal(p2.data, data) {
			t.Fatalf("binary round trip of %q failed: %v", in, err)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello\x1e2\x1e4world", "4hello\x1ebAQIDBA==", "4test1\x1e4test2\x1e4test3", "1", "3", "abc", "", "\x1e", "4a\x1e\x1e"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var scratch []byte
		n := 0
		err := decodePayload(in, &scratch, func(p packet) bool {
			if p.typ > ptNoop {
				t.Fatalf("type %d out of range", p.typ)
			}
			n++
			return true
		})
		seps := bytes.Count(in, []byte{recordSeparator})
		if err == nil && n != seps+1 {
			t.Fatalf("%q: %d packets for %d separators", in, n, seps)
		}
		if err != nil && n > seps {
			t.Fatalf("%q: error after %d packets with %d separators", in, n, seps)
		}
	})
}

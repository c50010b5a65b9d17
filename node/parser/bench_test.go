package parser

import (
	"encoding/json"
	"strings"
	"testing"
)

func BenchmarkEncode(b *testing.B) {
	p := &Packet{Type: Event, Nsp: "/chat", ID: 12, HasID: true,
		Data: json.RawMessage(`["chat message",{"user":"bob","text":"hello world, how are you today?"}]`)}
	b.ReportAllocs()
	for b.Loop() {
		_ = Encode(p)
	}
}

type chatMessage struct {
	User string `json:"user"`
	Text string `json:"text"`
	At   int64  `json:"at"`
}

func BenchmarkEncodeData(b *testing.B) {
	cases := []struct {
		name   string
		values []any
	}{
		{"raw", []any{"chat message", json.RawMessage(`{"user":"bob","text":"hello world, how are you today?"}`)}},
		{"scalars", []any{"chat message", "hello world, how are you today?", 42, 3.5, true}},
		{"map", []any{"chat message", map[string]any{"user": "bob", "text": "hello world, how are you today?", "at": 1700000000}}},
		{"struct", []any{"chat message", chatMessage{User: "bob", Text: "hello world, how are you today?", At: 1700000000}}},
		{"binary", []any{"upload", []byte("0123456789abcdef"), map[string]any{"name": "f.bin", "chunk": []byte("xyz")}}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := EncodeData(tc.values); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	b.Run("event", func(b *testing.B) {
		msg := []byte(`2/chat,12["chat message",{"user":"bob","text":"hello world, how are you today?"}]`)
		d := NewDecoder(0)
		b.ReportAllocs()
		for b.Loop() {
			if p, err := d.Add(msg, false); err != nil || p == nil {
				b.Fatal(p, err)
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		msg := []byte(`51-["upload",{"_placeholder":true,"num":0}]`)
		att := make([]byte, 1024)
		d := NewDecoder(0)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Add(msg, false); err != nil {
				b.Fatal(err)
			}
			if p, err := d.Add(att, true); err != nil || p == nil {
				b.Fatal(p, err)
			}
		}
	})
}

func BenchmarkDecodeData(b *testing.B) {
	b.Run("text", func(b *testing.B) {
		data := json.RawMessage(`["chat message",{"user":"bob","text":"hello world, how are you today?"},42]`)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeData(data, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		data := json.RawMessage(`["upload",{"_placeholder":true,"num":0},{"name":"f","chunk":{"_placeholder":true,"num":1}}]`)
		atts := [][]byte{make([]byte, 16), make([]byte, 16)}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeData(data, atts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkJSONValid measures the validator behind the Decoder's payload
// check, DecodeData's split and EncodeData's json.RawMessage check, on
// payloads made mostly of short strings and of one long one.
func BenchmarkJSONValid(b *testing.B) {
	for _, c := range []struct{ name, data string }{
		{"chat", `["chat message",{"user":"bob","text":"hello world, how are you today?","at":1700000000}]`},
		{"long", `["msg","` + strings.Repeat("lorem ipsum dolor sit amet, ", 40) + `"]`},
	} {
		data := []byte(c.data)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if !jsonValid(data) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

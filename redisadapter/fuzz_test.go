package redisadapter

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/vmihailenco/msgpack/v5"
)

// FuzzDecodeMessage feeds arbitrary payloads to the message decoders and
// the conversions the adapter applies to them. They must never panic, and
// whatever they accept must convert back to valid JSON and MessagePack.
func FuzzDecodeMessage(f *testing.F) {
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"ev", json.RawMessage(`{"b":[1,2.5,"x"],"a":null}`), []byte{1, 2}, map[string]any{"k": []byte{3}}}}
	b1, _ := encodeBroadcast("abc123", "/", pkt, []string{"r"}, []string{"s"}, adapter.BroadcastFlags{Volatile: true, Timeout: time.Second})
	b2, _ := encodeBroadcastRequest("abc123", "req001", "/admin", pkt, nil, nil, adapter.BroadcastFlags{})
	b3, _ := encodeBroadcastAck("req001", map[string]any{"x": []any{1, "y", []byte{9}}})
	b4, _ := NewEmitter(nil, EmitterOptions{}).To("r").Volatile().encodeEmit("ev", []any{1.5, "s"})
	for _, seed := range [][]byte{
		b1, b2, b3, b4,
		[]byte(`{"uid":"u1","requestId":"r1","type":5,"opts":{"rooms":["a"],"except":[]}}`),
		[]byte(`{"uid":"u1","type":2,"opts":{"rooms":[],"except":[1]},"rooms":["b"]}`),
		[]byte(`{"type":4,"sid":"s","close":true,"requestId":"x"}`),
		[]byte(`{"uid":"u1","requestId":"r1","type":6,"data":["ev",{"z":1e400}]}`),
		[]byte(`{"requestId":"r1","sockets":[{"id":"s1","handshake":{"headers":{"a":["1"]},"query":{"t":["1"]},"auth":{}},"rooms":["s1"],"data":{}}]}`),
		[]byte(`{"type":8,"requestId":"r","clientCount":2.0}`),
		{0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0},
		{0xc7, 0x01, 0x00, 0x01},
		{0x93, 0xa1, 'u', 0x80, 0xc0},
		{0xdd, 0xff, 0xff, 0xff, 0xff},
		{0x81, 0x81, 0xc0, 0xc0, 0xc0},
		[]byte(`{`), {},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := decodeBroadcast(data); err == nil {
			checkData(t, m.pkt.Data)
			_, _ = encodeBroadcast("u", m.nsp, m.pkt, dedupe(m.opts.Rooms), dedupe(m.opts.Except), m.opts.Flags)
		}
		obj, err := decodeRequest(data)
		if err != nil {
			return
		}
		j, err := appendJSON(nil, obj, 0)
		if err != nil || !json.Valid(j) {
			t.Fatalf("decoded request does not convert to valid JSON: %q, %v", j, err)
		}
		for _, key := range []string{"packet", "data"} {
			v, _ := obj.get(key)
			if p, _, err := packetFromTree(v); err == nil {
				checkData(t, p.Data)
			}
			if d, err := dataFromTree(v); err == nil {
				checkData(t, d)
			}
			if a, err := argFromTree(v); err == nil {
				checkData(t, []any{a})
			}
		}
		optsFromTree(obj)
		if v, ok := obj.get("opts"); ok {
			wireOptsFromTree(v)
		}
		if v, ok := obj.get("sockets"); ok {
			if arr, ok := v.([]any); ok {
				for _, s := range arr {
					if info, ok := socketInfoFromTree(s); ok {
						if _, err := json.Marshal(info); err != nil {
							t.Fatalf("decoded socket does not marshal: %v", err)
						}
					}
				}
			}
		}
	})
}

// checkData verifies that decoded packet data is valid for the node: raw
// JSON is valid, and the whole encodes back to MessagePack.
func checkData(t *testing.T, data []any) {
	t.Helper()
	for _, a := range data {
		if raw, ok := a.(json.RawMessage); ok && !json.Valid(raw) {
			t.Fatalf("invalid json.RawMessage %q", raw)
		}
	}
	var b bytes.Buffer
	if err := encodeMsgpack(msgpack.NewEncoder(&b), data, 0); err != nil {
		t.Fatalf("decoded data does not encode back: %v", err)
	}
}

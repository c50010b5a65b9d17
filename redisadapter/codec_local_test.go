package redisadapter

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/node/parser"
)

// textLevel and textID marshal as text, as many Go types do.
type textLevel int

func (l textLevel) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("L%d", int(l))), nil }

type textID [4]byte

func (u textID) MarshalText() ([]byte, error) { return []byte(fmt.Sprintf("%x", u[:])), nil }

// TestBroadcastEncodesGoValuesAsLocally checks that a Go value emitted to
// a room reaches the clients of other nodes as it reaches the local ones:
// each value is encoded for local clients (parser.EncodeData, encoding/json's
// rules) and once through the cluster (encodeBroadcast, decodeBroadcast,
// then EncodeData on the receiving node), and the two must be the same.
func TestBroadcastEncodesGoValuesAsLocally(t *testing.T) {
	for _, v := range []any{
		net.ParseIP("10.0.0.1").To4(), // a TextMarshaler that is a []byte
		textLevel(3),
		textID{1, 2, 3, 4},
		[]any(nil),
		map[string]any(nil),
		[]string(nil),
		time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 7200)),
		float32(1.1),
		map[string]any{"f": float32(0.1)},
		[]float32{2.2},
		map[int]string{2: "b", 10: "a"},
		[2]byte{1, 2},
		[]byte{1, 2, 3},
		map[string]any{"bin": []byte{4}, "n": 1.5, "s": "x"},
	} {
		local, latts, err := parser.EncodeData([]any{"ev", v})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := encodeBroadcast("uid", "/", &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"ev", v}}, nil, nil, adapter.BroadcastFlags{})
		if err != nil {
			t.Errorf("%T: encode: %v", v, err)
			continue
		}
		m, err := decodeBroadcast(msg)
		if err != nil {
			t.Fatal(err)
		}
		remote, ratts, err := parser.EncodeData(m.pkt.Data)
		if err != nil {
			t.Fatal(err)
		}
		if string(local) != string(remote) || len(latts) != len(ratts) {
			t.Errorf("%T %v: local clients get %s (+%d binary), other nodes' %s (+%d binary)", v, v, local, len(latts), remote, len(ratts))
		}
	}
}

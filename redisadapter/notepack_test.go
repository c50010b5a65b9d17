package redisadapter

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/vmihailenco/msgpack/v5"
)

// notepackScript encodes reference values with the real notepack.io (the
// parser of @socket.io/redis-adapter) and decodes the messages Go wrote.
const notepackScript = `
const notepack = require("notepack.io");
const cases = [
  ["abc123", {type: 2, data: ["hello", "world"], nsp: "/"}, {rooms: ["room1"], except: [], flags: {}}],
  [0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -1, -32, -33, -128, -129, -32768,
   -32769, -2147483648, -2147483649, 1.5, -0.25, 2 ** 52, -(2 ** 53), 0.1],
  ["", "x".repeat(31), "x".repeat(32), "y".repeat(300), "h\u00e9llo \u2603 \ud83d\ude00", "z".repeat(70000)],
  {z: 1, a: {y: [true, false, null]}, "\u00e9": "\ud83d\ude00", list: new Array(20).fill(3)},
  [Buffer.from([1, 2, 3]), {nested: Buffer.alloc(300, 7)}],
  new Date(1704164645006),
  ["emitter", {type: 2, data: ["ev", {a: 1}], nsp: "/admin"}, {rooms: ["r"], flags: {volatile: true}, except: []}],
];
const out = cases.map((v) => ({hex: notepack.encode(v).toString("hex"), json: JSON.stringify(v),
  binary: JSON.stringify(v).includes('"Buffer"') || v instanceof Date}));
const goIn = JSON.parse(require("fs").readFileSync(0, "utf8"));
const decoded = goIn.map((h) => JSON.stringify(notepack.decode(Buffer.from(h, "hex"))));
process.stdout.write(JSON.stringify({out, decoded}));
`

// nodeModules finds the node_modules of the integration tests, which
// hold notepack.io and @socket.io/redis-adapter.
func nodeModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		skipOrFail(t, "node is not installed")
	}
	dir, err := filepath.Abs("../integration_test/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notepack.io")); err != nil {
		skipOrFail(t, "notepack.io is not installed (npm ci in integration_test)")
	}
	return dir
}

// TestNotepackCompatibility checks the codec against the real notepack.io
// 3.x: Go decodes what notepack wrote into the JSON that JSON.stringify
// gives, Go encodes the same values to the same bytes, and notepack
// decodes what Go wrote.
func TestNotepackCompatibility(t *testing.T) {
	modules := nodeModules(t)

	pkt := &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"ev", json.RawMessage(`{"b":1,"a":[true,null,1.5,-7]}`),
		[]byte{1, 2, 3}, map[string]any{"k": []byte{9}}, int64(4294967296)}}
	bcast, err := encodeBroadcast("abc123", "/", pkt, []string{"r"}, []string{}, adapter.BroadcastFlags{Volatile: true, Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	emitted, err := NewEmitter(nil, EmitterOptions{Nsp: "admin"}).To("r").Volatile().encodeEmit("ev", []any{map[string]any{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := encodeBroadcastAck("req001", []any{"x", []byte{4}})
	if err != nil {
		t.Fatal(err)
	}
	goMsgs := [][]byte{bcast, emitted, ack}
	wantDecoded := []string{
		`["abc123",{"type":2,"data":["ev",{"b":1,"a":[true,null,1.5,-7]},{"type":"Buffer","data":[1,2,3]},{"k":{"type":"Buffer","data":[9]}},4294967296],"nsp":"/"},{"rooms":["r"],"except":[],"flags":{"volatile":true,"timeout":1500}}]`,
		`["emitter",{"type":2,"data":["ev",{"a":1}],"nsp":"/admin"},{"rooms":["r"],"flags":{"volatile":true},"except":[]}]`,
		`{"type":9,"requestId":"req001","packet":["x",{"type":"Buffer","data":[4]}]}`,
	}
	in := make([]string, len(goMsgs))
	for i, m := range goMsgs {
		in[i] = hex.EncodeToString(m)
	}
	stdin, _ := json.Marshal(in)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "-e", notepackScript)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var res struct {
		Out []struct {
			Hex    string `json:"hex"`
			JSON   string `json:"json"`
			Binary bool   `json:"binary"`
		} `json:"out"`
		Decoded []string `json:"decoded"`
	}
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatalf("node output: %v\n%s", err, stdout)
	}
	if len(res.Out) == 0 {
		t.Fatal("node returned no cases")
	}
	for i, c := range res.Out {
		raw, _ := hex.DecodeString(c.Hex)
		tree, err := parseMsgpack(raw)
		if err != nil {
			t.Errorf("case %d: Go cannot decode notepack's %s: %v", i, short(c.Hex), err)
			continue
		}
		got, err := appendJSON(nil, tree, 0)
		if err != nil || string(got) != c.JSON {
			t.Errorf("case %d: decoded\n got %s (%v)\nwant %s", i, short(string(got)), err, short(c.JSON))
		}
		if c.Binary {
			continue // JSON cannot say which values were binary
		}
		var b bytes.Buffer
		if err := encodeMsgpack(msgpack.NewEncoder(&b), json.RawMessage(c.JSON), 0); err != nil {
			t.Errorf("case %d: encode: %v", i, err)
			continue
		}
		if h := hex.EncodeToString(b.Bytes()); h != c.Hex {
			t.Errorf("case %d: Go bytes differ from notepack's\n got %s\nwant %s", i, short(h), short(c.Hex))
		}
	}
	for i, want := range wantDecoded {
		if i >= len(res.Decoded) || res.Decoded[i] != want {
			got := ""
			if i < len(res.Decoded) {
				got = res.Decoded[i]
			}
			t.Errorf("notepack decoded Go message %d as\n%s\nwant\n%s", i, got, want)
		}
	}
}

func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "…(truncated)"
	}
	return s
}

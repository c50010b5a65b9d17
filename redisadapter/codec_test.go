package redisadapter

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/vmihailenco/msgpack/v5"
)

// mp builds expected MessagePack bytes by hand: strings become fixstr
// (or str8 when 32 bytes or longer), byte slices and ints are copied.
func mp(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			if len(p) < 32 {
				b = append(b, 0xa0|byte(len(p)))
			} else {
				b = append(b, 0xd9, byte(len(p)))
			}
			b = append(b, p...)
		case int:
			b = append(b, byte(p))
		case []byte:
			b = append(b, p...)
		default:
			panic("mp: bad part")
		}
	}
	return b
}

func encodeValue(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := encodeMsgpack(msgpack.NewEncoder(&b), v, 0); err != nil {
		t.Fatalf("encodeMsgpack(%#v): %v", v, err)
	}
	return b.Bytes()
}

func TestEncodeBroadcastGolden(t *testing.T) {
	// ["abc123",{"type":2,"data":["hello","world"],"nsp":"/"},
	//  {"rooms":["room1"],"except":[],"flags":{}}]
	want := mp(0x93, "abc123",
		0x83, "type", 0x02, "data", 0x92, "hello", "world", "nsp", "/",
		0x83, "rooms", 0x91, "room1", "except", 0x90, "flags", 0x80)
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"hello", "world"}}
	got, err := encodeBroadcast("abc123", "/", pkt, []string{"room1"}, []string{}, adapter.BroadcastFlags{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("broadcast bytes\n got %x\nwant %x", got, want)
	}
}

func TestEncodeBroadcastFlagsAndArgsGolden(t *testing.T) {
	// data: ["ev", <json {"b":1,"a":[true,null]}>, <bin 01 02 03>, 1.5, -1, 300]
	// flags: {volatile:true, compress:true, timeout:5000}; Local is never sent.
	want := mp(0x93, "uid001",
		0x83, "type", 0x02, "data", 0x96, "ev",
		0x82, "b", 0x01, "a", 0x92, 0xc3, 0xc0,
		[]byte{0xc4, 0x03, 0x01, 0x02, 0x03},
		[]byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0},
		0xff,
		[]byte{0xcd, 0x01, 0x2c},
		"nsp", "/admin",
		0x83, "rooms", 0x92, "a", "b", "except", 0x91, "c",
		"flags", 0x83, "volatile", 0xc3, "compress", 0xc3, "timeout", []byte{0xcd, 0x13, 0x88})
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"ev", json.RawMessage(`{"b":1, "a":[true,null]}`), []byte{1, 2, 3}, 1.5, -1, 300}}
	flags := adapter.BroadcastFlags{Volatile: true, Compress: true, Local: true, Timeout: 5 * time.Second}
	got, err := encodeBroadcast("uid001", "/admin", pkt, []string{"a", "b"}, []string{"c"}, flags)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("broadcast bytes\n got %x\nwant %x", got, want)
	}
}

func TestEncodeBroadcastRequestGolden(t *testing.T) {
	// {uid, requestId, type:7, packet:{type,data,nsp}, opts:{rooms,except,flags:{timeout:1000}}}
	want := mp(0x85, "uid", "abc123", "requestId", "req001", "type", 0x07,
		"packet", 0x83, "type", 0x02, "data", 0x91, "ping", "nsp", "/",
		"opts", 0x83, "rooms", 0x90, "except", 0x90, "flags", 0x81, "timeout", []byte{0xcd, 0x03, 0xe8})
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"ping"}}
	got, err := encodeBroadcastRequest("abc123", "req001", "/", pkt, []string{}, []string{}, adapter.BroadcastFlags{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("request bytes\n got %x\nwant %x", got, want)
	}
	// {type:9, requestId, packet:"pong"}
	want = mp(0x83, "type", 0x09, "requestId", "req001", "packet", "pong")
	got, err = encodeBroadcastAck("req001", json.RawMessage(`"pong"`))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ack bytes\n got %x (%v)\nwant %x", got, err, want)
	}
}

// TestEncodeNumbersLikeNotepack checks every integer width and the float
// rules of notepack.io.
func TestEncodeNumbersLikeNotepack(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{0, "00"}, {127, "7f"}, {128, "cc80"}, {255, "ccff"}, {256, "cd0100"},
		{65535, "cdffff"}, {65536, "ce00010000"}, {uint32(math.MaxUint32), "ceffffffff"},
		{int64(1) << 32, "cf0000000100000000"}, {-1, "ff"}, {-32, "e0"}, {-33, "d0df"},
		{-128, "d080"}, {-129, "d1ff7f"}, {-32768, "d18000"}, {-32769, "d2ffff7fff"},
		{int64(math.MinInt32), "d280000000"}, {int64(math.MinInt32) - 1, "d3ffffffff7fffffff"},
		{2.0, "02"}, {-3.0, "fd"}, {1.5, "cb3ff8000000000000"}, {float32(0.5), "cb3fe0000000000000"},
		{json.Number("12"), "0c"}, {json.Number("1e2"), "64"}, {json.Number("0.25"), "cb3fd0000000000000"},
		{true, "c3"}, {false, "c2"}, {nil, "c0"}, {"", "a0"},
		{strings.Repeat("x", 31), "bf" + strings.Repeat("78", 31)},
		{strings.Repeat("x", 32), "d920" + strings.Repeat("78", 32)},
		{[]byte{}, "c400"}, {[]byte(nil), "c400"},
		{map[string]any{"b": 1, "a": 2}, "82a16102a16201"}, // sorted like encoding/json
		{[]int{1, 2}, "920102"},
		{struct {
			Z int `json:"z"`
			A int `json:"a"`
		}{1, 2}, "82a17a01a16102"}, // struct field order via JSON
	}
	for _, c := range cases {
		got := hex.EncodeToString(encodeValue(t, c.v))
		if got != c.want {
			t.Errorf("encode %#v = %s; want %s", c.v, got, c.want)
		}
	}
	long := encodeValue(t, strings.Repeat("y", 300))
	if !bytes.Equal(long[:3], []byte{0xda, 0x01, 0x2c}) {
		t.Errorf("str16 header = %x", long[:3])
	}
	bin := encodeValue(t, make([]byte, 300))
	if !bytes.Equal(bin[:3], []byte{0xc5, 0x01, 0x2c}) {
		t.Errorf("bin16 header = %x", bin[:3])
	}
	arr := encodeValue(t, make([]any, 16))
	if !bytes.Equal(arr[:3], []byte{0xdc, 0x00, 0x10}) {
		t.Errorf("array16 header = %x", arr[:3])
	}
}

func TestEncodeRejectsBadInput(t *testing.T) {
	for _, v := range []any{
		json.RawMessage(`{"a":`),
		json.RawMessage(``),
		make(chan int),
		func() {},
	} {
		var b bytes.Buffer
		if err := encodeMsgpack(msgpack.NewEncoder(&b), v, 0); err == nil {
			t.Errorf("encodeMsgpack(%T) succeeded; want an error", v)
		}
	}
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"ev", json.RawMessage(`not json`)}}
	if _, err := encodeBroadcast("u", "/", pkt, nil, nil, adapter.BroadcastFlags{}); err == nil {
		t.Error("encodeBroadcast with invalid JSON argument succeeded")
	}
	deep := any("x")
	for range maxDepth + 2 {
		deep = []any{deep}
	}
	var b bytes.Buffer
	if err := encodeMsgpack(msgpack.NewEncoder(&b), deep, 0); err == nil {
		t.Error("encoding a value nested deeper than maxDepth succeeded")
	}
}

func TestJSONRequestsGolden(t *testing.T) {
	opts := wireOpts{Rooms: []string{"a"}, Except: []string{}}
	cases := []struct {
		v    any
		want string
	}{
		{socketsRequest{UID: "u1", RequestID: "r1", Type: reqSockets, Rooms: []string{"a"}},
			`{"uid":"u1","requestId":"r1","type":0,"rooms":["a"]}`},
		{allRoomsRequest{UID: "u1", RequestID: "r1", Type: reqAllRooms},
			`{"uid":"u1","requestId":"r1","type":1}`},
		{roomsRequest{UID: "u1", Type: reqRemoteJoin, Opts: opts, Rooms: []string{"b"}},
			`{"uid":"u1","type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}`},
		{roomsRequest{Type: reqRemoteLeave, Opts: opts, Rooms: []string{"b"}}, // emitter: no uid
			`{"type":3,"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}`},
		{disconnectRequest{UID: "u1", Type: reqRemoteDisconnect, Opts: opts, Close: true},
			`{"uid":"u1","type":4,"opts":{"rooms":["a"],"except":[]},"close":true}`},
		{fetchRequest{UID: "u1", RequestID: "r1", Type: reqRemoteFetch, Opts: opts},
			`{"uid":"u1","requestId":"r1","type":5,"opts":{"rooms":["a"],"except":[]}}`},
		{serverSideEmitRequest{UID: "u1", Type: reqServerSideEmit, Data: json.RawMessage(`["ev",1,"<&>"]`)},
			`{"uid":"u1","type":6,"data":["ev",1,"<&>"]}`},
		{serverSideEmitRequest{UID: "u1", RequestID: "r1", Type: reqServerSideEmit, Data: json.RawMessage(`["ev"]`)},
			`{"uid":"u1","requestId":"r1","type":6,"data":["ev"]}`},
		{socketsResponse{RequestID: "r1", Sockets: []string{"s1"}}, `{"requestId":"r1","sockets":["s1"]}`},
		{allRoomsResponse{RequestID: "r1", Rooms: []string{"x"}}, `{"requestId":"r1","rooms":["x"]}`},
		{legacyResponse{RequestID: "r1"}, `{"requestId":"r1"}`},
		{serverSideEmitResponse{Type: 6, RequestID: "r1", Data: json.RawMessage(`{"ok":1}`)}, `{"type":6,"requestId":"r1","data":{"ok":1}}`},
		{clientCountResponse{Type: 8, RequestID: "r1", ClientCount: 3}, `{"type":8,"requestId":"r1","clientCount":3}`},
	}
	for _, c := range cases {
		got, err := marshalJSON(c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("JSON of %T\n got %s (%v)\nwant %s", c.v, got, err, c.want)
		}
	}
}

func TestChannels(t *testing.T) {
	c := newChannels("socket.io", "/", "abc123")
	want := channels{
		broadcast:        "socket.io#/#",
		pattern:          "socket.io#/#*",
		request:          "socket.io-request#/#",
		response:         "socket.io-response#/#",
		specificResponse: "socket.io-response#/#abc123#",
	}
	if c != want {
		t.Fatalf("channels = %+v; want %+v", c, want)
	}
	if got := c.broadcastChannel([]string{"room1"}); got != "socket.io#/#room1#" {
		t.Errorf("one-room channel = %q", got)
	}
	if got := c.broadcastChannel([]string{"a", "b"}); got != "socket.io#/#" {
		t.Errorf("two-room channel = %q", got)
	}
	if got := c.responseChannelFor("xyz", true); got != "socket.io-response#/#xyz#" {
		t.Errorf("specific response channel = %q", got)
	}
	if got := c.responseChannelFor("", true); got != "socket.io-response#/#" {
		t.Errorf("response channel without uid = %q", got)
	}
	if got := newChannels("k*", "/a[b]", "u").pattern; got != `k\*#/a\[b\]#*` {
		t.Errorf("escaped pattern = %q", got)
	}
	if got := newChannels("app", "/admin", "u").broadcast; got != "app#/admin#" {
		t.Errorf("admin channel = %q", got)
	}
}

func TestNewUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u := newUID(6)
		if len(u) != 6 || strings.Trim(u, uidChars) != "" {
			t.Fatalf("uid %q is not 6 chars of the uid2 alphabet", u)
		}
		seen[u] = true
	}
	if len(seen) < 990 {
		t.Fatalf("only %d distinct uids out of 1000", len(seen))
	}
}

// TestDecodeBroadcastLenient decodes messages as a Node.js node or an
// emitter may send them.
func TestDecodeBroadcastLenient(t *testing.T) {
	// Missing nsp, nil flags, float type, timeout as float, numeric room.
	msg := mp(0x93, "node01",
		0x82, "type", []byte{0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0}, "data", 0x92, "ev", 0x01,
		0x83, "rooms", 0x92, "r1", 0x07, "except", 0xc0, "flags", 0xc0)
	m, err := decodeBroadcast(msg)
	if err != nil {
		t.Fatal(err)
	}
	if m.uid != "node01" || m.nsp != "/" || m.pkt.Type != 2 {
		t.Fatalf("decoded uid=%q nsp=%q type=%d", m.uid, m.nsp, m.pkt.Type)
	}
	if len(m.opts.Rooms) != 2 || m.opts.Rooms[1] != "7" || m.opts.Except != nil || m.opts.Flags != (adapter.BroadcastFlags{}) {
		t.Fatalf("decoded opts %+v", m.opts)
	}
	// Two elements only (no opts at all).
	if m, err := decodeBroadcast(mp(0x92, "u", 0x81, "data", 0x91, "ev")); err != nil || m.opts.Rooms != nil {
		t.Fatalf("two-element broadcast: %+v, %v", m, err)
	}
	// Flags with volatile, compress, float timeout.
	msg = mp(0x93, "u", 0x82, "data", 0x91, "ev", "nsp", "/x",
		0x81, "flags", 0x83, "volatile", 0xc3, "compress", 0xc3, "timeout", []byte{0xcb, 0x40, 0x8f, 0x40, 0, 0, 0, 0, 0})
	m, err = decodeBroadcast(msg)
	if err != nil {
		t.Fatal(err)
	}
	if want := (adapter.BroadcastFlags{Volatile: true, Compress: true, Timeout: time.Second}); m.opts.Flags != want || m.nsp != "/x" {
		t.Fatalf("flags %+v nsp %q", m.opts.Flags, m.nsp)
	}
	for _, bad := range [][]byte{
		nil, {0x90}, {0x91, 0xa1, 'u'}, mp(0x92, "u", 0x01), mp(0x92, "u", 0x81, "data", "notarray"),
		{0xc1}, {0x93, 0xa1}, append(mp(0x92, "u", 0x80), 0x00),
	} {
		if _, err := decodeBroadcast(bad); err == nil {
			t.Errorf("decodeBroadcast(%x) succeeded; want an error", bad)
		}
	}
}

// TestDecodeArguments checks the Go form of received arguments.
func TestDecodeArguments(t *testing.T) {
	// data: ["ev", {"z":1,"a":[1.5,"<x>"]}, bin 0102, {"nested":bin ff}, 9007199254740993, -5, 0.1, "s", nil, true]
	data := mp(0x9a, "ev",
		0x82, "z", 0x01, "a", 0x92, []byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, "<x>",
		[]byte{0xc4, 0x02, 0x01, 0x02},
		0x81, "nested", []byte{0xc4, 0x01, 0xff},
		[]byte{0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0x01},
		0xfb,
		[]byte{0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a},
		"s", 0xc0, 0xc3)
	tree, err := parseMsgpack(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dataFromTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "ev" {
		t.Errorf("event = %#v; want the Go string \"ev\"", got[0])
	}
	wantRaw := map[int]string{1: `{"z":1,"a":[1.5,"<x>"]}`, 4: `9007199254740993`, 5: `-5`, 6: `0.1`, 7: `"s"`, 8: `null`, 9: `true`}
	for i, want := range wantRaw {
		raw, ok := got[i].(json.RawMessage)
		if !ok || string(raw) != want {
			t.Errorf("arg %d = %#v; want json.RawMessage %s", i, got[i], want)
		}
	}
	if b, ok := got[2].([]byte); !ok || !bytes.Equal(b, []byte{1, 2}) {
		t.Errorf("arg 2 = %#v; want []byte{1,2}", got[2])
	}
	m, ok := got[3].(map[string]any)
	if !ok || !bytes.Equal(m["nested"].([]byte), []byte{0xff}) {
		t.Errorf("arg 3 = %#v; want map with []byte", got[3])
	}
	// Round trip: what the node re-encodes equals what came in.
	var b bytes.Buffer
	if err := encodeMsgpack(msgpack.NewEncoder(&b), got, 0); err != nil || !bytes.Equal(b.Bytes(), data) {
		t.Errorf("re-encoded\n got %x (%v)\nwant %x", b.Bytes(), err, data)
	}
}

func TestDecodeExtensions(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	cases := []struct {
		in   []byte
		want string
	}{
		// timestamp 32: seconds only
		{append([]byte{0xd6, 0xff}, be32(uint32(ts.Unix()))...), `"2024-01-02T03:04:05.000Z"`},
		// timestamp 64 (notepack 3 Date): nsec<<34 | sec
		{append([]byte{0xd7, 0xff}, be64(uint64(6_000_000)<<34|uint64(ts.Unix()))...), `"2024-01-02T03:04:05.006Z"`},
		// timestamp 96
		{append(append([]byte{0xc7, 12, 0xff}, be32(6_000_000)...), be64(uint64(ts.Unix()))...), `"2024-01-02T03:04:05.006Z"`},
		// notepack 2 Date: fixext 8 type 0, milliseconds
		{append([]byte{0xd7, 0x00}, be64(uint64(ts.UnixMilli()))...), `"2024-01-02T03:04:05.006Z"`},
		// notepack 2 undefined
		{[]byte{0xd4, 0x00, 0x00}, `null`},
		// ArrayBuffer as ext 0
		{[]byte{0xc7, 0x02, 0x00, 0x01, 0x02}, `{"type":"Buffer","data":[1,2]}`},
		// BigInt as ext 1
		{[]byte{0xc7, 0x02, 0x01, '4', '2'}, `42`},
		// unknown extension
		{[]byte{0xd5, 0x05, 0x01, 0x02}, `null`},
		// float32
		{[]byte{0xca, 0x3f, 0xc0, 0x00, 0x00}, `1.5`},
		// numeric and boolean map keys
		{[]byte{0x82, 0x01, 0xc3, 0xc3, 0xc2}, `{"1":true,"true":false}`},
	}
	for _, c := range cases {
		v, err := parseMsgpack(c.in)
		if err != nil {
			t.Errorf("parseMsgpack(%x): %v", c.in, err)
			continue
		}
		got, err := appendJSON(nil, v, 0)
		if err != nil || string(got) != c.want {
			t.Errorf("parseMsgpack(%x) → %s (%v); want %s", c.in, got, err, c.want)
		}
	}
}

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
func be64(v uint64) []byte { return append(be32(uint32(v>>32)), be32(uint32(v))...) }

func TestDecodeRejectsHostileLengths(t *testing.T) {
	for _, in := range [][]byte{
		{0xdd, 0xff, 0xff, 0xff, 0xff},       // array32 of 4G elements
		{0xdf, 0xff, 0xff, 0xff, 0xff},       // map32
		{0xc6, 0xff, 0xff, 0xff, 0xff, 0x00}, // bin32 of 4 GB
		{0xdb, 0xff, 0xff, 0xff, 0xff, 0x00}, // str32
		{0xc9, 0xff, 0xff, 0xff, 0xff, 0x00}, // ext32
		{0x81, 0x90, 0x01},                   // array as map key
	} {
		if _, err := parseMsgpack(in); err == nil {
			t.Errorf("parseMsgpack(%x) succeeded; want an error", in)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, maxDepth+5)
	deep = append(deep, 0xc0)
	if _, err := parseMsgpack(deep); err == nil {
		t.Error("parseMsgpack of a too deep value succeeded")
	}
	if _, err := parseJSON([]byte(strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5))); err == nil {
		t.Error("parseJSON of a too deep value succeeded")
	}
}

// TestDecodeAllocationBoundedByInput checks that decoding allocates in
// proportion to the message, not to the counts its headers claim: 1,000
// nested arrays (or maps) whose headers each claim every byte left would
// reserve 16 bytes per payload byte at every level (1.5 GB for 100 KiB)
// if the counts were trusted.
func TestDecodeAllocationBoundedByInput(t *testing.T) {
	const size = 64 << 10
	// nested opens maxDepth values with code (array32 or map32), each
	// claiming as many elements as the bytes left after its header allow
	// (per: bytes an element takes at least), the map's first key "k"
	// after its header; zeros (fixint 0) fill the rest.
	nested := func(code byte, per int, key []byte) []byte {
		b := make([]byte, 0, size)
		for range maxDepth {
			left := size - len(b) - 5
			b = append(b, code)
			b = append(b, be32(uint32(left/per))...)
			b = append(b, key...)
		}
		return append(b, make([]byte, size-len(b))...)
	}
	for name, in := range map[string][]byte{
		"arrays": nested(0xdd, 1, nil),
		"maps":   nested(0xdf, 2, []byte{0xa1, 'k'}),
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := parseMsgpack(in)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: parseMsgpack succeeded on a message whose counts exceed its bytes", name)
		}
		// One-byte elements become 16-byte interfaces, and growing the
		// slice by appending copies it a few times: ~100x here, against
		// ~15,000x when the claimed counts are reserved.
		if got := after.TotalAlloc - before.TotalAlloc; got > 256*size {
			t.Errorf("%s: decoding %d bytes allocated %d bytes (%dx); want at most 256x", name, size, got, got/size)
		}
	}
}

func TestJSONTree(t *testing.T) {
	in := `{"b":[1,-2,3.5,1e400,18446744073709551615,"\u2028<\"x\">"],"a":{"c":null,"d":false},"\u00e9":"\ud83d\ude00"}`
	v, err := parseJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendJSON(nil, v, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b":[1,-2,3.5,null,18446744073709551615,"` + "\u2028" + `<\"x\">"],"a":{"c":null,"d":false},"é":"😀"}`
	if string(got) != want {
		t.Fatalf("JSON round trip\n got %s\nwant %s", got, want)
	}
	for _, bad := range []string{``, `{`, `{"a"}`, `[1,]`, `{} x`, `{1:2}`, `nul`} {
		if _, err := parseJSON([]byte(bad)); err == nil {
			t.Errorf("parseJSON(%q) succeeded", bad)
		}
	}
}

func TestJSNumberFormat(t *testing.T) {
	cases := map[float64]string{
		0: "0", 1: "1", -1.5: "-1.5", 0.1: "0.1", 1e21: "1e+21", 1e20: "100000000000000000000",
		1e-7: "1e-7", 1.5e-7: "1.5e-7", 0.000001: "0.000001", 123456789.125: "123456789.125",
		math.Inf(1): "null", math.NaN(): "null", 1.7976931348623157e308: "1.7976931348623157e+308",
	}
	for f, want := range cases {
		if got := string(appendJSNumber(nil, f)); got != want {
			t.Errorf("appendJSNumber(%v) = %s; want %s", f, got, want)
		}
	}
}

func TestJSONString(t *testing.T) {
	got := string(appendJSONString(nil, "a\"\\\n\r\t\b\f\x01\x1f<>&é\xff"))
	want := `"a\"\\\n\r\t\b\f\u0001\u001f<>&é` + "\ufffd" + `"`
	if got != want {
		t.Fatalf("appendJSONString = %s; want %s", got, want)
	}
}

func TestSocketInfoFromNodeHandshake(t *testing.T) {
	// A Node.js node's fetchSockets answer: array header values, array
	// query values, extra fields, numeric data.
	res := `{"requestId":"r1","sockets":[{"id":"s1","handshake":{"headers":{"host":"x","accept":["a","b"]},` +
		`"time":"Tue","address":"::1","xdomain":false,"secure":true,"issued":1700000000123,"url":"/socket.io/?EIO=4",` +
		`"query":{"EIO":"4","t":["1","2"]},"auth":{"token":"abc","n":1}},"rooms":["s1","room"],"data":{"n":1,"list":[1,2]}},` +
		`{"id":""},"bad"]}`
	obj, err := decodeRequest([]byte(res))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := obj.get("sockets")
	arr := v.([]any)
	info, ok := socketInfoFromTree(arr[0])
	if !ok {
		t.Fatal("first socket rejected")
	}
	h := info.Handshake
	if info.ID != "s1" || len(info.Rooms) != 2 || h.Headers["accept"] != "a, b" || h.Query["t"] != "1" ||
		!h.Secure || h.XDomain || h.Issued != 1700000000123 || string(h.Auth) != `{"token":"abc","n":1}` || h.Address != "::1" {
		t.Fatalf("decoded %+v", info)
	}
	if canon, _ := json.Marshal(info.Data); string(canon) != `{"list":[1,2],"n":1}` {
		t.Errorf("data = %s", canon)
	}
	for _, bad := range arr[1:] {
		if _, ok := socketInfoFromTree(bad); ok {
			t.Errorf("socketInfoFromTree(%v) accepted", bad)
		}
	}
}

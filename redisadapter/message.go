package redisadapter

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/vmihailenco/msgpack/v5"
)

// Request types of the classic @socket.io/redis-adapter (enum RequestType
// in its lib/index.ts).
const (
	reqSockets              = 0
	reqAllRooms             = 1
	reqRemoteJoin           = 2
	reqRemoteLeave          = 3
	reqRemoteDisconnect     = 4
	reqRemoteFetch          = 5
	reqServerSideEmit       = 6
	reqBroadcast            = 7
	reqBroadcastClientCount = 8
	reqBroadcastAck         = 9
)

// emitterUID is the uid @socket.io/redis-emitter puts in its messages.
const emitterUID = "emitter"

// channels holds the Redis channel names of one namespace.
type channels struct {
	broadcast        string // <key>#<nsp>#
	pattern          string // <key>#<nsp>#* (glob-escaped)
	request          string // <key>-request#<nsp>#
	response         string // <key>-response#<nsp>#
	specificResponse string // <key>-response#<nsp>#<uid>#
}

func newChannels(key, nsp, uid string) channels {
	c := channels{
		broadcast: key + "#" + nsp + "#",
		request:   key + "-request#" + nsp + "#",
		response:  key + "-response#" + nsp + "#",
	}
	c.pattern = globEscape(c.broadcast) + "*"
	c.specificResponse = c.response + uid + "#"
	return c
}

// roomChannel returns the channel of a broadcast to exactly one room.
func (c channels) roomChannel(room string) string {
	return c.broadcast + room + "#"
}

// broadcastChannel picks the channel for a broadcast to rooms (already
// deduplicated), as the Node adapter does.
func (c channels) broadcastChannel(rooms []string) string {
	if len(rooms) == 1 {
		return c.roomChannel(rooms[0])
	}
	return c.broadcast
}

// responseChannelFor is where a responder publishes an answer to the node
// with uid requester.
func (c channels) responseChannelFor(requester string, specific bool) string {
	if specific && requester != "" {
		return c.response + requester + "#"
	}
	return c.response
}

// globEscape escapes the characters Redis glob patterns interpret.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// uidChars is the alphabet of the uid2 npm package.
const uidChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newUID returns n random characters from uidChars, like uid2(n).
func newUID(n int) string {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails
		for _, b := range buf {
			// 248 = 4*62: reject the tail to keep the distribution uniform.
			if b < 248 && len(out) < n {
				out = append(out, uidChars[int(b)%len(uidChars)])
			}
		}
	}
	return string(out)
}

// ---------------------------------------------------------------------------
// Encoding

// dedupe returns the rooms without duplicates, keeping first occurrences
// (JavaScript's [...new Set(rooms)]). The result is never nil.
func dedupe(rooms []adapter.Room) []string {
	out := make([]string, 0, len(rooms))
	seen := make(map[adapter.Room]struct{}, len(rooms))
	for _, r := range rooms {
		if _, ok := seen[r]; ok {
			continue
		}
		seen[r] = struct{}{}
		out = append(out, string(r))
	}
	return out
}

func encodeStrings(e *msgpack.Encoder, ss []string) error {
	if err := e.EncodeArrayLen(len(ss)); err != nil {
		return err
	}
	for _, s := range ss {
		if err := e.EncodeString(s); err != nil {
			return err
		}
	}
	return nil
}

// encodePacket writes {type, data, nsp} (key order of socket.io).
func encodePacket(e *msgpack.Encoder, typ int, data []any, nsp string) error {
	if err := e.EncodeMapLen(3); err != nil {
		return err
	}
	if err := e.EncodeString("type"); err != nil {
		return err
	}
	if err := e.EncodeInt(int64(typ)); err != nil {
		return err
	}
	if err := e.EncodeString("data"); err != nil {
		return err
	}
	if err := encodeMsgpack(e, data, 0); err != nil {
		return err
	}
	if err := e.EncodeString("nsp"); err != nil {
		return err
	}
	return e.EncodeString(nsp)
}

// encodeFlags writes the flags object: only the flags that are set, as
// socket.io only sets the keys it uses. Local is never published.
func encodeFlags(e *msgpack.Encoder, f adapter.BroadcastFlags) error {
	n := 0
	if f.Volatile {
		n++
	}
	if f.Compress {
		n++
	}
	if f.Timeout > 0 {
		n++
	}
	if err := e.EncodeMapLen(n); err != nil {
		return err
	}
	if f.Volatile {
		if err := e.EncodeString("volatile"); err != nil {
			return err
		}
		if err := e.EncodeBool(true); err != nil {
			return err
		}
	}
	if f.Compress {
		if err := e.EncodeString("compress"); err != nil {
			return err
		}
		if err := e.EncodeBool(true); err != nil {
			return err
		}
	}
	if f.Timeout > 0 {
		if err := e.EncodeString("timeout"); err != nil {
			return err
		}
		if err := e.EncodeInt(f.Timeout.Milliseconds()); err != nil {
			return err
		}
	}
	return nil
}

// encodeOpts writes {rooms, except, flags}.
func encodeOpts(e *msgpack.Encoder, rooms, except []string, f adapter.BroadcastFlags) error {
	if err := e.EncodeMapLen(3); err != nil {
		return err
	}
	if err := e.EncodeString("rooms"); err != nil {
		return err
	}
	if err := encodeStrings(e, rooms); err != nil {
		return err
	}
	if err := e.EncodeString("except"); err != nil {
		return err
	}
	if err := encodeStrings(e, except); err != nil {
		return err
	}
	if err := e.EncodeString("flags"); err != nil {
		return err
	}
	return encodeFlags(e, f)
}

// encodeBroadcast builds the broadcast message
// [uid, {type, data, nsp}, {rooms, except, flags}].
func encodeBroadcast(uid, nsp string, pkt *adapter.Packet, rooms, except []string, flags adapter.BroadcastFlags) ([]byte, error) {
	var b bytes.Buffer
	e := msgpack.NewEncoder(&b)
	err := e.EncodeArrayLen(3)
	if err == nil {
		err = e.EncodeString(uid)
	}
	if err == nil {
		err = encodePacket(e, pkt.Type, pkt.Data, nsp)
	}
	if err == nil {
		err = encodeOpts(e, rooms, except, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("redisadapter: encode broadcast: %w", err)
	}
	return b.Bytes(), nil
}

// encodeBroadcastRequest builds the BROADCAST (7) request of a broadcast
// with acknowledgements: {uid, requestId, type, packet, opts}.
func encodeBroadcastRequest(uid, requestID, nsp string, pkt *adapter.Packet, rooms, except []string, flags adapter.BroadcastFlags) ([]byte, error) {
	var b bytes.Buffer
	e := msgpack.NewEncoder(&b)
	err := e.EncodeMapLen(5)
	for _, step := range []func() error{
		func() error { return e.EncodeString("uid") },
		func() error { return e.EncodeString(uid) },
		func() error { return e.EncodeString("requestId") },
		func() error { return e.EncodeString(requestID) },
		func() error { return e.EncodeString("type") },
		func() error { return e.EncodeInt(reqBroadcast) },
		func() error { return e.EncodeString("packet") },
		func() error { return encodePacket(e, pkt.Type, pkt.Data, nsp) },
		func() error { return e.EncodeString("opts") },
		func() error { return encodeOpts(e, rooms, except, flags) },
	} {
		if err != nil {
			break
		}
		err = step()
	}
	if err != nil {
		return nil, fmt.Errorf("redisadapter: encode broadcast request: %w", err)
	}
	return b.Bytes(), nil
}

// encodeBroadcastAck builds the BROADCAST_ACK (9) response
// {type, requestId, packet}.
func encodeBroadcastAck(requestID string, arg any) ([]byte, error) {
	var b bytes.Buffer
	e := msgpack.NewEncoder(&b)
	err := e.EncodeMapLen(3)
	for _, step := range []func() error{
		func() error { return e.EncodeString("type") },
		func() error { return e.EncodeInt(reqBroadcastAck) },
		func() error { return e.EncodeString("requestId") },
		func() error { return e.EncodeString(requestID) },
		func() error { return e.EncodeString("packet") },
		func() error { return encodeMsgpack(e, arg, 0) },
	} {
		if err != nil {
			break
		}
		err = step()
	}
	if err != nil {
		return nil, fmt.Errorf("redisadapter: encode broadcast ack: %w", err)
	}
	return b.Bytes(), nil
}

// JSON requests and responses. Field order follows the Node adapter's
// object literals so the bytes match JSON.stringify.

type wireOpts struct {
	Rooms  []string `json:"rooms"`
	Except []string `json:"except"`
}

type socketsRequest struct {
	UID       string   `json:"uid"`
	RequestID string   `json:"requestId"`
	Type      int      `json:"type"`
	Rooms     []string `json:"rooms"`
}

type allRoomsRequest struct {
	UID       string `json:"uid"`
	RequestID string `json:"requestId"`
	Type      int    `json:"type"`
}

type roomsRequest struct { // REMOTE_JOIN, REMOTE_LEAVE
	UID   string   `json:"uid,omitempty"`
	Type  int      `json:"type"`
	Opts  wireOpts `json:"opts"`
	Rooms []string `json:"rooms"`
}

type disconnectRequest struct {
	UID   string   `json:"uid,omitempty"`
	Type  int      `json:"type"`
	Opts  wireOpts `json:"opts"`
	Close bool     `json:"close"`
}

type fetchRequest struct {
	UID       string   `json:"uid"`
	RequestID string   `json:"requestId"`
	Type      int      `json:"type"`
	Opts      wireOpts `json:"opts"`
}

type serverSideEmitRequest struct {
	UID       string          `json:"uid"`
	RequestID string          `json:"requestId,omitempty"`
	Type      int             `json:"type"`
	Data      json.RawMessage `json:"data"`
}

type socketsResponse struct {
	RequestID string   `json:"requestId"`
	Sockets   []string `json:"sockets"`
}

type allRoomsResponse struct {
	RequestID string   `json:"requestId"`
	Rooms     []string `json:"rooms"`
}

type legacyResponse struct {
	RequestID string `json:"requestId"`
}

type fetchResponse struct {
	RequestID string               `json:"requestId"`
	Sockets   []adapter.SocketInfo `json:"sockets"`
}

type serverSideEmitResponse struct {
	Type      int    `json:"type"`
	RequestID string `json:"requestId"`
	Data      any    `json:"data"`
}

type clientCountResponse struct {
	Type        int    `json:"type"`
	RequestID   string `json:"requestId"`
	ClientCount int    `json:"clientCount"`
}

// ---------------------------------------------------------------------------
// Decoding

// decodeRequest decodes a request or response: JSON when it starts with
// '{', MessagePack otherwise (as the Node adapter decides). The result
// must be an object.
func decodeRequest(payload []byte) (object, error) {
	var (
		v   any
		err error
	)
	if len(payload) > 0 && payload[0] == '{' {
		v, err = parseJSON(payload)
	} else {
		v, err = parseMsgpack(payload)
	}
	if err != nil {
		return nil, err
	}
	obj, ok := v.(object)
	if !ok {
		return nil, errors.New("redisadapter: request is not an object")
	}
	return obj, nil
}

// broadcastMessage is a decoded broadcast: [uid, packet, opts].
type broadcastMessage struct {
	uid  string
	nsp  string
	pkt  *adapter.Packet
	opts adapter.BroadcastOptions
	// none: the rooms select no socket at all (see roomsFromTree).
	none bool
}

// decodeBroadcast decodes a broadcast message leniently: a missing nsp
// means "/", missing or nil opts and flags mean none, numbers may be
// integers or floats.
func decodeBroadcast(payload []byte) (*broadcastMessage, error) {
	v, err := parseMsgpack(payload)
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		return nil, errors.New("redisadapter: broadcast is not [uid, packet, opts]")
	}
	m := &broadcastMessage{}
	m.uid, _ = asString(arr[0])
	var opts any
	if len(arr) > 2 {
		opts = arr[2]
	}
	m.pkt, m.nsp, err = packetFromTree(arr[1])
	if err != nil {
		return nil, err
	}
	m.opts, m.none = optsFromTree(opts)
	return m, nil
}

// packetFromTree reads {type, data, nsp}; it returns the packet and its
// namespace ("/" when absent).
func packetFromTree(v any) (*adapter.Packet, string, error) {
	obj, ok := v.(object)
	if !ok {
		return nil, "", errors.New("redisadapter: packet is not an object")
	}
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Nsp: "/"}
	if t, ok := obj.get("type"); ok {
		if n, ok := asInt(t); ok {
			pkt.Type = int(n)
		}
	}
	if n, ok := obj.get("nsp"); ok {
		if s, ok := asString(n); ok {
			pkt.Nsp = s
		}
	}
	d, _ := obj.get("data")
	data, err := dataFromTree(d)
	if err != nil {
		return nil, "", err
	}
	pkt.Data = data
	return pkt, pkt.Nsp, nil
}

// roomsFromTree reads a rooms value as the Node adapter's new Set(value)
// does: absent or null is the empty set (no restriction: every socket),
// an array keeps its strings and numbers (numbers as strings). none
// reports a set that is not empty but holds no room a socket can be in
// (an array of nulls or objects, io.in(undefined) on a Node node, or a
// value that is not an array): Node matches no socket with it, where an
// empty list here would match every one.
func roomsFromTree(v any) (rooms []adapter.Room, none bool) {
	if v == nil {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, true
	}
	rooms = toRooms(asStrings(arr))
	return rooms, len(arr) > 0 && len(rooms) == 0
}

// optsFromTree reads {rooms, except, flags}; anything missing is empty.
// none: the rooms select no socket (roomsFromTree); unusable except
// entries exclude nothing, as in Node.
func optsFromTree(v any) (o adapter.BroadcastOptions, none bool) {
	obj, _ := v.(object)
	if r, ok := obj.get("rooms"); ok {
		o.Rooms, none = roomsFromTree(r)
	}
	if r, ok := obj.get("except"); ok {
		o.Except = toRooms(asStrings(r))
	}
	if f, ok := obj.get("flags"); ok {
		fo, _ := f.(object)
		if x, ok := fo.get("volatile"); ok {
			o.Flags.Volatile = truthy(x)
		}
		if x, ok := fo.get("compress"); ok {
			o.Flags.Compress = x == true
		}
		if x, ok := fo.get("timeout"); ok {
			if ms, ok := asNumber(x); ok && ms > 0 && ms < float64(1<<53) {
				o.Flags.Timeout = time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	return o, none
}

func toRooms(ss []string) []adapter.Room {
	if ss == nil {
		return nil
	}
	out := make([]adapter.Room, len(ss))
	for i, s := range ss {
		out[i] = adapter.Room(s)
	}
	return out
}

func fromRooms(rs []adapter.Room) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// field helpers on decoded requests

func (o object) str(key string) string {
	v, _ := o.get(key)
	s, _ := asString(v)
	return s
}

func (o object) has(key string) bool {
	v, ok := o.get(key)
	return ok && v != nil
}

func (o object) num(key string) (int64, bool) {
	v, _ := o.get(key)
	return asInt(v)
}

// wireOptsFromTree reads {rooms, except} of a request; none as in
// optsFromTree.
func wireOptsFromTree(v any) (o adapter.BroadcastOptions, none bool) {
	obj, _ := v.(object)
	if r, ok := obj.get("rooms"); ok {
		o.Rooms, none = roomsFromTree(r)
	}
	if r, ok := obj.get("except"); ok {
		o.Except = toRooms(asStrings(r))
	}
	return o, none
}

// socketInfoFromTree reads one socket of a REMOTE_FETCH response. Node
// handshakes may carry header or query values as arrays: headers are
// joined with ", ", queries keep their first value.
func socketInfoFromTree(v any) (adapter.SocketInfo, bool) {
	obj, ok := v.(object)
	if !ok {
		return adapter.SocketInfo{}, false
	}
	info := adapter.SocketInfo{ID: adapter.SocketID(obj.str("id"))}
	if info.ID == "" {
		return info, false
	}
	if r, ok := obj.get("rooms"); ok {
		info.Rooms = toRooms(asStrings(r))
	}
	if d, ok := obj.get("data"); ok && d != nil {
		if b, err := appendJSON(nil, d, 0); err == nil {
			var x any
			if json.Unmarshal(b, &x) == nil {
				info.Data = x
			}
		}
	}
	hv, _ := obj.get("handshake")
	h, _ := hv.(object)
	hs := &info.Handshake
	hs.Time = h.str("time")
	hs.Address = h.str("address")
	hs.URL = h.str("url")
	if x, ok := h.get("xdomain"); ok {
		hs.XDomain = truthy(x)
	}
	if x, ok := h.get("secure"); ok {
		hs.Secure = truthy(x)
	}
	if x, ok := h.get("issued"); ok {
		if n, ok := asNumber(x); ok {
			hs.Issued = int64(n)
		}
	}
	hs.Headers = stringMap(h, "headers", func(vals []string) string { return strings.Join(vals, ", ") })
	hs.Query = stringMap(h, "query", func(vals []string) string { return vals[0] })
	if a, ok := h.get("auth"); ok {
		if b, err := appendJSON(nil, a, 0); err == nil {
			hs.Auth = b
		}
	}
	if hs.Auth == nil {
		hs.Auth = []byte("{}")
	}
	return info, true
}

// stringMap reads an object of string (or string array) values.
func stringMap(h object, key string, join func([]string) string) map[string]string {
	v, _ := h.get(key)
	obj, ok := v.(object)
	if !ok {
		return map[string]string{}
	}
	out := make(map[string]string, len(obj))
	for _, m := range obj {
		switch x := m.value.(type) {
		case string:
			out[m.key] = x
		case []any:
			if vals := asStrings(x); len(vals) > 0 {
				out[m.key] = join(vals)
			}
		default:
			if s, ok := keyString(x); ok && x != nil {
				out[m.key] = s
			}
		}
	}
	return out
}

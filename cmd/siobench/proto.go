package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// frameKind classifies one Engine.IO text frame as far as the generator
// cares. Packets for a namespace other than "/" and binary Socket.IO
// packets are kindOther: the chat contract never sends them here.
type frameKind uint8

const (
	kindOther        frameKind = iota
	kindOpen                   // 0{...}        Engine.IO open; body is the JSON handshake
	kindClose                  // 1             Engine.IO close
	kindPing                   // 2             Engine.IO ping (server to client in v4)
	kindNoop                   // 6             Engine.IO noop
	kindConnect                // 40{...}       Socket.IO CONNECT on "/"; body is the JSON reply
	kindDisconnect             // 41            Socket.IO DISCONNECT on "/"
	kindEvent                  // 42[...]       Socket.IO EVENT on "/"; body starts at the ack id or '['
	kindAck                    // 43<id>[...]   Socket.IO ACK on "/"; body starts at the id
	kindConnectError           // 44{...}       Socket.IO CONNECT_ERROR on "/"
)

// Fixed frames the generator sends.
var (
	framePong    = []byte("3")
	frameConnect = []byte("40")
)

// classify returns the kind of text frame f and the bytes after its type
// prefix. It never allocates and never fails: anything unexpected is
// kindOther.
func classify(f []byte) (frameKind, []byte) {
	if len(f) == 0 {
		return kindOther, nil
	}
	switch f[0] {
	case '0':
		return kindOpen, f[1:]
	case '1':
		return kindClose, f[1:]
	case '2':
		return kindPing, f[1:]
	case '6':
		return kindNoop, f[1:]
	case '4':
	default:
		return kindOther, f[1:]
	}
	if len(f) < 2 {
		return kindOther, nil
	}
	body := f[2:]
	if len(body) > 0 && body[0] == '/' {
		return kindOther, body // another namespace
	}
	switch f[1] {
	case '0':
		return kindConnect, body
	case '1':
		return kindDisconnect, body
	case '2':
		return kindEvent, body
	case '3':
		return kindAck, body
	case '4':
		return kindConnectError, body
	}
	return kindOther, body
}

// splitAckID splits the body of an ACK (or EVENT) packet into its ack id
// and the JSON payload that follows. ok is false when body does not start
// with an id of at most 18 digits followed by '['.
func splitAckID(body []byte) (id uint64, payload []byte, ok bool) {
	i := 0
	for i < len(body) && i < 19 && body[i] >= '0' && body[i] <= '9' {
		id = id*10 + uint64(body[i]-'0')
		i++
	}
	if i == 0 || i > 18 || i >= len(body) || body[i] != '[' {
		return 0, nil, false
	}
	return id, body[i:], true
}

// handshake is the part of the Engine.IO open packet the generator uses.
type handshake struct {
	SID          string `json:"sid"`
	PingInterval int64  `json:"pingInterval"`
	PingTimeout  int64  `json:"pingTimeout"`
	MaxPayload   int64  `json:"maxPayload"`
}

// parseOpen decodes the JSON body of an Engine.IO open packet.
func parseOpen(body []byte) (handshake, error) {
	var h handshake
	if err := json.Unmarshal(body, &h); err != nil {
		return h, fmt.Errorf("open packet: %w", err)
	}
	if h.SID == "" {
		return h, errors.New("open packet: no sid")
	}
	return h, nil
}

// connectErrorMessage extracts the message of a CONNECT_ERROR body, which
// is {"message":...} in Socket.IO v5 (a bare string in older versions).
func connectErrorMessage(body []byte) string {
	var v struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil && v.Message != "" {
		return v.Message
	}
	var s string
	if json.Unmarshal(body, &s) == nil {
		return s
	}
	return string(truncate(body, 200))
}

// ackOK reports whether an ACK payload is [{"ok":true,...}] as the chat
// contract's join and room message acks are.
func ackOK(payload []byte) bool {
	return bytes.Contains(payload, []byte(`"ok":true`))
}

var (
	roomMessagePrefix = []byte(`["room message",`)
	msgKey            = []byte(`"msg":`)
	tKey              = []byte(`"t":`)
	seqKey            = []byte(`"seq":`)
	tObject           = []byte(`{"t":`)   // fast path: the msg object as sent
	seqNext           = []byte(`,"seq":`) // fast path: right after t
)

// parseRoomMessage extracts the send time t and sequence number seq from
// the body of a "room message" EVENT the chat node broadcasts:
//
//	["room message",{"room":...,"from":...,"msg":{"t":<t>,"seq":<seq>,...}}]
//
// Only the bytes needed are looked at; key order inside the objects does
// not matter. It never allocates.
func parseRoomMessage(body []byte) (t, seq int64, ok bool) {
	if !bytes.HasPrefix(body, roomMessagePrefix) {
		return 0, 0, false
	}
	if t, seq, ok = parseMsgInOrder(body); ok {
		return t, seq, true
	}
	i := bytes.Index(body, msgKey)
	if i < 0 {
		return 0, 0, false
	}
	msg := body[i+len(msgKey):]
	if t, ok = intAfter(msg, tKey); !ok {
		return 0, 0, false
	}
	if seq, ok = intAfter(msg, seqKey); !ok {
		return 0, 0, false
	}
	return t, seq, true
}

// parseMsgInOrder is the fast path of parseRoomMessage, for a msg object
// that kept the key order the generator sent ("msg":{"t":<t>,"seq":<seq>):
// one scan, for the rare '{', finds both numbers. A JSON string cannot
// hold the unescaped quotes of "msg":{"t":, so a match is the msg object.
// ok is false when body does not have that shape.
func parseMsgInOrder(body []byte) (t, seq int64, ok bool) {
	from := min(len(body), len(roomMessagePrefix)+1) // past the '{' of the outer object
	i := bytes.Index(body[from:], tObject) + from
	if i < from+len(msgKey) || !bytes.Equal(body[i-len(msgKey):i], msgKey) {
		return 0, 0, false
	}
	rest := body[i+len(tObject):]
	t, n, ok := scanNumber(rest)
	if !ok || !bytes.HasPrefix(rest[n:], seqNext) {
		return 0, 0, false
	}
	if seq, _, ok = scanNumber(rest[n+len(seqNext):]); !ok {
		return 0, 0, false
	}
	return t, seq, true
}

// intAfter finds key in b and parses the JSON number that follows it.
func intAfter(b, key []byte) (int64, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0, false
	}
	return scanInt(b[i+len(key):])
}

// scanInt parses the JSON number at the start of b (after optional
// spaces) as an int64. Integers are parsed without allocating; a number
// with a fraction or exponent (a peer that re-encoded it as a float) is
// parsed as a float and truncated.
func scanInt(b []byte) (int64, bool) {
	v, _, ok := scanNumber(b)
	return v, ok
}

// scanNumber is scanInt that also returns how many bytes of b it used.
func scanNumber(b []byte) (v int64, used int, ok bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i-start >= 18 {
			return 0, 0, false // would overflow; not a value this tool sends
		}
		v = v*10 + int64(b[i]-'0')
		i++
	}
	if i == start {
		return 0, 0, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		for i < len(b) && bytes.IndexByte([]byte("0123456789.eE+-"), b[i]) >= 0 {
			i++
		}
		f, err := strconv.ParseFloat(string(b[start:i]), 64)
		if err != nil || f > 9e18 {
			return 0, 0, false
		}
		v = int64(f)
	}
	if neg {
		v = -v
	}
	return v, i, true
}

// appendRoomMessage appends the EVENT frame
//
//	42<id>["room message",<room>,{"t":<t>,"seq":<seq>[,"p":"<pad>"]}]
//
// roomJSON is the room name already encoded as a JSON string; pad is
// plain ASCII that needs no escaping.
func appendRoomMessage(dst []byte, id uint64, roomJSON []byte, t, seq int64, pad []byte) []byte {
	dst = append(dst, '4', '2')
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `["room message",`...)
	dst = append(dst, roomJSON...)
	dst = append(dst, `,{"t":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	if len(pad) > 0 {
		dst = append(dst, `,"p":"`...)
		dst = append(dst, pad...)
		dst = append(dst, '"')
	}
	return append(dst, '}', ']')
}

// appendJoin appends the EVENT frame 42<id>["join",<room>].
func appendJoin(dst []byte, id uint64, roomJSON []byte) []byte {
	dst = append(dst, '4', '2')
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `["join",`...)
	dst = append(dst, roomJSON...)
	return append(dst, ']')
}

// appendEcho appends the EVENT frame 42<id>["echo",<payload>]; payloadJSON
// is already JSON.
func appendEcho(dst []byte, id uint64, payloadJSON []byte) []byte {
	dst = append(dst, '4', '2')
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `["echo",`...)
	dst = append(dst, payloadJSON...)
	return append(dst, ']')
}

// truncate bounds b for error messages.
func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

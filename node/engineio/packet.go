package engineio

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// packetType is an Engine.IO v4 packet type (the digit on the wire minus '0').
type packetType byte

// The Engine.IO v4 packet types.
const (
	ptOpen packetType = iota
	ptClose
	ptPing
	ptPong
	ptMessage
	ptUpgrade
	ptNoop
)

// recordSeparator joins packets in a long-polling payload.
const recordSeparator = 0x1e

var packetTypeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns Node's name of the packet type ("message", "ping", ...).
func (t packetType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "error"
}

// errParse reports a malformed Engine.IO packet or payload.
var errParse = errors.New("engineio: parse error")

// packet is one decoded Engine.IO packet. data aliases the decoded input (or
// the scratch buffer for base64 binary) and is only valid until the next
// decode.
type packet struct {
	typ    packetType
	data   []byte
	binary bool
}

// decodePacket decodes one text-encoded packet as engine.io-parser's
// decodePacket does: "<digit>[data]", or "b<base64>" for a binary message.
// Base64 data (padding optional) is decoded into *scratch (grown as needed). Anything else is
// errParse.
func decodePacket(s []byte, scratch *[]byte) (packet, error) {
	if len(s) == 0 {
		return packet{}, errParse
	}
	c := s[0]
	if c == 'b' {
		// Padding is optional, as with Node's Buffer.from(s, "base64").
		enc := bytes.TrimRight(s[1:], "=")
		n := base64.RawStdEncoding.DecodedLen(len(enc))
		if cap(*scratch) < n {
			*scratch = make([]byte, n)
		}
		buf := (*scratch)[:n]
		m, err := base64.RawStdEncoding.Decode(buf, enc)
		if err != nil {
			return packet{}, errParse
		}
		return packet{typ: ptMessage, data: buf[:m], binary: true}, nil
	}
	if c < '0' || c > '6' {
		return packet{}, errParse
	}
	return packet{typ: packetType(c - '0'), data: s[1:]}, nil
}

// decodePayload splits a long-polling payload on the record separator and
// calls fn for each decoded packet, in order. It stops at the first
// malformed packet (returning errParse, after the packets before it were
// delivered, as engine.io-parser does) or when fn returns false.
func decodePayload(body []byte, scratch *[]byte, fn func(p packet) bool) error {
	for {
		i := bytes.IndexByte(body, recordSeparator)
		chunk := body
		if i >= 0 {
			chunk = body[:i]
		}
		p, err := decodePacket(chunk, scratch)
		if err != nil {
			return err
		}
		if !fn(p) {
			return nil
		}
		if i < 0 {
			return nil
		}
		body = body[i+1:]
	}
}

// appendPacket appends the text encoding of a packet: "<digit><data>", or
// "b<base64>" for binary data.
func appendPacket(dst []byte, typ packetType, data []byte, binary bool) []byte {
	if binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, data)
	}
	dst = append(dst, '0'+byte(typ))
	return append(dst, data...)
}

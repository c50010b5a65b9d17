package engineio

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// The websocket protocol (RFC 6455) as the server needs it: the opening
// handshake, and the parsing of client frames. Outgoing frames are built
// by Message.appendWSHeader and controlFrame. No extension is negotiated
// (Node's engine.io has perMessageDeflate off by default), so every RSV
// bit must be clear.
//
// Why not gorilla/websocket on the server side: its Conn keeps ~1.2 KB of
// reader state per connection and can only be read by a goroutine blocked
// inside it, whose stack (4-8 KB) is most of an idle connection's memory.
// Reading frames ourselves lets an idle connection park with no goroutine
// and no buffer (see wsConn).

// Websocket opcodes (RFC 6455 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close status codes (RFC 6455 7.4.1).
const (
	closeNormal         = 1000
	closeProtocolError  = 1002
	closeInvalidPayload = 1007
	closeTooBig         = 1009
	closeTryAgainLater  = 1013
)

// wsGUID is the key suffix of the opening handshake (RFC 6455 1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsError is a websocket protocol violation by the client: the connection
// is closed with code after a close frame carrying it.
type wsError struct {
	code uint16
	msg  string
}

func (e *wsError) Error() string { return "websocket: " + e.msg }

var (
	errWSUnmasked        = &wsError{closeProtocolError, "client frame not masked"}
	errWSReservedBits    = &wsError{closeProtocolError, "reserved bits set"}
	errWSBadOpcode       = &wsError{closeProtocolError, "unknown opcode"}
	errWSControlFrame    = &wsError{closeProtocolError, "fragmented or oversized control frame"}
	errWSBadLength       = &wsError{closeProtocolError, "invalid payload length"}
	errWSContinuation    = &wsError{closeProtocolError, "continuation frame without a message"}
	errWSFragmentPending = &wsError{closeProtocolError, "new message inside a fragmented one"}
	errWSBadClose        = &wsError{closeProtocolError, "invalid close frame"}
	errWSTooBig          = &wsError{closeTooBig, "message exceeds maxHttpBufferSize"}
	errWSBadUTF8         = &wsError{closeInvalidPayload, "invalid UTF-8 in text message"}
)

// isWebSocketUpgrade reports whether r asks for a websocket upgrade
// ("Connection: upgrade" and "Upgrade: websocket" tokens).
func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header holds token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// errHandshake marks a failed opening handshake (already answered).
var errHandshake = errors.New("websocket: bad handshake")

// upgradeWS runs the server side of the opening handshake (RFC 6455 4.2.2)
// and returns the hijacked network connection, with no deadline set and
// nothing buffered. On failure the request has been answered (an Engine.IO
// error body with the HTTP status gorilla/websocket would use) and the
// error says why.
func (s *Server) upgradeWS(w http.ResponseWriter, r *http.Request) (net.Conn, error) {
	fail := func(status int, why string) (net.Conn, error) {
		writeErrorMessage(w, codeBadRequest, errorMessages[codeBadRequest], status)
		return nil, errors.New("websocket: " + why)
	}
	if r.Method != http.MethodGet {
		return fail(http.StatusMethodNotAllowed, "request method is not GET")
	}
	if !isWebSocketUpgrade(r) {
		return fail(http.StatusBadRequest, "missing upgrade tokens")
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return fail(http.StatusBadRequest, "unsupported version")
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return fail(http.StatusBadRequest, "invalid Sec-WebSocket-Key")
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return fail(http.StatusInternalServerError, "cannot hijack: "+err.Error())
	}
	if brw.Reader.Buffered() > 0 {
		_ = nc.Close()
		return nil, errors.New("websocket: client sent data before the handshake completed")
	}
	// Clear the deadlines net/http set for reading the request.
	_ = nc.SetDeadline(time.Time{})
	sum := sha1.Sum([]byte(key + wsGUID))
	resp := make([]byte, 0, 160)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = base64.StdEncoding.AppendEncode(resp, sum[:])
	resp = append(resp, "\r\n\r\n"...)
	_ = nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if _, err := nc.Write(resp); err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetWriteDeadline(time.Time{})
	return nc, nil
}

// frameHeader is a parsed client frame header.
type frameHeader struct {
	fin    bool
	op     byte
	hdrLen int   // header bytes, mask key included
	length int64 // payload bytes
}

// parseFrameHeader parses the client frame header at the start of b. ok is
// false when b does not hold the whole header yet.
func parseFrameHeader(b []byte) (h frameHeader, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	b0, b1 := b[0], b[1]
	if b0&0x70 != 0 {
		return h, false, errWSReservedBits
	}
	if b1&0x80 == 0 {
		return h, false, errWSUnmasked
	}
	h.fin = b0&0x80 != 0
	h.op = b0 & 0x0f
	h.length = int64(b1 & 0x7f)
	h.hdrLen = 2
	switch h.length {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		h.hdrLen = 4
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return h, false, errWSBadLength
		}
		h.length = int64(u)
		h.hdrLen = 10
	}
	switch h.op {
	case opText, opBinary, opContinuation:
	case opClose, opPing, opPong:
		if !h.fin || h.length > 125 {
			return h, false, errWSControlFrame
		}
	default:
		return h, false, errWSBadOpcode
	}
	h.hdrLen += 4 // mask key
	if len(b) < h.hdrLen {
		return h, false, nil
	}
	return h, true, nil
}

// unmask XORs b with the 4-byte mask key, eight bytes at a time.
func unmask(b []byte, key []byte) {
	k := binary.LittleEndian.Uint32(key)
	k8 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		binary.LittleEndian.PutUint64(b[i:], v^k8)
	}
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}

// controlFrame returns a server control frame (unmasked, final).
func controlFrame(op byte, payload []byte) []byte {
	f := make([]byte, 0, 2+len(payload))
	f = append(f, 0x80|op, byte(len(payload)))
	return append(f, payload...)
}

// closeFrame returns a close frame with code (and no reason).
func closeFrame(code uint16) []byte {
	return controlFrame(opClose, []byte{byte(code >> 8), byte(code)})
}

// validCloseCode reports whether a client may send code in a close frame
// (RFC 6455 7.4).
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

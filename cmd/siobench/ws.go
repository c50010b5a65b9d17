package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The generator speaks the client side of RFC 6455 itself: a plain
// HTTP/1.1 upgrade, masked client frames written with one Write call, and
// a frame decoder over the connection's own read buffer. Compared with a
// general WebSocket library this costs no per-message allocation, no
// writer lock and no per-frame reader object, and reads every frame that
// is already buffered without another system call.

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// wsReadBuf is the initial read buffer of a connection; it grows up to
// the largest frame accepted when a bigger frame arrives.
const wsReadBuf = 2048

// wsGUID is the key suffix of the opening handshake (RFC 6455 section 1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var (
	errWSMaskedFrame   = errors.New("websocket: server sent a masked frame")
	errWSReservedBits  = errors.New("websocket: frame with reserved bits set")
	errWSBadControl    = errors.New("websocket: fragmented or oversized control frame")
	errWSContinuation  = errors.New("websocket: continuation frame without a message")
	errWSInterleaved   = errors.New("websocket: data frame inside a fragmented message")
	errWSBadLength     = errors.New("websocket: invalid payload length")
	errWSUnknownOpcode = errors.New("websocket: unknown opcode")
)

// dialWS opens a WebSocket connection to rawURL (ws:// or wss://) and
// completes the opening handshake, bounded by ctx. leftover holds the
// bytes the server sent after its handshake response (the start of the
// first frames), which the caller must decode before reading conn.
//
// The handshake is done here rather than by a library so that those
// leftover bytes, already read into the handshake's buffer, can be handed
// to the frame decoder.
func dialWS(ctx context.Context, rawURL string) (conn net.Conn, leftover []byte, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	var d net.Dialer
	tcp, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, nil, err
	}
	conn = tcp
	// Cancelling ctx aborts a handshake blocked in a read or write.
	stop := context.AfterFunc(ctx, func() { _ = tcp.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			_ = conn.Close()
			conn, leftover = nil, nil
		}
	}()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if u.Scheme == "wss" {
		tc := tls.Client(conn, &tls.Config{ServerName: host})
		if err = tc.HandshakeContext(ctx); err != nil {
			return conn, nil, err
		}
		conn = tc
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err = io.WriteString(conn, req); err != nil {
		return conn, nil, err
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		return conn, nil, err
	}
	_ = resp.Body.Close() // a 101 response has no body; others are not read
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return conn, nil, fmt.Errorf("websocket: bad handshake (HTTP %d)", resp.StatusCode)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		!headerHasToken(resp.Header, "Connection", "upgrade") ||
		resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		return conn, nil, errors.New("websocket: bad handshake response headers")
	}
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		leftover = append([]byte(nil), p...)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, leftover, nil
}

// acceptKey is the Sec-WebSocket-Accept value expected for key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// headerHasToken reports whether the comma-separated header name holds
// token (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// appendClientFrame appends one final client frame with opcode op and
// payload p, masked with key as RFC 6455 section 5.3 requires of a client.
// The key only has to be unpredictable to intermediaries; callers take it
// from math/rand/v2, which is cheap and good enough for a load generator.
func appendClientFrame(dst []byte, op byte, p []byte, key uint32) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(p); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = binary.BigEndian.AppendUint32(dst, key)
	start := len(dst)
	dst = append(dst, p...)
	maskBytes(dst[start:], key)
	return dst
}

// maskBytes XORs b with the 4-byte masking key (first key byte first).
func maskBytes(b []byte, key uint32) {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], key)
	k8 := uint64(binary.LittleEndian.Uint32(k[:]))
	k8 |= k8 << 32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k8)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= k[i&3]
	}
}

// wsReader decodes the frames a server sends on one connection from its
// own buffer, reading from src only when no complete frame is buffered,
// so that several small frames cost one read. It is used by one
// goroutine at a time.
type wsReader struct {
	src  io.Reader
	max  int    // largest message accepted, in bytes
	buf  []byte // buf[r:w] is read but not decoded yet
	r, w int
	frag []byte // payload of the fragmented message being assembled
	fop  byte   // opcode of that message; 0 when none
}

// init prepares rd to decode src, which has already delivered leftover,
// with messages of at most maxMsg bytes.
func (rd *wsReader) init(src io.Reader, maxMsg int, leftover []byte) {
	*rd = wsReader{src: src, max: maxMsg, buf: make([]byte, max(wsReadBuf, len(leftover)))}
	rd.w = copy(rd.buf, leftover)
}

// next returns the next complete message (opText or opBinary, with
// fragments joined) or control frame (opPing, opPong, opClose). The
// payload is valid until the following call. It reads from src as needed
// and fails when src fails or the server breaks the protocol.
func (rd *wsReader) next() (op byte, payload []byte, err error) {
	for {
		op, payload, need, err := rd.decode()
		if err != nil || need == 0 {
			return op, payload, err
		}
		if err := rd.fill(need); err != nil {
			return 0, nil, err
		}
	}
}

// decode takes the next message or control frame out of the buffered
// bytes. When they do not hold a complete one it returns need > 0, the
// number of buffered bytes the frame being decoded needs in all.
func (rd *wsReader) decode() (op byte, payload []byte, need int, err error) {
	for {
		b := rd.buf[rd.r:rd.w]
		if len(b) < 2 {
			return 0, nil, 2, nil
		}
		fin, op := b[0]&0x80 != 0, b[0]&0x0F
		if b[0]&0x70 != 0 {
			return 0, nil, 0, errWSReservedBits
		}
		if b[1]&0x80 != 0 {
			return 0, nil, 0, errWSMaskedFrame
		}
		hdr, n := 2, uint64(b[1]&0x7F)
		switch n {
		case 126:
			hdr = 4
		case 127:
			hdr = 10
		}
		if len(b) < hdr {
			return 0, nil, hdr, nil
		}
		switch hdr {
		case 4:
			n = uint64(binary.BigEndian.Uint16(b[2:]))
		case 10:
			n = binary.BigEndian.Uint64(b[2:])
			if n>>63 != 0 {
				return 0, nil, 0, errWSBadLength
			}
		}
		if op >= opClose {
			if !fin || n > 125 {
				return 0, nil, 0, errWSBadControl
			}
		} else {
			total := n
			if op == opContinuation {
				total += uint64(len(rd.frag))
			}
			if total > uint64(rd.max) {
				return 0, nil, 0, fmt.Errorf("websocket: message of %d bytes exceeds the limit of %d", total, rd.max)
			}
		}
		end := hdr + int(n)
		if len(b) < end {
			return 0, nil, end, nil
		}
		p := b[hdr:end]
		rd.r += end
		switch op {
		case opText, opBinary:
			if rd.fop != 0 {
				return 0, nil, 0, errWSInterleaved
			}
			if fin {
				return op, p, 0, nil
			}
			rd.fop, rd.frag = op, append(rd.frag[:0], p...)
		case opContinuation:
			if rd.fop == 0 {
				return 0, nil, 0, errWSContinuation
			}
			rd.frag = append(rd.frag, p...)
			if fin {
				op, rd.fop = rd.fop, 0
				return op, rd.frag, 0, nil
			}
		case opClose, opPing, opPong:
			return op, p, 0, nil
		default:
			return 0, nil, 0, errWSUnknownOpcode
		}
	}
}

// fill reads from src until at least need bytes are buffered.
func (rd *wsReader) fill(need int) error {
	rd.makeRoom(need)
	for rd.w-rd.r < need {
		n, err := rd.src.Read(rd.buf[rd.w:])
		rd.w += n
		if err != nil && rd.w-rd.r < need {
			if err == io.EOF && rd.w > rd.r {
				err = io.ErrUnexpectedEOF // EOF inside a frame
			}
			return err
		}
	}
	return nil
}

// makeRoom prepares the buffer to hold need undecoded bytes: it moves
// the undecoded tail to the front when too little room is left behind it
// (for this frame, or for a read that can take several frames), and
// grows the buffer for a frame larger than it.
func (rd *wsReader) makeRoom(need int) {
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
	}
	switch {
	case need > len(rd.buf):
		nb := make([]byte, max(need, min(2*len(rd.buf), rd.max+14)))
		rd.w = copy(nb, rd.buf[rd.r:rd.w])
		rd.r, rd.buf = 0, nb
	case rd.r > 0 && (rd.r+need > len(rd.buf) || len(rd.buf)-rd.w < len(rd.buf)/4):
		rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r = 0
	}
}

// closeCode returns the status code of a close frame payload (1005, "no
// status", when it has none) and its reason.
func closeCode(p []byte) (int, string) {
	if len(p) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(p)), string(p[2:])
}

package engineio

import (
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// Message is an encoded outgoing Engine.IO message packet. It is immutable
// once built and may be shared by many connections (a broadcast builds it
// once); the websocket frame is prepared once, lazily.
//
// The first connection that writes a Message over a websocket writes it
// directly; from the second one on, the frame is built once as a gorilla
// PreparedMessage and reused, so a broadcast pays for one frame encoding
// while a message sent to a single connection costs no preparation.
type Message struct {
	// typ is the packet type; data messages are ptMessage, the others are
	// the server's own control packets (ping, pong probe, noop, open).
	typ packetType
	// binary marks a binary message: data is the raw payload. Otherwise
	// data is the full text frame, type digit included ("4hello").
	binary bool
	data   []byte

	// uses counts websocket writes; the frame is prepared from the second.
	uses     atomic.Int32
	prepOnce sync.Once
	prepared atomic.Pointer[websocket.PreparedMessage]
}

// NewTextMessage returns a text message packet carrying s. s is copied.
func NewTextMessage(s []byte) *Message {
	d := make([]byte, len(s)+1)
	d[0] = '0' + byte(ptMessage)
	copy(d[1:], s)
	return &Message{typ: ptMessage, data: d}
}

// NewBinaryMessage returns a binary message packet carrying b. The Message
// takes ownership of b: the caller must not modify it afterwards.
func NewBinaryMessage(b []byte) *Message {
	if b == nil {
		b = []byte{}
	}
	return &Message{typ: ptMessage, binary: true, data: b}
}

// newControlMessage returns a server control packet ("2", "3probe", "6",
// "0{...}").
func newControlMessage(typ packetType, payload string) *Message {
	d := make([]byte, 0, len(payload)+1)
	d = append(d, '0'+byte(typ))
	d = append(d, payload...)
	return &Message{typ: typ, data: d}
}

// Shared control packets: immutable, so one instance serves every session.
var (
	pingMessage      = newControlMessage(ptPing, "")
	pongProbeMessage = newControlMessage(ptPong, "probe")
)

// size is the number of bytes the message accounts for in a queue.
func (m *Message) size() int { return len(m.data) }

// payloadLen is the payload length reported to the PacketOut hook.
func (m *Message) payloadLen() int {
	if m.binary {
		return len(m.data)
	}
	return len(m.data) - 1
}

// wsType returns the websocket frame type of the message.
func (m *Message) wsType() int {
	if m.binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// writeWS writes the message as one websocket frame on ws. Only the
// connection's single writer calls it.
func (m *Message) writeWS(ws *websocket.Conn) error {
	if pm := m.prepared.Load(); pm != nil {
		return ws.WritePreparedMessage(pm)
	}
	if m.uses.Add(1) == 1 {
		// First use: a plain write avoids preparing a frame for a message
		// that may only ever go to one connection.
		return ws.WriteMessage(m.wsType(), m.data)
	}
	m.prepOnce.Do(func() {
		// NewPreparedMessage only fails on compression errors; we never
		// compress, so on failure prepared stays nil and we write plainly.
		if pm, err := websocket.NewPreparedMessage(m.wsType(), m.data); err == nil {
			m.prepared.Store(pm)
		}
	})
	if pm := m.prepared.Load(); pm != nil {
		return ws.WritePreparedMessage(pm)
	}
	return ws.WriteMessage(m.wsType(), m.data)
}

// appendPolling appends the message's long-polling encoding.
func (m *Message) appendPolling(dst []byte) []byte {
	if m.binary {
		return appendPacket(dst, ptMessage, m.data, true)
	}
	return append(dst, m.data...)
}

// pollingLen is an upper bound of the long-polling encoding's length.
func (m *Message) pollingLen() int {
	if m.binary {
		return 1 + (len(m.data)+2)/3*4
	}
	return len(m.data)
}

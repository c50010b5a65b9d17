package engineio

// Message is an encoded outgoing Engine.IO message packet. It is immutable
// once built and may be shared by many connections (a broadcast builds it
// once and queues the same pointer to every recipient). Its websocket frame
// header is a few bytes computed by each writer as it copies the payload
// into its batch buffer, so sharing a Message costs nothing per recipient.
type Message struct {
	// typ is the packet type; data messages are ptMessage, the others are
	// the server's own control packets (ping, pong probe, noop, open).
	typ packetType
	// binary marks a binary message: data is the raw payload. Otherwise
	// data is the full text frame, type digit included ("4hello").
	binary bool
	// op, when not zero, makes the message a websocket control frame of
	// that opcode (a pong answering a client ping): not an Engine.IO
	// packet, never counted by the packet hooks.
	op   byte
	data []byte
}

// NewTextMessage returns a text message packet carrying s. s is copied.
func NewTextMessage(s []byte) *Message {
	d := make([]byte, len(s)+1)
	d[0] = '0' + byte(ptMessage)
	copy(d[1:], s)
	return &Message{typ: ptMessage, data: d}
}

// NewTextMessageOwned returns a text message packet whose text is b[1:],
// without copying: b[0] is a spare byte it overwrites with the packet type,
// and the Message takes ownership of b (the caller must not modify it
// afterwards). It saves NewTextMessage's allocation and copy to a caller
// that encodes each packet straight into its message buffer (one per
// Socket.IO emit or ack).
func NewTextMessageOwned(b []byte) *Message {
	b[0] = '0' + byte(ptMessage)
	return &Message{typ: ptMessage, data: b}
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

// size is the number of bytes the message accounts for in a queue: its
// data, and for a websocket control frame also controlOverhead.
func (m *Message) size() int {
	if m.op != 0 {
		return len(m.data) + controlOverhead
	}
	return len(m.data)
}

// controlOverhead is what a queued control frame (a pong answering a
// client's ping) counts in the queue beyond its payload: about the memory
// of its Message and queue slot. Pings are the client's to send, and an
// empty pong counted as 0 bytes let a client that sends pings without
// reading grow its queue without bound under MaxQueueBytes.
const controlOverhead = 64

// payloadLen is the payload length reported to the PacketOut hook.
func (m *Message) payloadLen() int {
	if m.binary {
		return len(m.data)
	}
	return len(m.data) - 1
}

// maxWSHeaderLen is the longest server frame header (no mask).
const maxWSHeaderLen = 10

// appendWSHeader appends the header of the message's websocket frame: one
// final frame, text or binary, unmasked (RFC 6455 5.2: a server never masks).
func (m *Message) appendWSHeader(dst []byte) []byte {
	op := byte(0x80 | opText)
	switch {
	case m.op != 0:
		op = 0x80 | m.op
	case m.binary:
		op = 0x80 | opBinary
	}
	n := len(m.data)
	switch {
	case n < 126:
		return append(dst, op, byte(n))
	case n <= 0xffff:
		return append(dst, op, 126, byte(n>>8), byte(n))
	default:
		u := uint64(n)
		return append(dst, op, 127, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
			byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
}

// appendFrame appends the message's whole websocket frame.
func (m *Message) appendFrame(dst []byte) []byte {
	return append(m.appendWSHeader(dst), m.data...)
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

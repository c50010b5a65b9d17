package parser

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Type is a Socket.IO v5 packet type.
type Type byte

// The packet types.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

// String returns the upper-case protocol name of t ("CONNECT",
// "BINARY_EVENT", ...), or "UNKNOWN(n)" for a value outside 0–6.
func (t Type) String() string {
	switch t {
	case Connect:
		return "CONNECT"
	case Disconnect:
		return "DISCONNECT"
	case Event:
		return "EVENT"
	case Ack:
		return "ACK"
	case ConnectError:
		return "CONNECT_ERROR"
	case BinaryEvent:
		return "BINARY_EVENT"
	case BinaryAck:
		return "BINARY_ACK"
	}
	return "UNKNOWN(" + strconv.Itoa(int(t)) + ")"
}

// Packet is one decoded or to-be-encoded Socket.IO packet.
type Packet struct {
	Type Type
	// Nsp is the namespace; "/" when absent on the wire.
	Nsp string
	// ID is the ack id, valid when HasID.
	ID    uint64
	HasID bool
	// Data is the JSON payload exactly as on the wire (placeholders
	// included), nil when absent.
	Data json.RawMessage
	// Attachments are the binary attachments, in placeholder order.
	Attachments [][]byte
}

// ErrInvalidPacket wraps every decoding error.
var ErrInvalidPacket = errors.New("parser: invalid packet")

// Encode returns the text form of p ("<type>[<n>-][<nsp>,][<id>][data]").
// The caller sends it first, then each of p.Attachments as a binary
// message, in order. The attachment count written for BinaryEvent and
// BinaryAck is len(p.Attachments); for the other types no count is written
// and Attachments is ignored. The namespace is written only when it is
// neither "" nor "/"; it must not contain a comma (a comma ends the
// namespace on the wire, so such a packet would decode differently; the
// Decoder never produces one, callers registering namespaces must refuse
// them). The ack id is written when HasID. Encode does not inspect Data: it
// is appended as is.
func Encode(p *Packet) []byte {
	binary := p.Type == BinaryEvent || p.Type == BinaryAck
	b := make([]byte, 0, headerMaxLen(p, binary)+len(p.Data))
	b = appendHeader(b, p, binary, len(p.Attachments))
	return append(b, p.Data...)
}

// headerMaxLen bounds the length of p's header ("<type>[<n>-][<nsp>,][<id>]").
func headerMaxLen(p *Packet, binary bool) int {
	n := 1 + len(p.Nsp) + 1 + 20 // type, nsp and ',', id (<= 20 digits)
	if binary {
		n += 21 // count (<= 20 digits) and '-'
	}
	return n
}

// appendHeader appends p's header: with binary, the attachment count
// natt follows the type.
func appendHeader(b []byte, p *Packet, binary bool, natt int) []byte {
	b = strconv.AppendUint(b, uint64(p.Type), 10)
	if binary {
		b = strconv.AppendInt(b, int64(natt), 10)
		b = append(b, '-')
	}
	if p.Nsp != "" && p.Nsp != "/" {
		b = append(b, p.Nsp...)
		b = append(b, ',')
	}
	if p.HasID {
		b = strconv.AppendUint(b, p.ID, 10)
	}
	return b
}

// EncodePacket encodes p with values as its payload, in the form Encode
// writes, into one buffer whose first reserve bytes are left zero for the
// caller: the text starts at b[reserve]. A transport that prefixes each
// message (Engine.IO writes its packet type) can then send the buffer
// as it is, where Encode's result would be copied.
//
// The payload is EncodeData(values); p.Data and p.Attachments are
// ignored. The written type follows the values: an EVENT (Event or
// BinaryEvent in p.Type) is written as BinaryEvent, with its attachment
// count, when values hold binary and as Event otherwise; ACK likewise.
// The attachments are returned, to be sent after the text, in order.
// Binary values in a packet of another type are an error. The namespace
// rule of Encode applies.
func EncodePacket(p *Packet, values []any, reserve int) (b []byte, attachments [][]byte, err error) {
	h := *p
	switch h.Type {
	case BinaryEvent:
		h.Type = Event
	case BinaryAck:
		h.Type = Ack
	}
	e := dataEncoder{buf: make([]byte, reserve, reserve+headerMaxLen(&h, false)+estimateSize(values))}
	e.buf = appendHeader(e.buf, &h, false, 0)
	hdr := len(e.buf)
	if err := e.array(values); err != nil {
		return nil, nil, err
	}
	if len(e.atts) == 0 {
		return e.buf, nil, nil
	}
	switch h.Type {
	case Event:
		h.Type = BinaryEvent
	case Ack:
		h.Type = BinaryAck
	default:
		return nil, nil, fmt.Errorf("parser: encode packet: binary data in a %s packet", h.Type)
	}
	// The attachment count goes before the namespace: write the header
	// again (binary packets are the rare case).
	data := e.buf[hdr:]
	b = make([]byte, reserve, reserve+headerMaxLen(&h, true)+len(data))
	b = appendHeader(b, &h, true, len(e.atts))
	return append(b, data...), e.atts, nil
}

// IsReservedEvent reports whether name is reserved ("connect",
// "connect_error", "disconnect", "disconnecting", "newListener",
// "removeListener").
func IsReservedEvent(name string) bool {
	switch name {
	case "connect", "connect_error", "disconnect", "disconnecting",
		"newListener", "removeListener":
		return true
	}
	return false
}

// isReservedBytes is IsReservedEvent without the string conversion
// allocation (the compiler does not allocate for a switch on string(b)).
func isReservedBytes(name []byte) bool {
	switch string(name) {
	case "connect", "connect_error", "disconnect", "disconnecting",
		"newListener", "removeListener":
		return true
	}
	return false
}

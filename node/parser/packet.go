package parser

import (
	"encoding/json"
	"errors"
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
	nsp := p.Nsp
	if nsp == "/" {
		nsp = ""
	}
	// type + count + '-' + nsp + ',' + id (<= 20 digits) + data
	size := 1 + len(nsp) + 1 + 20 + len(p.Data)
	binary := p.Type == BinaryEvent || p.Type == BinaryAck
	if binary {
		size += 21
	}
	b := make([]byte, 0, size)
	b = strconv.AppendUint(b, uint64(p.Type), 10)
	if binary {
		b = strconv.AppendInt(b, int64(len(p.Attachments)), 10)
		b = append(b, '-')
	}
	if nsp != "" {
		b = append(b, nsp...)
		b = append(b, ',')
	}
	if p.HasID {
		b = strconv.AppendUint(b, p.ID, 10)
	}
	return append(b, p.Data...)
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

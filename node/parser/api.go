package parser

// API CONTRACT (written first so node/ can build against it; the
// implementation fills in the bodies and may add unexported helpers, but the
// exported names and signatures below are fixed).

import (
	"encoding/json"
	"errors"
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

// Encode returns the text form of p ("<type>[<n>-][<nsp>,][<id>][data]")
// followed by its attachments. The attachment count is len(p.Attachments);
// Encode does not inspect Data.
func Encode(p *Packet) []byte { panic("todo") }

// Decoder reassembles packets from Engine.IO messages. Not goroutine-safe:
// one per connection.
type Decoder struct{}

// NewDecoder returns a Decoder that accepts at most maxAttachments
// attachments per packet (10 when <= 0).
func NewDecoder(maxAttachments int) *Decoder { panic("todo") }

// Add feeds one Engine.IO message. It returns a complete packet, or nil
// while attachments are still awaited. Every validation rule of the
// reference parser applies; an error wraps ErrInvalidPacket and the
// decoder must then be discarded.
func (d *Decoder) Add(data []byte, binary bool) (*Packet, error) { panic("todo") }

// IsReservedEvent reports whether name is reserved ("connect",
// "connect_error", "disconnect", "disconnecting", "newListener",
// "removeListener").
func IsReservedEvent(name string) bool { panic("todo") }

// EncodeData marshals values as a JSON array, replacing every []byte (at
// any depth, in slices, arrays, maps and json-marshalable structs' fields
// of type any) with {"_placeholder":true,"num":i} and returning the
// attachments in order. json.RawMessage values are copied byte for byte.
func EncodeData(values []any) (data json.RawMessage, attachments [][]byte, err error) { panic("todo") }

// DecodeData splits a JSON array payload into its elements. An element
// that is a placeholder becomes the attachment ([]byte); an element
// containing placeholders deeper becomes a decoded value (map[string]any,
// []any, ...) with []byte in their place; any other element stays a
// json.RawMessage, byte for byte. A placeholder whose num is out of range
// is an error.
func DecodeData(data json.RawMessage, attachments [][]byte) ([]any, error) { panic("todo") }

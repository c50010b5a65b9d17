package parser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// defaultMaxAttachments is the attachment limit of a Decoder built with
// maxAttachments <= 0 (and of the zero Decoder), as in socket.io-parser.
const defaultMaxAttachments = 10

// maxAckID is the largest ack id accepted: 2^53-1, the largest integer a
// JavaScript peer can represent exactly (Number.MAX_SAFE_INTEGER).
const maxAckID = 1<<53 - 1

// Decoder reassembles packets from Engine.IO messages. Not goroutine-safe:
// one per connection. The zero value is ready to use and accepts at most 10
// attachments per packet.
type Decoder struct {
	maxAttachments int
	// pending is the binary packet whose attachments are being collected,
	// nil when none; want is its announced attachment count.
	pending *Packet
	want    int
	// nsp is the last namespace decoded, reused while the peer keeps
	// using it (saves a string allocation per packet).
	nsp string
}

// NewDecoder returns a Decoder that accepts at most maxAttachments
// attachments per packet (10 when <= 0).
func NewDecoder(maxAttachments int) *Decoder {
	return &Decoder{maxAttachments: maxAttachments}
}

func (d *Decoder) limit() int {
	if d.maxAttachments <= 0 {
		return defaultMaxAttachments
	}
	return d.maxAttachments
}

// Add feeds one Engine.IO message. It returns a complete packet, or nil
// while attachments are still awaited. Every validation rule of the
// reference parser applies; an error wraps ErrInvalidPacket and the
// decoder must then be discarded.
//
// Add copies what it keeps: the caller may reuse data once Add returns.
// The returned packet keeps its wire type (a BINARY_EVENT stays
// BinaryEvent) and owns its Data and Attachments.
func (d *Decoder) Add(data []byte, binary bool) (*Packet, error) {
	p := new(Packet)
	done, err := d.AddTo(p, data, binary)
	if !done {
		return nil, err
	}
	return p, nil
}

// AddTo is Add that stores a complete packet in *p, reporting true, rather
// than returning a new one: a caller done with the packet once it has
// handled it can keep p on its stack (one allocation less per packet).
// When AddTo reports false (attachments awaited, or an error), *p is
// unspecified.
func (d *Decoder) AddTo(p *Packet, data []byte, binary bool) (bool, error) {
	if binary {
		if d.pending == nil {
			return false, invalidf("binary message received while no packet awaits attachments")
		}
		pp := d.pending
		pp.Attachments = append(pp.Attachments, bytes.Clone(nonNil(data)))
		if len(pp.Attachments) < d.want {
			return false, nil
		}
		d.pending, d.want = nil, 0
		*p = *pp
		return true, nil
	}
	if d.pending != nil {
		missing := d.want - len(d.pending.Attachments)
		d.pending, d.want = nil, 0
		return false, invalidf("text message received while %d attachment(s) are still awaited", missing)
	}
	n, err := d.decodeText(p, data)
	if err != nil {
		return false, err
	}
	if n > 0 {
		pp := new(Packet)
		*pp = *p
		pp.Attachments = make([][]byte, 0, n)
		d.pending, d.want = pp, n
		return false, nil
	}
	return true, nil
}

// nonNil maps a nil attachment to an empty one, so that an attachment is
// never nil in a decoded packet.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidPacket}, args...)...)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// decodeText parses the text form of a packet into *p. n is the number of
// attachments announced by a binary packet (0 for the other types).
func (d *Decoder) decodeText(p *Packet, s []byte) (n int, err error) {
	if len(s) == 0 {
		return 0, invalidf("empty packet")
	}
	if !utf8.Valid(s) {
		return 0, invalidf("packet is not valid UTF-8")
	}
	c := s[0]
	if c < '0' || c > '6' {
		return 0, invalidf("unknown packet type %q", c)
	}
	*p = Packet{Type: Type(c - '0'), Nsp: "/"}
	i := 1

	if p.Type == BinaryEvent || p.Type == BinaryAck {
		start := i
		limit := d.limit()
		tooMany := false
		for i < len(s) && isDigit(s[i]) {
			if !tooMany {
				n = n*10 + int(s[i]-'0')
				// n <= limit here, so the second test keeps n*10+9 in range
				// however large the limit.
				tooMany = n > limit || n > (math.MaxInt-9)/10
			}
			i++
		}
		if i == start || i == len(s) || s[i] != '-' {
			return 0, invalidf("illegal attachments: %s needs <count>- after the type", p.Type)
		}
		if tooMany {
			return 0, invalidf("too many attachments (limit %d)", limit)
		}
		if n < 1 {
			return 0, invalidf("illegal attachments: count must be at least 1")
		}
		i++ // '-'
	}

	if i < len(s) && s[i] == '/' {
		end := bytes.IndexByte(s[i:], ',')
		var name []byte
		if end < 0 {
			// The namespace runs to the end of the message ("40/custom").
			name = s[i:]
			i = len(s)
		} else {
			name = s[i : i+end]
			i += end + 1
		}
		if string(name) != d.nsp {
			d.nsp = string(name)
		}
		p.Nsp = d.nsp
	}

	if i < len(s) && isDigit(s[i]) {
		var id uint64
		for i < len(s) && isDigit(s[i]) {
			id = id*10 + uint64(s[i]-'0')
			if id > maxAckID {
				return 0, invalidf("ack id too large (max %d)", uint64(maxAckID))
			}
			i++
		}
		p.ID, p.HasID = id, true
	}

	if i < len(s) {
		payload := s[i:]
		if err := checkPayload(p.Type, payload); err != nil {
			return 0, err
		}
		p.Data = bytes.Clone(payload)
	} else if p.Type == Event || p.Type == BinaryEvent {
		return 0, invalidf("%s without payload", p.Type)
	}
	return n, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// checkPayload applies socket.io-parser's isPayloadValid to a present
// payload.
func checkPayload(t Type, payload []byte) error {
	if t == Disconnect {
		return invalidf("DISCONNECT must not carry a payload")
	}
	// The reference parser reads any whitespace right after the header as
	// part of the ack id, so a payload never starts with it there; reject it
	// rather than guess.
	if isSpace(payload[0]) {
		return invalidf("unexpected whitespace before the %s payload", t)
	}
	if !jsonValid(payload) {
		return invalidf("%s payload is not valid JSON", t)
	}
	switch c := payload[0]; t {
	case Connect:
		if c != '{' {
			return invalidf("CONNECT payload must be an object")
		}
	case ConnectError:
		if c != '{' && c != '"' {
			return invalidf("CONNECT_ERROR payload must be an object or a string")
		}
	case Ack, BinaryAck:
		if c != '[' {
			return invalidf("%s payload must be an array", t)
		}
	case Event, BinaryEvent:
		if c != '[' {
			return invalidf("%s payload must be an array", t)
		}
		return checkEventName(t, payload)
	}
	return nil
}

// checkEventName checks that the first element of a valid JSON array is a
// number or a string that is not a reserved event name.
func checkEventName(t Type, payload []byte) error {
	i := skipSpace(payload, 1)
	switch c := payload[i]; {
	case c == '-' || isDigit(c):
		return nil
	case c == '"':
		end := skipString(payload, i)
		raw := payload[i:end]
		var reserved bool
		if bytes.IndexByte(raw, '\\') < 0 {
			reserved = isReservedBytes(raw[1 : len(raw)-1])
		} else {
			var name string
			if err := json.Unmarshal(raw, &name); err != nil {
				return invalidf("%s name: %v", t, err)
			}
			reserved = IsReservedEvent(name)
		}
		if reserved {
			return invalidf("%s name %s is reserved", t, raw)
		}
		return nil
	case c == ']':
		return invalidf("%s payload must not be an empty array", t)
	default:
		return invalidf("%s name must be a string or a number", t)
	}
}

// skipSpace returns the index of the first non-whitespace byte of b at or
// after i (len(b) when none).
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at b[i]
// (which is '"'). b must be valid JSON.
func skipString(b []byte, i int) int {
	for i++; i < len(b); {
		switch b[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return len(b)
}

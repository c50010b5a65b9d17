package parser

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecoder feeds a text message and then the same binary message until
// the packet completes. It checks that the decoder never panics, that
// errors wrap ErrInvalidPacket, that a decoded packet re-encodes to a form
// that decodes to the same packet (and re-encodes to the same bytes), and
// that DecodeData/EncodeData handle whatever payload got through.
func FuzzDecoder(f *testing.F) {
	for _, tc := range specPackets {
		var att []byte
		if len(tc.p.Attachments) > 0 {
			att = tc.p.Attachments[0]
		}
		f.Add([]byte(tc.wire), att)
	}
	for _, s := range []string{
		"", "7", "4abc", "2{}", `2abc["a"]`, "0/custom", `2["connect"]`, `2["\u0063onnect"]`,
		`511-["a"]`, `50-["a"]`, `51["a"]`, `53-["a",{"_placeholder":true,"num":2}]`,
		`51-["a",{"x":[{"_placeholder":true,"num":0}]}]`, `51-["a",{"_placeholder":true,"num":1e400}]`,
		`52-/n,9["a",{"_placeholder":true,"num":1},{"\u005fplaceholder":true,"num":0}]`,
		`29007199254740992["a"]`, `2 ["a"]`, `61-`, `3`, `2[1e400]`,
	} {
		f.Add([]byte(s), []byte{0xff})
	}
	f.Fuzz(func(t *testing.T, wire, att []byte) {
		if _, err := NewDecoder(4).Add(wire, true); err == nil {
			t.Fatal("binary message accepted by a fresh decoder")
		}
		d := NewDecoder(4)
		p, err := d.Add(wire, false)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) || p != nil {
				t.Fatalf("Add(%q) = %v, %v", wire, p, err)
			}
			return
		}
		for i := 0; p == nil && i < 4; i++ {
			if p, err = d.Add(att, true); err != nil {
				t.Fatalf("attachment %d: %v", i, err)
			}
		}
		if p == nil {
			t.Fatalf("Add(%q): packet incomplete after the maximum number of attachments", wire)
		}
		if _, err := d.Add(att, true); err == nil {
			t.Fatal("binary message accepted after a complete packet")
		}

		wire2 := Encode(p)
		p2, err := decodeAll(t, NewDecoder(4), wire2, p.Attachments)
		if err != nil || p2 == nil {
			t.Fatalf("re-decode of %q (from %q): %v, %v", wire2, wire, p2, err)
		}
		if !packetsEqual(p, p2) {
			t.Fatalf("re-decode of %q (from %q) = %+v, want %+v", wire2, wire, *p2, *p)
		}
		if wire3 := Encode(p2); !bytes.Equal(wire2, wire3) {
			t.Fatalf("encoding not stable: %q then %q", wire2, wire3)
		}

		switch p.Type {
		case Event, Ack, BinaryEvent, BinaryAck:
		default:
			return
		}
		args, err := DecodeData(p.Data, p.Attachments)
		if p.Type == Event || p.Type == BinaryEvent {
			// DecodeEvent is DecodeData split after the first element.
			name, rest, err2 := DecodeEvent(p.Data, p.Attachments, nil)
			if (err2 == nil) != (err == nil) {
				t.Fatalf("DecodeEvent(%s) error %v, DecodeData error %v", p.Data, err2, err)
			}
			if err == nil && (!reflect.DeepEqual(any(name), args[0]) || !reflect.DeepEqual(rest, []any(args[1:]))) {
				t.Fatalf("DecodeEvent(%s) = %s, %#v; DecodeData = %#v", p.Data, name, rest, args)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("DecodeData(%s): %v", p.Data, err)
			}
			return
		}
		data, atts, err := EncodeData(args)
		if err != nil {
			t.Fatalf("EncodeData(DecodeData(%s)): %v", p.Data, err)
		}
		// EncodePacket writes what Encode writes for the same payload.
		b, atts2, err := EncodePacket(p, args, 1)
		if err != nil {
			t.Fatalf("EncodePacket(DecodeData(%s)): %v", p.Data, err)
		}
		ep := *p
		ep.Data, ep.Attachments = data, atts
		switch binary := len(atts) > 0; p.Type {
		case Event, BinaryEvent:
			ep.Type = map[bool]Type{false: Event, true: BinaryEvent}[binary]
		case Ack, BinaryAck:
			ep.Type = map[bool]Type{false: Ack, true: BinaryAck}[binary]
		}
		if want := Encode(&ep); b[0] != 0 || !bytes.Equal(b[1:], want) || !reflect.DeepEqual(atts2, atts) {
			t.Fatalf("EncodePacket = %q, %q; Encode = %q, %q", b, atts2, want, atts)
		}
		args2, err := DecodeData(data, atts)
		if err != nil || len(args2) != len(args) {
			t.Fatalf("DecodeData(EncodeData(...)) of %s: %d args, %v", data, len(args2), err)
		}
	})
}

// FuzzAppendString checks the fast string encoder against encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "<&>", "\x00\x1f\"\\", "\xff", "\u2028\u2029", "é😀", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, s)), stdJSON(t, s); got != want {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

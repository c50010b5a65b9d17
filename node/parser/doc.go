// Package parser encodes and decodes Socket.IO protocol v5 packets, the
// format of socket.io-parser 4 (the default parser of socket.io 3 and 4).
//
// # Wire format
//
// A packet is one text Engine.IO message
//
//	<type>[<#attachments>-][<nsp>,][<ack id>][<JSON payload>]
//
// followed, for BINARY_EVENT and BINARY_ACK, by its attachments as binary
// Engine.IO messages. The namespace is written only when it is not "/".
// Binary values inside the payload are replaced by placeholders
// {"_placeholder":true,"num":i} that refer to the i-th attachment.
//
// Encode writes the text form of a Packet; EncodeData builds a payload and
// its attachments from Go values; EncodePacket does both into one buffer,
// with room for the transport's prefix. Decoder reassembles Packets from
// messages (AddTo into a Packet of the caller's); DecodeData splits a
// payload back into its elements, DecodeEvent into an event's name and
// arguments.
//
// # Validation
//
// Decoder applies every rule of socket.io-parser's Decoder: type 0–6;
// for BINARY_EVENT/BINARY_ACK an attachment count 1..maxAttachments
// followed by "-"; the namespace runs from "/" to "," or to the end of the
// message ("40/custom" is valid); the ack id is the maximal run of
// digits; the payload must be valid JSON of the type's shape (CONNECT:
// object; DISCONNECT: none; CONNECT_ERROR: object or string; EVENT and
// BINARY_EVENT: array whose first element is a number or a non-reserved
// string; ACK and BINARY_ACK: array); a binary message while no packet
// awaits attachments, or a text message while one does, is an error.
//
// Where the reference parser accepts input only by JavaScript accident,
// this package refuses it: an empty message or a non-digit type character
// (JavaScript's Number("") and Number(" ") are 0, a CONNECT); an
// attachment count that is not plain digits ("0x1", " 1"); whitespace
// right after the header (the reference reads it as ack id digits); an ack
// id above 2^53-1 (not exactly representable in JavaScript); an EVENT or
// BINARY_EVENT without payload; a message that is not valid UTF-8. Every
// decoding error wraps ErrInvalidPacket; Socket.IO servers close the
// connection on it.
//
// # Concurrency
//
// Encode, EncodeData, EncodePacket, DecodeData, DecodeEvent and
// IsReservedEvent are pure functions, safe for concurrent use; they do not
// retain their arguments (DecodeData's and DecodeEvent's results alias
// data and attachments, see DecodeData's documentation). A Decoder
// holds the state of one connection and must not be used concurrently; it
// copies every message it keeps, so callers may reuse their read buffers.
//
// # Bounds
//
// A Decoder holds at most one packet in progress with at most
// maxAttachments attachments (default 10); each message is bounded by the
// Engine.IO layer's maximum message size. The encoding and decoding
// functions allocate in proportion to their input.
package parser

package node

import (
	"encoding/json"
	"fmt"
)

// Args are the arguments of an event or an acknowledgement. Each element
// is one of: json.RawMessage (an argument as the client sent it, byte for
// byte), []byte (a binary attachment), or a decoded value (a map or slice
// holding binary deeper inside).
type Args []any

// Len returns the number of arguments.
func (a Args) Len() int { return len(a) }

// Raw returns argument i as JSON; binary values are marshalled as base64.
// It returns nil when i is out of range.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a) {
		return nil
	}
	if r, ok := a[i].(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(a[i])
	if err != nil {
		return nil
	}
	return b
}

// Decode unmarshals argument i into v.
func (a Args) Decode(i int, v any) error {
	if i < 0 || i >= len(a) {
		return fmt.Errorf("sio: argument %d missing (%d given)", i, len(a))
	}
	switch x := a[i].(type) {
	case json.RawMessage:
		return json.Unmarshal(x, v)
	case []byte:
		if p, ok := v.(*[]byte); ok {
			*p = x
			return nil
		}
		return fmt.Errorf("sio: argument %d is binary", i)
	}
	b, err := json.Marshal(a[i])
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// String returns argument i when it is a JSON string.
func (a Args) String(i int) (string, bool) {
	var s string
	if i < 0 || i >= len(a) {
		return "", false
	}
	if x, ok := a[i].(string); ok {
		return x, true
	}
	r, ok := a[i].(json.RawMessage)
	if !ok || len(r) == 0 || r[0] != '"' {
		return "", false
	}
	if json.Unmarshal(r, &s) != nil {
		return "", false
	}
	return s, true
}

// Bytes returns argument i when it is binary.
func (a Args) Bytes(i int) ([]byte, bool) {
	if i < 0 || i >= len(a) {
		return nil, false
	}
	b, ok := a[i].([]byte)
	return b, ok
}

// Value returns argument i decoded into a plain Go value (nil when out of range).
func (a Args) Value(i int) any {
	if i < 0 || i >= len(a) {
		return nil
	}
	if r, ok := a[i].(json.RawMessage); ok {
		var v any
		if json.Unmarshal(r, &v) != nil {
			return nil
		}
		return v
	}
	return a[i]
}

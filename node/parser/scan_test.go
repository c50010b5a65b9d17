package parser

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var scanCases = []string{
	``, ` `, `1`, `-0`, `-`, `01`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1E-7`, `1e400`, `-1.25e+10`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `nulll`, `"a"`, `"a`, `"\u00e9"`, `"\u00G9"`,
	`"\x"`, `"\/\b\f\n\r\t\"\\"`, "\"\x01\"", "\"\xff\xfe\"", `[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`,
	`{}`, `{ }`, `{"a":1}`, `{"a" : [1, {"b":null}] }`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1,}`,
	`{"a":1 "b":2}`, `[1]]`, `[[1]`, `[}`, `{]`, "\t[\n1\r] ", `[1] x`, `"a" "b"`, `[-]`, `[0x1]`,
	strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth),
	strings.Repeat("[", maxNestingDepth+1) + strings.Repeat("]", maxNestingDepth+1),
	strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100),
	`["chat message",{"user":"bob","text":"hello world, how are you today?"},42]`,
}

// TestJSONValidAgreesWithEncodingJSON: jsonValid must accept exactly what
// json.Valid accepts, nesting limit included.
func TestJSONValidAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range scanCases {
		if got, want := jsonValid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("jsonValid(%.40q) = %v, json.Valid = %v", c, got, want)
		}
	}
}

// TestDecodeDataRejectsInvalidJSON: DecodeData validates while splitting,
// so every malformed array is still an error.
func TestDecodeDataRejectsInvalidJSON(t *testing.T) {
	for _, c := range []string{`[1,]`, `[1 2]`, `["a"`, `["a"] x`, `[] x`, `[`, `["a",{]`, `[01]`, `["\q"]`, `{"a":1}`, `x`} {
		if _, err := DecodeData(json.RawMessage(c), nil); !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("DecodeData(%q) error = %v, want ErrInvalidPacket", c, err)
		}
	}
	got, err := DecodeData(json.RawMessage(" [ \"a\" , {\"b\": [1,2]} , 3 ] "), nil)
	if err != nil || len(got) != 3 || string(got[1].(json.RawMessage)) != `{"b": [1,2]}` || string(got[2].(json.RawMessage)) != "3" {
		t.Fatalf("DecodeData = %q, %v", got, err)
	}
}

// FuzzJSONValid compares jsonValid with json.Valid, and DecodeData's
// verdict on arrays with json.Valid's.
func FuzzJSONValid(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := json.Valid(b)
		if got := jsonValid(b); got != want {
			t.Fatalf("jsonValid(%.60q) = %v, json.Valid = %v", b, got, want)
		}
		i := skipSpace(b, 0)
		if i == len(b) || b[i] != '[' {
			return
		}
		_, err := DecodeData(b, nil)
		if (err == nil) != want {
			t.Fatalf("DecodeData(%.60q) error = %v, json.Valid = %v", b, err, want)
		}
	})
}

// TestDecoderReusesNamespace: consecutive packets on one namespace share
// its string (no allocation per packet), and a change of namespace is
// still decoded right.
func TestDecoderReusesNamespace(t *testing.T) {
	d := NewDecoder(0)
	for _, c := range []struct{ wire, nsp string }{
		{`2/chat,["a"]`, "/chat"}, {`2/chat,1["a"]`, "/chat"}, {`2["a"]`, "/"},
		{`0/admin`, "/admin"}, {`2/chat,["a"]`, "/chat"},
	} {
		p, err := d.Add([]byte(c.wire), false)
		if err != nil || p.Nsp != c.nsp {
			t.Fatalf("Add(%q) = %+v, %v; want nsp %q", c.wire, p, err, c.nsp)
		}
	}
	msg := []byte(`2/chat,12["chat message",{"user":"bob"}]`)
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.Add(msg, false); err != nil {
			t.Fatal(err)
		}
	}); allocs > 2 {
		t.Errorf("decoding an event on a known namespace: %v allocs, want <= 2 (packet, data)", allocs)
	}
}

// TestHasStringSpecial checks the eight-byte test against a byte loop, with
// each lane in turn set to every byte value around the interesting ones.
func TestHasStringSpecial(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				return true
			}
		}
		return false
	}
	for _, fill := range []byte{'a', ' ', 0x7f, 0x80, 0xff, '!', '#', '[', ']'} {
		for lane := range 8 {
			for v := range 256 {
				b := bytes.Repeat([]byte{fill}, 8)
				b[lane] = byte(v)
				if got, want := hasStringSpecial(binary.LittleEndian.Uint64(b)), naive(b); got != want {
					t.Fatalf("hasStringSpecial(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

// TestScanStringLanes puts each special byte at every offset of strings
// long enough to take the eight-byte path, and compares with json.Valid.
func TestScanStringLanes(t *testing.T) {
	for _, special := range []string{`"`, `\\`, `\"`, `\u00e9`, `\u00g9`, `\q`, "\x01", "\x1f", "\n", "é", "\xff", `\`} {
		for n := range 24 {
			for at := 0; at <= n; at++ {
				s := `"` + strings.Repeat("x", at) + special + strings.Repeat("y", n-at) + `"`
				if got, want := jsonValid([]byte(s)), json.Valid([]byte(s)); got != want {
					t.Fatalf("jsonValid(%q) = %v, json.Valid = %v", s, got, want)
				}
				// Unterminated, cut at every length.
				for cut := 1; cut < len(s); cut++ {
					if got, want := jsonValid([]byte(s[:cut])), json.Valid([]byte(s[:cut])); got != want {
						t.Fatalf("jsonValid(%q) = %v, json.Valid = %v", s[:cut], got, want)
					}
				}
			}
		}
	}
}

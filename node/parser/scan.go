package parser

import "encoding/binary"

// maxNestingDepth is the deepest nesting of arrays and objects accepted,
// the same limit as encoding/json's scanner, so that jsonValid agrees with
// json.Valid on every input.
const maxNestingDepth = 10000

// jsonValid reports whether b is one valid JSON value, surrounded by
// optional whitespace. It accepts exactly what json.Valid accepts (strings
// are not checked for valid UTF-8 either), in one pass and several times
// faster than json.Valid: no per-byte function call, no allocation for
// nesting up to 64 levels.
func jsonValid(b []byte) bool {
	i := skipSpace(b, 0)
	end, ok := scanValue(b, i, 0)
	return ok && skipSpace(b, end) == len(b)
}

// scanValue validates the JSON value starting at b[i] (no leading
// whitespace) and returns the index just past it. ok is false when b[i:]
// does not start with a valid JSON value. outer is the number of
// containers already open around it (they count towards the nesting
// limit).
func scanValue(b []byte, i, outer int) (end int, ok bool) {
	var stackBuf [64]byte
	stack := stackBuf[:0] // '[' or '{' of each open container
	for {
		// A value is expected at b[i].
		if i >= len(b) {
			return i, false
		}
		switch c := b[i]; c {
		case '{', '[':
			if outer+len(stack) >= maxNestingDepth {
				return i, false
			}
			stack = append(stack, c)
			i = skipSpace(b, i+1)
			if i >= len(b) {
				return i, false
			}
			if c == '[' {
				if b[i] == ']' {
					i++
					stack = stack[:len(stack)-1]
					break // closed: look for what follows
				}
				continue // the first element
			}
			if b[i] == '}' {
				i++
				stack = stack[:len(stack)-1]
				break
			}
			if i, ok = scanKey(b, i); !ok {
				return i, false
			}
			continue // the first member's value
		case '"':
			if i, ok = scanString(b, i); !ok {
				return i, false
			}
		case 't':
			if i, ok = scanLiteral(b, i, "true"); !ok {
				return i, false
			}
		case 'f':
			if i, ok = scanLiteral(b, i, "false"); !ok {
				return i, false
			}
		case 'n':
			if i, ok = scanLiteral(b, i, "null"); !ok {
				return i, false
			}
		default:
			if i, ok = scanNumber(b, i); !ok {
				return i, false
			}
		}
		// A value ended at i: close containers until one takes another
		// element.
		for {
			if len(stack) == 0 {
				return i, true
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			top := stack[len(stack)-1]
			if b[i] == ',' {
				i = skipSpace(b, i+1)
				if top == '{' {
					if i, ok = scanKey(b, i); !ok {
						return i, false
					}
				}
				break
			}
			if top == '[' && b[i] == ']' || top == '{' && b[i] == '}' {
				i++
				stack = stack[:len(stack)-1]
				continue
			}
			return i, false
		}
	}
}

// scanKey validates `"key" :` starting at b[i] and returns the index of
// the member's value (whitespace skipped).
func scanKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := scanString(b, i)
	if !ok {
		return i, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipSpace(b, i+1), true
}

// scanString validates the JSON string starting at b[i] ('"').
func scanString(b []byte, i int) (int, bool) {
	for i++; ; {
		// Plain text, the bulk of a string, goes eight bytes at a time,
		// then byte by byte to the byte that stopped it.
		for i+8 <= len(b) && !hasStringSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && !stringSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, false
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		default: // a control character
			return i, false
		}
	}
}

// stringSpecial marks the bytes scanString must look at in a string: '"',
// '\\' and the control characters.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// Byte-lane constants of hasStringSpecial.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// hasStringSpecial reports whether one of the eight bytes of x (bytes of a
// JSON string) is '"', '\\' or a control character (< 0x20), that is, one
// scanString must look at. Each test is the classic exact "has a byte
// less than n" bit trick: (x - n*0x01..) &^ x & 0x80.. is non-zero iff
// some byte of x is below n (n <= 0x80); a byte equal to c is a zero byte
// of x^(c*0x01..).
func hasStringSpecial(x uint64) bool {
	q := x ^ ('"' * lanes01)
	bs := x ^ ('\\' * lanes01)
	return ((q-lanes01)&^q|(bs-lanes01)&^bs|(x-0x20*lanes01)&^x)&lanes80 != 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanLiteral validates lit (true, false, null) at b[i].
func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// scanNumber validates the JSON number at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

package encode

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// asciiSafe[b] is true for the ASCII bytes that go into a JSON string as
// they are: everything from U+0020 up except '"' and '\\'.
var asciiSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendString appends s as a quoted JSON string. '"' and '\\' are
// backslash-escaped, control characters become \u00XX, U+2028 and U+2029
// become \u2028 and \u2029 (for JavaScript consumers), and every byte of
// invalid UTF-8 becomes \ufffd. Runs of bytes that need no escaping are
// copied in one append.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // start of the pending run of bytes copied as they are
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if asciiSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

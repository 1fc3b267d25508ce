// Package clip shortens untrusted input for error messages: an error names
// what it refused (D3) without echoing a megabyte back, and never cuts a
// multi-byte character in half.
package clip

import "unicode/utf8"

// Ellipsis marks where a clipped value was cut.
const Ellipsis = "…"

// String returns s if it is at most limit bytes long, and otherwise its
// longest prefix of at most limit bytes that ends on a rune boundary,
// followed by Ellipsis. A negative limit is taken as 0: the result is never
// longer than limit plus the ellipsis, whatever s holds.
func String(s string, limit int) string {
	limit = max(limit, 0)
	if len(s) <= limit {
		return s
	}
	n := limit
	// Back up to the start of the rune that straddles the limit. Bytes
	// that cannot start a rune (continuation bytes) are skipped at most
	// utf8.UTFMax-1 times for valid input; invalid input stops at 0.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + Ellipsis
}

// Bytes is String for a byte slice; it copies only the part it keeps.
func Bytes(b []byte, limit int) string {
	limit = max(limit, 0)
	if len(b) <= limit {
		return string(b)
	}
	return String(string(b[:limit+1]), limit)
}

package clip

import (
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// TestStringBoundary: an input of exactly the limit is kept whole; one byte
// more is cut, with the ellipsis.
func TestStringBoundary(t *testing.T) {
	exact := strings.Repeat("a", 8)
	if got := String(exact, 8); got != exact {
		t.Errorf("String(%q, 8) = %q, want it whole", exact, got)
	}
	if got := String(exact+"b", 8); got != exact+Ellipsis {
		t.Errorf("one past the limit: %q", got)
	}
	if got := Bytes([]byte(exact), 8); got != exact {
		t.Errorf("Bytes at the limit: %q", got)
	}
	if got := Bytes([]byte(exact+"b"), 8); got != exact+Ellipsis {
		t.Errorf("Bytes one past the limit: %q", got)
	}
}

// TestStringMultiByteRune: a rune that straddles the limit is dropped whole,
// whatever its width; one that ends exactly at the limit is kept.
func TestStringMultiByteRune(t *testing.T) {
	for _, r := range []string{"é", "€", "𝄞"} { // 2, 3 and 4 bytes
		for lead := 0; lead < 4; lead++ {
			s := strings.Repeat("a", lead) + r + "z"
			for limit := lead; limit < lead+len(r); limit++ {
				want := strings.Repeat("a", lead) + Ellipsis
				if got := String(s, limit); got != want {
					t.Errorf("String(%q, %d) = %q, want %q", s, limit, got, want)
				}
				if got := Bytes([]byte(s), limit); got != want {
					t.Errorf("Bytes(%q, %d) = %q, want %q", s, limit, got, want)
				}
			}
			limit := lead + len(r)
			if got, want := String(s, limit), strings.Repeat("a", lead)+r+Ellipsis; got != want {
				t.Errorf("String(%q, %d) = %q, want %q", s, limit, got, want)
			}
		}
	}
}

// TestStringOddLimits: limits of 0 and below never index outside s.
func TestStringOddLimits(t *testing.T) {
	for _, limit := range []int{-5, 0} {
		if got := String("abc", limit); got != Ellipsis {
			t.Errorf("String(abc, %d) = %q", limit, got)
		}
		if got := Bytes([]byte("abc"), limit); got != Ellipsis {
			t.Errorf("Bytes(abc, %d) = %q", limit, got)
		}
	}
	if got := String("", 0); got != "" {
		t.Errorf("String(\"\", 0) = %q", got)
	}
}

// FuzzString: the result is a prefix of the input plus at most the
// ellipsis, no longer than the limit plus the ellipsis, and valid UTF-8
// whenever the input is.
func FuzzString(f *testing.F) {
	f.Add("héllo wörld", 3)
	f.Add("𝄞𝄞𝄞", 5)
	f.Add("\xff\xfe", 1)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		got := String(s, limit)
		body := strings.TrimSuffix(got, Ellipsis)
		if !strings.HasPrefix(s, body) {
			t.Fatalf("%q is not a prefix of %q", body, s)
		}
		if got != s && len(body) > max(limit, 0) {
			t.Fatalf("clipped %q to %d bytes, over the limit %d", s, len(body), limit)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("cut a rune: %q", got)
		}
		if b := Bytes([]byte(s), limit); b != got {
			t.Fatalf("Bytes = %q, String = %q", b, got)
		}
	})
}

// TestPropClip: for any string and limit, the result is the input when it
// fits, and otherwise a prefix cut at a rune boundary plus the ellipsis.
func TestPropClip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		limit := rapid.IntRange(-2, 80).Draw(t, "limit")
		got := String(s, limit)
		if len(s) <= max(limit, 0) {
			if got != s {
				t.Fatalf("String(%q, %d) = %q; want it whole", s, limit, got)
			}
			return
		}
		body, ok := strings.CutSuffix(got, Ellipsis)
		if !ok || !strings.HasPrefix(s, body) || len(body) > max(limit, 0) || !utf8.ValidString(body) || len(body) < limit-utf8.UTFMax+1 {
			t.Fatalf("String(%q, %d) = %q", s, limit, got)
		}
	})
}

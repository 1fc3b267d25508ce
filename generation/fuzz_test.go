package generation_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/vmlife/vmlife/generation"
)

var textSeeds = []string{
	"0", "1", "2", "9223372036854775807", "9223372036854775808", "18446744073709551615",
	"18446744073709551616", "-1", "-0", "-9223372036854775808", "-9223372036854775809",
	"", "+1", " 1", "01", "1.0", "1e3", "0x1f", "abc", "-", `"1"`, "null", "١",
}

// checkDecoded is the contract every decoder of this package keeps: an error
// is a *Error matching one sentinel and leaves the destination as it was; an
// accepted input agrees with strconv (the oracle) and its canonical form
// survives marshal → unmarshal → marshal byte for byte.
func checkDecoded(t *testing.T, in string, before, got generation.Generation, err error) {
	t.Helper()
	if err != nil {
		var matched int
		for _, s := range sentinels {
			if errors.Is(err, s) {
				matched++
			}
		}
		if matched != 1 {
			t.Fatalf("%q: error %v matches %d sentinels, want 1", in, err, matched)
		}
		if got != before {
			t.Fatalf("%q: rejected but value changed from %v to %v", in, before, got)
		}
		return
	}
	if u, perr := strconv.ParseUint(in, 10, 64); perr != nil || u > math.MaxInt64 || u != got.Uint64() {
		t.Fatalf("%q: accepted as %v, but strconv.ParseUint gives %d, %v", in, got, u, perr)
	}
	m1, err := got.MarshalText()
	if err != nil {
		t.Fatalf("%q: MarshalText: %v", in, err)
	}
	var again generation.Generation
	if err := again.UnmarshalText(m1); err != nil || again != got {
		t.Fatalf("%q: re-decoding %q = %v, %v", in, m1, again, err)
	}
	m2, _ := again.MarshalText()
	if !bytes.Equal(m1, m2) {
		t.Fatalf("%q: marshal→unmarshal→marshal %q != %q", in, m1, m2)
	}
	j1, err := got.MarshalJSON()
	if err != nil || !bytes.Equal(j1, m1) || !json.Valid(j1) {
		t.Fatalf("%q: MarshalJSON = %s, %v", in, j1, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := generation.Parse(s)
		checkDecoded(t, s, generation.Generation{}, g, err)
		// ParseBytes, with its own fast path for plain digits, answers
		// exactly what Parse answers: the same value, the same error.
		gb, errb := generation.ParseBytes([]byte(s))
		if gb != g || fmt.Sprint(errb) != fmt.Sprint(err) {
			t.Fatalf("ParseBytes(%q) = %v, %v; Parse = %v, %v", s, gb, errb, g, err)
		}
		// Digits-only input in range is always accepted: Parse rejects no
		// number the oracle accepts.
		if err != nil && isDigits(s) && len(s) <= 40 {
			if u, perr := strconv.ParseUint(s, 10, 64); perr == nil && u <= math.MaxInt64 {
				t.Fatalf("Parse(%q) rejected %d: %v", s, u, err)
			}
		}
	})
}

func FuzzUnmarshalText(f *testing.F) {
	for _, s := range textSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		before := generation.Of(7)
		g := before
		err := g.UnmarshalText(b)
		checkDecoded(t, string(b), before, g, err)
		p, perr := generation.Parse(string(b))
		if (err == nil) != (perr == nil) || (err == nil && p != g) {
			t.Fatalf("UnmarshalText(%q) = %v, %v but Parse = %v, %v", b, g, err, p, perr)
		}
	})
}

func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range textSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(" 1 "))
	f.Add([]byte("1E2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		before := generation.Of(7)
		g := before
		err := g.UnmarshalJSON(b)
		checkDecoded(t, string(b), before, g, err)

		// Through encoding/json (which also trims whitespace and rejects
		// malformed JSON first), a Generation accepts exactly the JSON
		// integers a uint64 does that are ≤ Max (§1: Omicron reads a u64
		// and range-checks it).
		var u uint64
		uerr := json.Unmarshal(b, &u)
		viaJSON := before
		gerr := json.Unmarshal(b, &viaJSON)
		wantOK := uerr == nil && u <= math.MaxInt64 && string(bytes.TrimSpace(b)) != "null"
		if wantOK != (gerr == nil) {
			t.Fatalf("json.Unmarshal(%q): Generation err %v, uint64 %d err %v", b, gerr, u, uerr)
		}
		if gerr == nil && viaJSON.Uint64() != u {
			t.Fatalf("json.Unmarshal(%q) = %v, uint64 reads %d", b, viaJSON, u)
		}
		if gerr != nil && viaJSON != before {
			t.Fatalf("json.Unmarshal(%q) failed but changed the value to %v", b, viaJSON)
		}
	})
}

func FuzzScan(f *testing.F) {
	for i, s := range textSeeds {
		f.Add(uint8(i), int64(i)-3, s)
	}
	f.Add(uint8(0), int64(math.MinInt64), "")
	f.Add(uint8(0), int64(math.MaxInt64), "")
	f.Fuzz(func(t *testing.T, kind uint8, n int64, s string) {
		var src any
		var in string
		switch kind % 5 {
		case 0:
			src, in = n, strconv.FormatInt(n, 10)
		case 1:
			src, in = []byte(s), s
		case 2:
			src, in = s, s
		case 3:
			src, in = nil, "NULL"
		case 4:
			src, in = float64(n), "float"
		}
		before := generation.Of(7)
		g := before
		err := g.Scan(src)
		checkDecoded(t, in, before, g, err)
		if err == nil {
			v, verr := g.Value()
			var back generation.Generation
			if verr != nil || back.Scan(v) != nil || back != g {
				t.Fatalf("Scan(Value(%v)) = %v", g, back)
			}
		}
	})
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

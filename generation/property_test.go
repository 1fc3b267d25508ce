package generation_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/generation"
)

// genGeneration draws any generation, with the edges of §1 (0, 1, Max and
// their neighbours) far more often than uniform sampling would.
func genGeneration() *rapid.Generator[generation.Generation] {
	return rapid.Custom(func(t *rapid.T) generation.Generation {
		n := rapid.OneOf(
			rapid.Int64Range(0, generation.Max),
			rapid.Int64Range(0, 3),
			rapid.Int64Range(generation.Max-3, generation.Max),
		).Draw(t, "n")
		g, err := generation.FromInt64(n)
		if err != nil {
			t.Fatalf("FromInt64(%d): %v", n, err)
		}
		return g
	})
}

// D5: Next moves forward by exactly one, or fails at Max and returns g.
func TestPropNextIncrementsByOne(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := genGeneration().Draw(t, "g")
		n, err := g.Next()
		if g.Int64() == generation.Max {
			if err == nil || n != g {
				t.Fatalf("Max.Next() = %v, %v; want Max and an error", n, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%v.Next(): %v", g, err)
		}
		if n.Int64() != g.Int64()+1 {
			t.Fatalf("%v.Next() = %v", g, n)
		}
		if !n.After(g) || !g.Before(n) || n.Compare(g) != 1 {
			t.Fatalf("%v.Next() = %v is not newer", g, n)
		}
		// Prev undoes Next except below Initial (§1: 0 and 1 have none).
		p, ok := n.Prev()
		if ok != (g.Int64() >= 1) || (ok && p != g) || (!ok && p != n) {
			t.Fatalf("%v.Prev() = %v, %v", n, p, ok)
		}
	})
}

// Compare, Before and After are one total order, the order of the integers.
func TestPropTotalOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := genGeneration().Draw(t, "a")
		b := rapid.OneOf(genGeneration(), rapid.Just(a)).Draw(t, "b")
		c := genGeneration().Draw(t, "c")

		c1 := a.Compare(b)
		if want := cmp.Compare(a.Int64(), b.Int64()); c1 != want {
			t.Fatalf("%v.Compare(%v) = %d, want %d", a, b, c1, want)
		}
		if b.Compare(a) != -c1 {
			t.Fatalf("Compare is not antisymmetric for %v, %v", a, b)
		}
		if (c1 == 0) != (a == b) {
			t.Fatalf("Compare(%v, %v) = %d disagrees with ==", a, b, c1)
		}
		if a.Before(b) != (c1 < 0) || a.After(b) != (c1 > 0) {
			t.Fatalf("Before/After disagree with Compare for %v, %v", a, b)
		}
		if a.Before(b) == b.Before(a) && a != b {
			t.Fatalf("neither or both of %v, %v is before the other", a, b)
		}
		if a.Compare(b) <= 0 && b.Compare(c) <= 0 && a.Compare(c) > 0 {
			t.Fatalf("not transitive: %v <= %v <= %v but %v > %v", a, b, c, a, c)
		}
	})
}

// Every representation decodes back to the same generation, and the text
// of a generation is the one canonical decimal form.
func TestPropRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := genGeneration().Draw(t, "g")

		if v, err := generation.Parse(g.String()); err != nil || v != g {
			t.Fatalf("Parse(String(%v)) = %v, %v", g, v, err)
		}
		if v, err := generation.FromInt64(g.Int64()); err != nil || v != g {
			t.Fatalf("FromInt64(Int64(%v)) = %v, %v", g, v, err)
		}
		if v, err := generation.FromUint64(g.Uint64()); err != nil || v != g {
			t.Fatalf("FromUint64(Uint64(%v)) = %v, %v", g, v, err)
		}

		text, err := g.MarshalText()
		if err != nil || string(text) != g.String() {
			t.Fatalf("MarshalText(%v) = %q, %v", g, text, err)
		}
		var v generation.Generation
		if err := v.UnmarshalText(text); err != nil || v != g {
			t.Fatalf("UnmarshalText(%q) = %v, %v", text, v, err)
		}

		prefix := []byte("g=")
		appended, err := g.AppendText(prefix[:len(prefix):len(prefix)])
		if err != nil || !bytes.Equal(appended, append([]byte("g="), text...)) {
			t.Fatalf("AppendText(%v) = %q, %v", g, appended, err)
		}

		js, err := json.Marshal(g)
		if err != nil || !bytes.Equal(js, text) {
			t.Fatalf("json.Marshal(%v) = %s, %v; want a bare integer", g, js, err)
		}
		var fromJSON generation.Generation
		if err := json.Unmarshal(js, &fromJSON); err != nil || fromJSON != g {
			t.Fatalf("json.Unmarshal(%s) = %v, %v", js, fromJSON, err)
		}

		dv, err := g.Value()
		if err != nil {
			t.Fatalf("Value(%v): %v", g, err)
		}
		if n, ok := dv.(int64); !ok || n != g.Int64() {
			t.Fatalf("Value(%v) = %#v, want int64", g, dv)
		}
		var fromSQL generation.Generation
		if err := fromSQL.Scan(dv); err != nil || fromSQL != g {
			t.Fatalf("Scan(Value(%v)) = %v, %v", g, fromSQL, err)
		}
		// Drivers that return INT8 as text are read the same way.
		if err := fromSQL.Scan(text); err != nil || fromSQL != g {
			t.Fatalf("Scan(%q) = %v, %v", text, fromSQL, err)
		}
	})
}

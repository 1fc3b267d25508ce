package generation_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/generation"
)

// maxGen is generation Max, built through the checked constructor.
func maxGen() generation.Generation {
	g, err := generation.FromInt64(generation.Max)
	if err != nil {
		panic(err)
	}
	return g
}

var sentinels = []error{generation.ErrOverflow, generation.ErrNegative, generation.ErrSyntax}

// checkErr asserts that err is a *generation.Error matching want and no other
// sentinel: the promise of the package's Err* comment.
func checkErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", what, want)
	}
	var ge *generation.Error
	if !errors.As(err, &ge) {
		t.Fatalf("%s: error %v (%T) is not a *generation.Error", what, err, err)
	}
	if ge.Err != want {
		t.Fatalf("%s: Err = %v, want %v", what, ge.Err, want)
	}
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Fatalf("%s: errors.Is(err, %q) = %v, want %v", what, s, got, s == want)
		}
	}
}

// The good values of §1: 0, 1 and i64::MAX are accepted by every decoder.
func TestGoodValues(t *testing.T) {
	for _, n := range []int64{0, 1, 10, 12345, 999999999999999999, math.MaxInt64} {
		text := strconv.FormatInt(n, 10)
		t.Run(text, func(t *testing.T) {
			decoders := map[string]func() (generation.Generation, error){
				"FromInt64":  func() (generation.Generation, error) { return generation.FromInt64(n) },
				"FromUint64": func() (generation.Generation, error) { return generation.FromUint64(uint64(n)) },
				"Parse":      func() (generation.Generation, error) { return generation.Parse(text) },
				"ParseBytes": func() (generation.Generation, error) { return generation.ParseBytes([]byte(text)) },
				"UnmarshalText": func() (g generation.Generation, err error) {
					err = g.UnmarshalText([]byte(text))
					return g, err
				},
				"UnmarshalJSON": func() (g generation.Generation, err error) {
					err = g.UnmarshalJSON([]byte(text))
					return g, err
				},
				"json.Unmarshal": func() (generation.Generation, error) {
					var v struct{ G generation.Generation }
					err := json.Unmarshal([]byte(`{"G":`+text+`}`), &v)
					return v.G, err
				},
				"Scan(int64)": func() (g generation.Generation, err error) {
					err = g.Scan(n)
					return g, err
				},
				"Scan([]byte)": func() (g generation.Generation, err error) {
					err = g.Scan([]byte(text))
					return g, err
				},
				"Scan(string)": func() (g generation.Generation, err error) {
					err = g.Scan(text)
					return g, err
				},
			}
			for name, decode := range decoders {
				g, err := decode()
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if g.Int64() != n || g.Uint64() != uint64(n) || g.String() != text {
					t.Errorf("%s: got %d (uint64 %d, %q), want %d", name, g.Int64(), g.Uint64(), g.String(), n)
				}
			}
		})
	}
}

// The bad values of §1, each rejected by every decoder that can carry it,
// with the right sentinel, and the destination left as it was.
func TestBadValues(t *testing.T) {
	const keep = 42
	type decoder func(g *generation.Generation) error
	fromInt64 := func(n int64) decoder {
		return func(g *generation.Generation) error {
			v, err := generation.FromInt64(n)
			if err == nil {
				*g = v
			}
			return err
		}
	}
	fromUint64 := func(n uint64) decoder {
		return func(g *generation.Generation) error {
			v, err := generation.FromUint64(n)
			if err == nil {
				*g = v
			}
			return err
		}
	}
	textDecoders := func(s string) map[string]decoder {
		return map[string]decoder{
			"Parse": func(g *generation.Generation) error {
				v, err := generation.Parse(s)
				if err == nil {
					*g = v
				}
				return err
			},
			"ParseBytes": func(g *generation.Generation) error {
				v, err := generation.ParseBytes([]byte(s))
				if err == nil {
					*g = v
				}
				return err
			},
			"UnmarshalText": func(g *generation.Generation) error { return g.UnmarshalText([]byte(s)) },
			"UnmarshalJSON": func(g *generation.Generation) error { return g.UnmarshalJSON([]byte(s)) },
			"Scan([]byte)":  func(g *generation.Generation) error { return g.Scan([]byte(s)) },
			"Scan(string)":  func(g *generation.Generation) error { return g.Scan(s) },
		}
	}
	tests := []struct {
		name     string
		want     error
		decoders map[string]decoder
	}{
		{"i64::MAX+1", generation.ErrOverflow, merge(
			map[string]decoder{"FromUint64": fromUint64(math.MaxInt64 + 1)},
			textDecoders("9223372036854775808"))},
		{"u64::MAX", generation.ErrOverflow, merge(
			map[string]decoder{"FromUint64": fromUint64(math.MaxUint64)},
			textDecoders("18446744073709551615"))},
		{"u64::MAX+1", generation.ErrOverflow, textDecoders("18446744073709551616")},
		{"40 digits", generation.ErrOverflow, textDecoders(strings.Repeat("9", 40))},
		{"-1", generation.ErrNegative, merge(
			map[string]decoder{
				"FromInt64":   fromInt64(-1),
				"Scan(int64)": func(g *generation.Generation) error { return g.Scan(int64(-1)) },
			},
			textDecoders("-1"))},
		{"i64::MIN", generation.ErrNegative, merge(
			map[string]decoder{
				"FromInt64":   fromInt64(math.MinInt64),
				"Scan(int64)": func(g *generation.Generation) error { return g.Scan(int64(math.MinInt64)) },
			},
			textDecoders("-9223372036854775808"))},
		{"i64::MIN-1", generation.ErrNegative, textDecoders("-9223372036854775809")},
		{"-0", generation.ErrNegative, textDecoders("-0")},
	}
	for _, s := range []string{
		"", " ", "+1", " 1", "1 ", "1\n", "1.0", "1e3", "0x10", "0b1", "1_000", "abc", "1a",
		"-", "--1", "-a", "-1.5", "١", "１", strings.Repeat("0", 41) + "1",
	} {
		tests = append(tests, struct {
			name     string
			want     error
			decoders map[string]decoder
		}{"syntax " + strconv.Quote(s), generation.ErrSyntax, textDecoders(s)})
	}
	// JSON that is well formed but not a bare integer (D9).
	for _, s := range []string{`"1"`, `null`, `true`, `[]`, `{}`, `1.5`, `1E2`} {
		tests = append(tests, struct {
			name     string
			want     error
			decoders map[string]decoder
		}{"JSON " + s, generation.ErrSyntax, map[string]decoder{
			"UnmarshalJSON": func(g *generation.Generation) error { return g.UnmarshalJSON([]byte(s)) },
		}})
	}
	// SQL values that are not an INT8 column.
	for name, src := range map[string]any{
		"NULL": nil, "float64": 1.0, "bool": true, "time": time.Unix(0, 0), "uint64": uint64(1),
	} {
		tests = append(tests, struct {
			name     string
			want     error
			decoders map[string]decoder
		}{"Scan " + name, generation.ErrSyntax, map[string]decoder{
			"Scan": func(g *generation.Generation) error { return g.Scan(src) },
		}})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.decoders) == 0 {
				t.Fatal("row exercises no decoder")
			}
			for name, decode := range tt.decoders {
				g := generation.Of(keep)
				err := decode(&g)
				checkErr(t, name, err, tt.want)
				if g != generation.Of(keep) {
					t.Errorf("%s: value changed to %v on error", name, g)
				}
			}
		})
	}
}

func merge[M ~map[K]V, K comparable, V any](ms ...M) M {
	out := M{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// json.Unmarshal reaches UnmarshalJSON for every JSON value, null included,
// so a struct field of type Generation cannot silently read as 0.
func TestJSONUnmarshalRejects(t *testing.T) {
	for _, doc := range []string{
		`{"G":null}`, `{"G":"5"}`, `{"G":-1}`, `{"G":9223372036854775808}`, `{"G":1.5}`, `{"G":1e2}`,
	} {
		v := struct{ G generation.Generation }{generation.Of(7)}
		if err := json.Unmarshal([]byte(doc), &v); err == nil {
			t.Errorf("json.Unmarshal(%s) accepted, G = %v", doc, v.G)
		} else if !errors.Is(err, generation.ErrSyntax) && !errors.Is(err, generation.ErrNegative) &&
			!errors.Is(err, generation.ErrOverflow) {
			t.Errorf("json.Unmarshal(%s): %v matches no sentinel", doc, err)
		}
		if v.G != generation.Of(7) {
			t.Errorf("json.Unmarshal(%s) changed G to %v", doc, v.G)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{func() error { _, err := generation.FromInt64(-1); return err }(),
			"generation -1: negative generation number (want an integer between 0 and 9223372036854775807)"},
		{func() error { _, err := generation.FromUint64(math.MaxUint64); return err }(),
			"generation 18446744073709551615: generation number too large (want an integer between 0 and 9223372036854775807)"},
		// A number that fits 64 bits is named by its value; one past them,
		// as written (strconv's range error, the same for ParseBytes).
		{func() error { _, err := generation.Parse("18446744073709551615"); return err }(),
			"generation 18446744073709551615: generation number too large (want an integer between 0 and 9223372036854775807)"},
		{func() error { _, err := generation.ParseBytes([]byte("018446744073709551616")); return err }(),
			`generation "018446744073709551616": generation number too large (want an integer between 0 and 9223372036854775807)`},
		{func() error { _, err := generation.Parse("x1"); return err }(),
			`generation "x1": generation is not a decimal integer (want an integer between 0 and 9223372036854775807)`},
		// A JSON string is named as it was written, not quoted again.
		{func() error { var g generation.Generation; return g.UnmarshalJSON([]byte(`"5"`)) }(),
			`generation "5": generation is not a decimal integer (want an integer between 0 and 9223372036854775807)`},
		{func() error { _, err := maxGen().Next(); return err }(),
			"generation 9223372036854775807+1: generation number too large (want an integer between 0 and 9223372036854775807)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
	// The sentinels carry Omicron's wording (§1).
	if got := generation.ErrNegative.Error(); got != "negative generation number" {
		t.Errorf("ErrNegative = %q", got)
	}
	if got := generation.ErrOverflow.Error(); got != "generation number too large" {
		t.Errorf("ErrOverflow = %q", got)
	}
}

// A hostile input must not be echoed whole into logs.
func TestErrorClipsLongInput(t *testing.T) {
	long := strings.Repeat("7", 1<<20)
	var g generation.Generation
	for name, err := range map[string]error{
		"Parse":         func() error { _, err := generation.Parse(long); return err }(),
		"UnmarshalJSON": g.UnmarshalJSON([]byte(`"` + long + `"`)),
		"UnmarshalText": g.UnmarshalText([]byte(long)),
		"Scan":          g.Scan(long),
	} {
		checkErr(t, name, err, generation.ErrSyntax)
		if n := len(err.Error()); n > 200 {
			t.Errorf("%s: message is %d bytes long", name, n)
		}
	}
}

func TestConstructors(t *testing.T) {
	if g := generation.Initial(); g.Int64() != 1 {
		t.Errorf("Initial() = %v, want 1", g)
	}
	var zero generation.Generation
	if zero.Int64() != 0 || zero.String() != "0" {
		t.Errorf("zero Generation = %v, want 0", zero)
	}
	for _, n := range []uint32{0, 1, 2, math.MaxUint32} {
		if g := generation.Of(n); g.Uint64() != uint64(n) {
			t.Errorf("Of(%d) = %v", n, g)
		}
	}
	if generation.Max != math.MaxInt64 {
		t.Errorf("Max = %d, want 2^63-1", uint64(generation.Max))
	}
}

// Next of Max is ErrOverflow and never wraps (§1, D5).
func TestNextOverflow(t *testing.T) {
	max := maxGen()
	g, err := max.Next()
	checkErr(t, "Max.Next()", err, generation.ErrOverflow)
	if g != max {
		t.Errorf("Max.Next() returned %v, want Max unchanged", g)
	}
	below, err := generation.FromInt64(generation.Max - 1)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := below.Next(); err != nil || g != max {
		t.Errorf("(Max-1).Next() = %v, %v; want Max", g, err)
	}
}

// Prev of 0 and of 1 is none (§1); of 2 and Max it is one less.
func TestPrev(t *testing.T) {
	for _, n := range []uint32{0, 1} {
		g := generation.Of(n)
		if p, ok := g.Prev(); ok || p != g {
			t.Errorf("Of(%d).Prev() = %v, %v; want itself, false", n, p, ok)
		}
	}
	if p, ok := generation.Of(2).Prev(); !ok || p != generation.Initial() {
		t.Errorf("Of(2).Prev() = %v, %v; want 1, true", p, ok)
	}
	max := maxGen()
	if p, ok := max.Prev(); !ok || p.Int64() != generation.Max-1 {
		t.Errorf("Max.Prev() = %v, %v", p, ok)
	}
}

func TestMarshal(t *testing.T) {
	max := maxGen()
	for _, tt := range []struct {
		g    generation.Generation
		want string
	}{
		{generation.Of(0), "0"},
		{generation.Initial(), "1"},
		{max, "9223372036854775807"},
	} {
		text, err := tt.g.MarshalText()
		if err != nil || string(text) != tt.want {
			t.Errorf("MarshalText(%d) = %q, %v", tt.g.Int64(), text, err)
		}
		js, err := json.Marshal(struct{ G generation.Generation }{tt.g})
		if err != nil || string(js) != `{"G":`+tt.want+`}` {
			t.Errorf("json.Marshal(%d) = %s, %v; want a bare integer", tt.g.Int64(), js, err)
		}
		b, err := tt.g.AppendText([]byte("gen="))
		if err != nil || string(b) != "gen="+tt.want {
			t.Errorf("AppendText(%d) = %q, %v", tt.g.Int64(), b, err)
		}
		v, err := tt.g.Value()
		if err != nil || v != tt.g.Int64() {
			t.Errorf("Value(%d) = %#v, %v; want int64", tt.g.Int64(), v, err)
		}
	}
}

// A nullable generation column scans through sql.Null (Scan itself refuses
// NULL, so a missing value is never read as generation 0).
func TestSQLNull(t *testing.T) {
	var n sql.Null[generation.Generation]
	if err := n.Scan(nil); err != nil || n.Valid {
		t.Errorf("sql.Null.Scan(nil) = %v, Valid=%v", err, n.Valid)
	}
	if err := n.Scan(int64(5)); err != nil || !n.Valid || n.V != generation.Of(5) {
		t.Errorf("sql.Null.Scan(5) = %v, %+v", err, n)
	}
	if err := n.Scan(int64(-5)); !errors.Is(err, generation.ErrNegative) {
		t.Errorf("sql.Null.Scan(-5) = %v, want ErrNegative", err)
	}
}

// TestParseBytesDoesNotAllocate pins why ParseBytes exists: a generation
// decodes from bytes without converting them to a string or allocating.
func TestParseBytesDoesNotAllocate(t *testing.T) {
	for _, text := range []string{"0", "7", "1234567890123456789"} {
		b := []byte(text)
		if n := testing.AllocsPerRun(100, func() { _, _ = generation.ParseBytes(b) }); n != 0 {
			t.Errorf("ParseBytes(%q): %v allocations", text, n)
		}
	}
}

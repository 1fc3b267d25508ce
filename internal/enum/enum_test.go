package enum_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/internal/enum"
)

type color uint8

var (
	colorNames = []string{"red", "green", "light_blue"}
	strict     = enum.New[color]("paint.Color", false, colorNames...)
	folding    = enum.New[color]("paint.Color", true, colorNames...)
)

// fataler is what testing.TB and *rapid.T have in common.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkUnknown asserts D3: errors.Is ErrUnknown (also through wrapping),
// errors.As *Error with the type, the input and every accepted name.
func checkUnknown(t fataler, what string, err error, input string, accepted []string) {
	t.Helper()
	if !errors.Is(err, enum.ErrUnknown) || !errors.Is(fmt.Errorf("ctx: %w", err), enum.ErrUnknown) {
		t.Fatalf("%s: %v is not ErrUnknown", what, err)
	}
	var e *enum.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: %v (%T) is not an *enum.Error", what, err, err)
	}
	if e.Type != "paint.Color" || e.Input != input || !slices.Equal(e.Accepted, accepted) {
		t.Fatalf("%s: got %+v, want input %s and accepted %v", what, *e, input, accepted)
	}
}

func TestTableRows(t *testing.T) {
	for i, name := range colorNames {
		c := color(i + 1)
		if !strict.Valid(c) {
			t.Errorf("Valid(%d) = false", c)
		}
		if got := strict.String(c); got != name {
			t.Errorf("String(%d) = %q, want %q", c, got, name)
		}
		for _, tbl := range []*enum.Table[color]{strict, folding} {
			if got, err := tbl.Parse(name); err != nil || got != c {
				t.Errorf("Parse(%q) = %d, %v", name, got, err)
			}
			if got, err := tbl.ParseBytes([]byte(name)); err != nil || got != c {
				t.Errorf("ParseBytes(%q) = %d, %v", name, got, err)
			}
			for _, src := range []any{name, []byte(name)} {
				if got, err := tbl.Scan(src); err != nil || got != c {
					t.Errorf("Scan(%#v) = %d, %v", src, got, err)
				}
			}
		}
		if b, err := strict.Append([]byte("c="), c); err != nil || string(b) != "c="+name {
			t.Errorf("Append(%d) = %q, %v", c, b, err)
		}
		if v, err := strict.Value(c); err != nil || v != name {
			t.Errorf("Value(%d) = %#v, %v", c, v, err)
		}
	}
	if got := strict.All(); !slices.Equal(got, []color{1, 2, 3}) {
		t.Errorf("All() = %v", got)
	}
	if got := strict.Names(); !slices.Equal(got, colorNames) {
		t.Errorf("Names() = %v", got)
	}
}

// String, Append and Value never panic, and name every value outside the
// table "pkg.Type(n)" (D2).
func TestInvalidValues(t *testing.T) {
	for n := 0; n <= 255; n++ {
		c := color(n)
		if n >= 1 && n <= len(colorNames) {
			continue
		}
		want := "paint.Color(" + strconv.Itoa(n) + ")"
		if strict.Valid(c) {
			t.Errorf("Valid(%d) = true", n)
		}
		if got := strict.String(c); got != want {
			t.Errorf("String(%d) = %q, want %q", n, got, want)
		}
		b, err := strict.Append([]byte("keep"), c)
		checkUnknown(t, "Append", err, want, colorNames)
		if string(b) != "keep" {
			t.Errorf("Append(%d) returned %q on error", n, b)
		}
		v, err := strict.Value(c)
		checkUnknown(t, "Value", err, want, colorNames)
		if v != nil {
			t.Errorf("Value(%d) = %#v on error", n, v)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "RED", "Red", " red", "red ", "re", "redd", "light-blue", "0", "1", "paint.Color(1)", "\xff"} {
		got, err := strict.Parse(s)
		if got != 0 {
			t.Errorf("Parse(%q) = %d on error, want 0", s, got)
		}
		checkUnknown(t, "Parse("+strconv.Quote(s)+")", err, strconv.Quote(s), colorNames)
		_, err = strict.ParseBytes([]byte(s))
		checkUnknown(t, "ParseBytes("+strconv.Quote(s)+")", err, strconv.Quote(s), colorNames)
	}
	_, err := strict.Parse("blue")
	if want := `paint.Color: unknown value "blue" (accepted: red, green, light_blue)`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestFoldCase(t *testing.T) {
	for _, s := range []string{"RED", "Red", "rEd", "LIGHT_BLUE"} {
		want, _ := strict.Parse(strings.ToLower(s))
		if got, err := folding.Parse(s); err != nil || got != want {
			t.Errorf("folding Parse(%q) = %d, %v", s, got, err)
		}
		if got, err := folding.ParseBytes([]byte(s)); err != nil || got != want {
			t.Errorf("folding ParseBytes(%q) = %d, %v", s, got, err)
		}
		if _, err := strict.Parse(s); err == nil {
			t.Errorf("strict Parse(%q) accepted", s)
		}
	}
	// Folding never loosens anything but case.
	for _, s := range []string{" red", "light-blue", "redd"} {
		_, err := folding.Parse(s)
		checkUnknown(t, "folding Parse", err, strconv.Quote(s), colorNames)
	}
	// Output is always the declared spelling.
	c, _ := folding.Parse("GREEN")
	if folding.String(c) != "green" {
		t.Errorf("String = %q", folding.String(c))
	}
}

// An exact match wins over an earlier case-insensitive one, so that in a
// folding table String then Parse is the identity even when two names
// differ only in case.
func TestFoldCasePrefersExact(t *testing.T) {
	tbl := enum.New[color]("paint.Color", true, "x", "X")
	for _, c := range tbl.All() {
		if got, err := tbl.Parse(tbl.String(c)); err != nil || got != c {
			t.Errorf("Parse(%q) = %d, %v, want %d", tbl.String(c), got, err, c)
		}
		if got, err := tbl.ParseBytes([]byte(tbl.String(c))); err != nil || got != c {
			t.Errorf("ParseBytes(%q) = %d, %v, want %d", tbl.String(c), got, err, c)
		}
	}
}

func TestScanRejects(t *testing.T) {
	for _, tt := range []struct {
		src   any
		input string
	}{
		{nil, "NULL"},
		{int64(1), "of type int64"},
		{1.5, "of type float64"},
		{true, "of type bool"},
		{"RED", `"RED"`},
		{[]byte("blue"), `"blue"`},
	} {
		got, err := strict.Scan(tt.src)
		if got != 0 {
			t.Errorf("Scan(%#v) = %d on error", tt.src, got)
		}
		checkUnknown(t, fmt.Sprintf("Scan(%#v)", tt.src), err, tt.input, colorNames)
	}
}

// Nothing a caller gets back aliases the table: not All, not Names, not the
// Accepted list of an error, and not the slice New was given.
func TestNoAliasing(t *testing.T) {
	names := []string{"a", "b"}
	tbl := enum.New[color]("paint.Color", false, names...)
	names[0] = "zzz"
	if tbl.String(1) != "a" {
		t.Errorf("New kept the caller's slice: String(1) = %q", tbl.String(1))
	}
	tbl.Names()[0] = "zzz"
	tbl.All()[0] = 9
	_, err := tbl.Parse("q")
	var e *enum.Error
	if errors.As(err, &e) {
		e.Accepted[0] = "zzz"
	}
	if tbl.String(1) != "a" || !slices.Equal(tbl.Names(), []string{"a", "b"}) || tbl.All()[0] != 1 {
		t.Errorf("table changed through a returned slice: %v %v", tbl.Names(), tbl.All())
	}
}

func TestErrorIsOnlyErrUnknown(t *testing.T) {
	_, err := strict.Parse("x")
	if errors.Is(err, errors.New("unknown enum value")) {
		t.Error("matches an unrelated error with the same text")
	}
	var e *enum.Error
	if !errors.As(err, &e) || e.Is(errors.ErrUnsupported) {
		t.Error("Error.Is matches a foreign sentinel")
	}
}

// For any table of distinct names: every value round-trips through its
// name, Parse and ParseBytes agree on every input, and any other string is
// rejected with the full list of names.
func TestPropTable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		names := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z_]{1,8}`), 1, 20, rapid.ID[string]).Draw(t, "names")
		fold := rapid.Bool().Draw(t, "fold")
		tbl := enum.New[color]("paint.Color", fold, names...)

		if len(tbl.All()) != len(names) {
			t.Fatalf("All() has %d values for %d names", len(tbl.All()), len(names))
		}
		for _, c := range tbl.All() {
			if !tbl.Valid(c) {
				t.Fatalf("All() holds invalid %d", c)
			}
			s := tbl.String(c)
			if got, err := tbl.Parse(s); err != nil || got != c {
				t.Fatalf("Parse(String(%d)) = %d, %v", c, got, err)
			}
			if b, err := tbl.Append(nil, c); err != nil || string(b) != s {
				t.Fatalf("Append(%d) = %q, %v", c, b, err)
			}
			if v, err := tbl.Value(c); err != nil {
				t.Fatalf("Value(%d): %v", c, err)
			} else if got, err := tbl.Scan(v); err != nil || got != c {
				t.Fatalf("Scan(Value(%d)) = %d, %v", c, got, err)
			}
			if fold {
				if got, err := tbl.Parse(strings.ToUpper(s)); err != nil || got != c {
					t.Fatalf("folding Parse(%q) = %d, %v", strings.ToUpper(s), got, err)
				}
			}
		}
		if tbl.Valid(0) || tbl.Valid(color(len(names)+1)) {
			t.Fatal("0 or one past the end is valid")
		}

		in := rapid.String().Draw(t, "input")
		c1, err1 := tbl.Parse(in)
		c2, err2 := tbl.ParseBytes([]byte(in))
		if c1 != c2 || (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("Parse(%q) = %d, %v but ParseBytes = %d, %v", in, c1, err1, c2, err2)
		}
		known := slices.ContainsFunc(names, func(n string) bool {
			return n == in || fold && strings.EqualFold(n, in)
		})
		if known != (err1 == nil) {
			t.Fatalf("Parse(%q) err = %v, but known = %v", in, err1, known)
		}
		if err1 != nil {
			checkUnknown(t, "Parse", err1, strconv.Quote(in), names)
		}
	})
}

// FuzzTableScan: any column value is either a declared name (and re-encodes
// to exactly those bytes) or an *Error; never a panic.
func FuzzTableScan(f *testing.F) {
	for _, s := range append(colorNames, "", "RED", "paint.Color(0)", "\x00") {
		f.Add(false, s)
		f.Add(true, s)
	}
	f.Fuzz(func(t *testing.T, fold bool, s string) {
		tbl := strict
		if fold {
			tbl = folding
		}
		c, err := tbl.Scan([]byte(s))
		if err != nil {
			checkUnknown(t, "Scan", err, strconv.Quote(s), colorNames)
			return
		}
		out, err := tbl.Append(nil, c)
		if err != nil {
			t.Fatalf("Scan(%q) = %d, which does not encode: %v", s, c, err)
		}
		if !fold && !bytes.Equal(out, []byte(s)) || fold && !strings.EqualFold(string(out), s) {
			t.Fatalf("Scan(%q) = %d encodes as %q", s, c, out)
		}
		again, err := tbl.ParseBytes(out)
		if err != nil || again != c {
			t.Fatalf("ParseBytes(%q) = %d, %v", out, again, err)
		}
		if out2, _ := tbl.Append(nil, again); !bytes.Equal(out, out2) {
			t.Fatalf("marshal→unmarshal→marshal %q != %q", out, out2)
		}
	})
}

func BenchmarkString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = strict.String(3)
	}
}

func BenchmarkParseLast(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := strict.Parse("light_blue"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBytesFold(b *testing.B) {
	b.ReportAllocs()
	in := []byte("LIGHT_BLUE")
	for b.Loop() {
		if _, err := folding.ParseBytes(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 16)
	for b.Loop() {
		buf, _ = strict.Append(buf[:0], 2)
	}
}

// TestGoString: %#v of an enum shows its name, and an invalid value its
// number, never a panic.
func TestGoString(t *testing.T) {
	tab := enum.New[uint8]("pkg.Type", false, "alpha", "beta")
	if got := tab.GoString(2); got != `pkg.Type("beta")` {
		t.Errorf("GoString(2) = %s", got)
	}
	if got := tab.GoString(9); got != "pkg.Type(9)" {
		t.Errorf("GoString(9) = %s", got)
	}
}

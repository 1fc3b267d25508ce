package generation

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/vmlife/vmlife/internal/clip"
)

// Max is the largest generation: 2^63−1, the largest value a signed 64-bit
// database column holds (§1).
const Max = math.MaxInt64

// Sentinel errors, matched with errors.Is. Every error this package returns
// is a *Error that matches exactly one of them.
var (
	// ErrOverflow: a generation past Max was asked for (Next of Max) or given.
	ErrOverflow = errors.New("generation number too large")
	// ErrNegative: a negative generation was given.
	ErrNegative = errors.New("negative generation number")
	// ErrSyntax: the input is not a decimal integer.
	ErrSyntax = errors.New("generation is not a decimal integer")
)

// Error describes a value that is not a generation.
type Error struct {
	Input string // the offending input, as text
	Err   error  // ErrOverflow, ErrNegative or ErrSyntax
}

func (e *Error) Error() string {
	return fmt.Sprintf("generation %s: %v (want an integer between 0 and %d)", e.Input, e.Err, uint64(Max))
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Generation is the optimistic-concurrency counter of §1: every change to a
// record bumps it, and a write carrying a generation not greater than the
// stored one loses (D5).
//
// Its zero value is generation 0, which is legal but never assigned to a new
// record (records start at Initial). A Generation always lies in 0..Max:
// the only ways to make one are the checked constructors below.
type Generation struct{ n int64 }

// Initial is the generation of every new instance, VMM and migration side.
func Initial() Generation { return Generation{1} }

// Of returns generation n. It cannot fail: every uint32 is in range.
func Of(n uint32) Generation { return Generation{int64(n)} }

// FromInt64 returns generation n, or an error if n is negative.
func FromInt64(n int64) (Generation, error) {
	if n < 0 {
		return Generation{}, &Error{Input: strconv.FormatInt(n, 10), Err: ErrNegative}
	}
	return Generation{n}, nil
}

// FromUint64 returns generation n, or an error if n exceeds Max.
func FromUint64(n uint64) (Generation, error) {
	if n > Max {
		return Generation{}, &Error{Input: strconv.FormatUint(n, 10), Err: ErrOverflow}
	}
	return Generation{int64(n)}, nil
}

// Parse decodes the decimal form written by String. Signs, spaces and
// values outside 0..Max are errors.
func Parse(s string) (Generation, error) { return parse(s) }

// ParseBytes is Parse for a byte slice, without converting it to a string
// on the success path.
func ParseBytes(b []byte) (Generation, error) { return parse(b) }

// clipLimit bounds how much of a refused input an error message repeats;
// no input longer than that can be a generation.
const clipLimit = 40

// rangeErr is the error for a run of digits too long for 64 bits.
func rangeErr(negative bool) error {
	if negative {
		return ErrNegative
	}
	return ErrOverflow
}

// parse is Parse and ParseBytes: one reading of the decimal form. The
// input is a run of ASCII digits, or a '-' and a run of digits, which is
// a negative number and refused as one (ErrNegative); anything else is
// ErrSyntax, and a run of digits past Max is ErrOverflow. The errors are
// strconv's: a run that passes 64 bits is out of range even if a bad byte
// follows.
func parse[T string | []byte](s T) (Generation, error) {
	if len(s) == 0 || len(s) > clipLimit {
		return Generation{}, &Error{Input: strconv.Quote(clip.String(string(s), clipLimit)), Err: ErrSyntax}
	}
	digits := s
	if s[0] == '-' {
		digits = s[1:]
	}
	if len(digits) == 0 {
		return Generation{}, &Error{Input: strconv.Quote(string(s)), Err: ErrSyntax}
	}
	negative := len(digits) < len(s)
	var n uint64
	for i := range len(digits) {
		c := digits[i]
		if c < '0' || c > '9' {
			return Generation{}, &Error{Input: strconv.Quote(string(s)), Err: ErrSyntax}
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			// Past what 64 bits hold: out of range, whatever follows (as
			// strconv decides it).
			return Generation{}, &Error{Input: strconv.Quote(string(s)), Err: rangeErr(negative)}
		}
		n = n*10 + d
	}
	if negative {
		return Generation{}, &Error{Input: strconv.Quote(string(s)), Err: ErrNegative}
	}
	return FromUint64(n)
}

// Int64 returns g as the signed value stored in the database.
func (g Generation) Int64() int64 { return g.n }

// Uint64 returns g as an unsigned integer.
func (g Generation) Uint64() uint64 { return uint64(g.n) }

// Next returns g+1, or ErrOverflow if g is Max: never a wrap, never a panic
// (D5).
func (g Generation) Next() (Generation, error) {
	if g.n == Max {
		return g, errNextOverflow()
	}
	return Generation{g.n + 1}, nil
}

// errNextOverflow is out of line so that Next stays small enough to inline
// into every transition.
//
//go:noinline
func errNextOverflow() error {
	return &Error{Input: strconv.FormatInt(Max, 10) + "+1", Err: ErrOverflow}
}

// Prev returns g−1 and true when g > 1; generations 0 and 1 have no
// predecessor (§1).
func (g Generation) Prev() (Generation, bool) {
	if g.n <= 1 {
		return g, false
	}
	return Generation{g.n - 1}, true
}

// Compare returns −1, 0 or +1 as g is older than, equal to or newer than h.
func (g Generation) Compare(h Generation) int {
	switch {
	case g.n < h.n:
		return -1
	case g.n > h.n:
		return 1
	}
	return 0
}

// Before reports whether g is older than h.
func (g Generation) Before(h Generation) bool { return g.n < h.n }

// After reports whether g is newer than h: the test every guarded write makes
// (D5, §8).
func (g Generation) After(h Generation) bool { return g.n > h.n }

// String returns the decimal form.
func (g Generation) String() string { return strconv.FormatInt(g.n, 10) }

// AppendText implements encoding.TextAppender.
func (g Generation) AppendText(b []byte) ([]byte, error) { return strconv.AppendInt(b, g.n, 10), nil }

// MarshalText implements encoding.TextMarshaler.
func (g Generation) MarshalText() ([]byte, error) { return g.AppendText(nil) }

// UnmarshalText implements encoding.TextUnmarshaler; on error g is unchanged.
func (g *Generation) UnmarshalText(b []byte) error {
	v, err := ParseBytes(b)
	if err != nil {
		return err
	}
	*g = v
	return nil
}

// MarshalJSON writes g as a bare JSON integer (§1, D9).
func (g Generation) MarshalJSON() ([]byte, error) { return g.AppendText(nil) }

// UnmarshalJSON reads a bare JSON integer in 0..Max. Strings, fractions,
// exponents and null are errors; on error g is unchanged.
func (g *Generation) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' || string(b) == "null" {
		return &Error{Input: clip.Bytes(b, clipLimit), Err: ErrSyntax}
	}
	return g.UnmarshalText(b)
}

// Scan implements sql.Scanner for an INT8 column. NULL, negative values and
// other types are errors; on error g is unchanged.
func (g *Generation) Scan(src any) error {
	var v Generation
	var err error
	switch x := src.(type) {
	case int64:
		v, err = FromInt64(x)
	case []byte:
		v, err = ParseBytes(x)
	case string:
		v, err = Parse(x)
	case nil:
		err = &Error{Input: "NULL", Err: ErrSyntax}
	default:
		err = &Error{Input: fmt.Sprintf("of type %T", src), Err: ErrSyntax}
	}
	if err != nil {
		return err
	}
	*g = v
	return nil
}

// Value implements driver.Valuer: the int64 column value.
func (g Generation) Value() (driver.Value, error) { return g.n, nil }

// Package enum holds the one implementation of vmlife's string enums: a
// table from small integer values to their wire strings, with the strict
// parsing, text, SQL and error behaviour that D2, D3 and D9 ask of every enum.
//
// Each public enum type keeps a package-level *Table and forwards its
// methods to it, so the wire strings of an enum are written exactly once.
package enum

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnknown is matched by errors.Is for every value an enum does not know:
// an unknown string, a NULL, a non-string column, or an out-of-range number.
var ErrUnknown = errors.New("unknown enum value")

// Error reports a value an enum does not accept, with the values it does.
type Error struct {
	Type     string   // the Go type, for example "failure.Reason"
	Input    string   // what was given, quoted as received (or "NULL")
	Accepted []string // every accepted wire string, in declaration order
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: unknown value %s (accepted: %s)", e.Type, e.Input, strings.Join(e.Accepted, ", "))
}

// Is reports whether target is ErrUnknown.
func (e *Error) Is(target error) bool { return target == ErrUnknown }

// Table maps the values 1..len(names) of an enum E to their wire strings.
// The zero value of E, and anything past the end, is invalid.
type Table[E ~uint8] struct {
	typ      string
	names    []string
	accepted string // the names joined by ", ", for error messages
	foldCase bool
}

// New returns the table for type typ (as "pkg.Type") whose value i+1 is
// names[i]. With foldCase, Parse also accepts the names with their ASCII
// letters in any case — as Omicron's parsers do for the enums where they
// fold (D24) — and never by Unicode folding: "deſtroyed", with a long s,
// is not "destroyed".
func New[E ~uint8](typ string, foldCase bool, names ...string) *Table[E] {
	// Copied so that a caller passing names... cannot change the wire
	// strings later.
	return &Table[E]{typ: typ, names: append([]string(nil), names...), accepted: strings.Join(names, ", "), foldCase: foldCase}
}

// Accepted returns the wire strings joined by ", ", for messages.
func (t *Table[E]) Accepted() string { return t.accepted }

// FoldsCase reports whether Parse accepts the names in any ASCII case.
func (t *Table[E]) FoldsCase() bool { return t.foldCase }

// Valid reports whether e is one of the table's values.
func (t *Table[E]) Valid(e E) bool { return e >= 1 && int(e) <= len(t.names) }

// All returns every valid value in declaration order, in a fresh slice.
func (t *Table[E]) All() []E {
	all := make([]E, len(t.names))
	for i := range all {
		all[i] = E(i + 1)
	}
	return all
}

// Names returns the wire strings in declaration order, in a fresh slice.
func (t *Table[E]) Names() []string { return append([]string(nil), t.names...) }

// String returns the wire string of e, or "pkg.Type(n)" for an invalid e:
// never a panic (D2).
func (t *Table[E]) String(e E) string {
	if t.Valid(e) {
		return t.names[e-1]
	}
	return t.typ + "(" + strconv.Itoa(int(e)) + ")"
}

// GoString returns "pkg.Type(\"name\")", or "pkg.Type(n)" for an invalid
// e: what %#v and rapid's failure output print, a name rather than a number.
func (t *Table[E]) GoString(e E) string {
	if t.Valid(e) {
		return t.typ + "(" + strconv.Quote(t.names[e-1]) + ")"
	}
	return t.String(e)
}

// Append appends the wire string of e to b; an invalid e is an error.
func (t *Table[E]) Append(b []byte, e E) ([]byte, error) {
	if !t.Valid(e) {
		return b, t.invalid(e)
	}
	return append(b, t.names[e-1]...), nil
}

// Parse returns the value whose wire string is s. An exact match is looked
// for first, so that in a folding table Parse(String(e)) is e even when two
// names differ only in case.
func (t *Table[E]) Parse(s string) (E, error) {
	for i, n := range t.names {
		if n == s {
			return E(i + 1), nil
		}
	}
	if t.foldCase {
		for i, n := range t.names {
			if asciiEqualFold(n, s) {
				return E(i + 1), nil
			}
		}
	}
	return 0, t.unknown(strconv.Quote(s))
}

// asciiEqualFold reports whether a and b are equal once their ASCII
// letters are lower-cased; every other byte must match exactly.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ParseBytes is Parse without converting b to a string first.
func (t *Table[E]) ParseBytes(b []byte) (E, error) {
	for i, n := range t.names {
		if n == string(b) {
			return E(i + 1), nil
		}
	}
	if t.foldCase {
		for i, n := range t.names {
			if asciiEqualFold(n, string(b)) {
				return E(i + 1), nil
			}
		}
	}
	return 0, t.unknown(strconv.Quote(string(b)))
}

// Scan implements the body of sql.Scanner: a string or []byte column holding
// a wire string. NULL and other types are errors (use sql.Null for a nullable
// column).
func (t *Table[E]) Scan(src any) (E, error) {
	switch v := src.(type) {
	case string:
		return t.Parse(v)
	case []byte:
		return t.ParseBytes(v)
	case nil:
		return 0, t.unknown("NULL")
	default:
		return 0, t.unknown(fmt.Sprintf("of type %T", src))
	}
}

// Value implements the body of driver.Valuer.
func (t *Table[E]) Value(e E) (driver.Value, error) {
	if !t.Valid(e) {
		return nil, t.invalid(e)
	}
	return t.names[e-1], nil
}

func (t *Table[E]) invalid(e E) error {
	return t.unknown(t.typ + "(" + strconv.Itoa(int(e)) + ")")
}

func (t *Table[E]) unknown(input string) error {
	return &Error{Type: t.typ, Input: input, Accepted: t.Names()}
}

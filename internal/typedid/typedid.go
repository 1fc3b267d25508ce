// Package typedid gives every kind of record its own UUID type, so a VMM id
// cannot be passed where a sled id is expected. Public packages export
// instantiations under their own names (vmmstate.ID, migration.ID, …).
package typedid

import (
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// ErrInvalid is matched by errors.Is for every id that cannot be decoded.
var ErrInvalid = errors.New("invalid id")

// Kind names a kind of record; its Name is used in error messages.
type Kind interface{ Name() string }

// ID is a UUID that identifies a record of kind K. The zero value is the
// nil UUID, which no record has: IsZero reports it.
type ID[K Kind] struct{ u uuid.UUID }

// FromUUID returns u as an id of kind K.
func FromUUID[K Kind](u uuid.UUID) ID[K] { return ID[K]{u} }

// Parse decodes the canonical 36-character UUID form (any case).
func Parse[K Kind](s string) (ID[K], error) {
	if len(s) != 36 {
		return ID[K]{}, parseError[K](s)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return ID[K]{}, parseError[K](s)
	}
	return ID[K]{u}, nil
}

// Error reports text that is not an id of the named kind.
type Error struct {
	Kind  string
	Input string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s id: %q is not a UUID (want the 36-character form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", e.Kind, e.Input)
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func parseError[K Kind](s string) error {
	var k K
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return &Error{Kind: k.Name(), Input: s}
}

// UUID returns the id as a plain UUID.
func (id ID[K]) UUID() uuid.UUID { return id.u }

// IsZero reports whether id is the nil UUID.
func (id ID[K]) IsZero() bool { return id.u == uuid.Nil }

// String returns the canonical lower-case form.
func (id ID[K]) String() string { return id.u.String() }

// AppendText implements encoding.TextAppender, in the form String gives.
// It encodes in place rather than through String so that appending to a
// buffer with room allocates nothing, which is the point of TextAppender.
func (id ID[K]) AppendText(b []byte) ([]byte, error) {
	const hex = "0123456789abcdef"
	for i, c := range id.u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID[K]) MarshalText() ([]byte, error) { return id.AppendText(make([]byte, 0, 36)) }

// UnmarshalText implements encoding.TextUnmarshaler; on error id is unchanged.
func (id *ID[K]) UnmarshalText(b []byte) error {
	v, err := Parse[K](string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Scan implements sql.Scanner for a UUID column (string or 16 raw bytes).
func (id *ID[K]) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return id.UnmarshalText([]byte(v))
	case []byte:
		if len(v) == 16 {
			var u uuid.UUID
			copy(u[:], v)
			*id = ID[K]{u}
			return nil
		}
		return id.UnmarshalText(v)
	case nil:
		return parseError[K]("NULL")
	default:
		return parseError[K](fmt.Sprintf("value of type %T", src))
	}
}

// Value implements driver.Valuer.
func (id ID[K]) Value() (driver.Value, error) { return id.u.String(), nil }

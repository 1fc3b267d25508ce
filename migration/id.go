package migration

import (
	"database/sql/driver"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/internal/typedid"
)

type migrationKind struct{}

func (migrationKind) Name() string { return "migration" }

// ID identifies a migration (one live-migration attempt; the migration row's
// id and the instance's migration_id). It is its own type, so a VMM or
// instance id cannot be passed in its place. The zero value is the nil UUID,
// which identifies nothing (IsZero).
type ID typedid.ID[migrationKind]

// ParseID parses a migration id in the canonical 36-character UUID form.
func ParseID(s string) (ID, error) {
	id, err := typedid.Parse[migrationKind](s)
	return ID(id), err
}

// IDFromUUID returns u as a migration id.
func IDFromUUID(u uuid.UUID) ID { return ID(typedid.FromUUID[migrationKind](u)) }

// UUID returns the migration id as a plain UUID.
func (id ID) UUID() uuid.UUID { return typedid.ID[migrationKind](id).UUID() }

// IsZero reports whether id is the nil UUID, which identifies nothing.
func (id ID) IsZero() bool { return typedid.ID[migrationKind](id).IsZero() }

// String returns the canonical lower-case form.
func (id ID) String() string { return typedid.ID[migrationKind](id).String() }

// GoString returns migration.ID("…"), so that %#v and rapid's failure
// output show the id as a UUID.
func (id ID) GoString() string { return `migration.ID("` + id.String() + `")` }

// AppendText implements encoding.TextAppender, in the form String gives.
func (id ID) AppendText(b []byte) ([]byte, error) { return typedid.ID[migrationKind](id).AppendText(b) }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return typedid.ID[migrationKind](id).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler: the canonical
// 36-character form, any case. On error id is unchanged.
func (id *ID) UnmarshalText(b []byte) error { return (*typedid.ID[migrationKind])(id).UnmarshalText(b) }

// Scan implements sql.Scanner for a UUID column (text or 16 raw bytes).
func (id *ID) Scan(src any) error { return (*typedid.ID[migrationKind])(id).Scan(src) }

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return typedid.ID[migrationKind](id).Value() }

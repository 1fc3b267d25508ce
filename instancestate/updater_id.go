package instancestate

import (
	"database/sql/driver"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/internal/typedid"
)

type updaterKind struct{}

func (updaterKind) Name() string { return "updater" }

// UpdaterID identifies a saga holding (or asking for) the instance-updater
// lock (§9). The zero value, the nil UUID, means "no updater" (an unlocked
// instance's updater_id is NULL).
type UpdaterID typedid.ID[updaterKind]

// ParseUpdaterID parses an updater id in the canonical UUID form.
func ParseUpdaterID(s string) (UpdaterID, error) {
	id, err := typedid.Parse[updaterKind](s)
	return UpdaterID(id), err
}

// UpdaterIDFromUUID returns u as an updater id.
func UpdaterIDFromUUID(u uuid.UUID) UpdaterID { return UpdaterID(typedid.FromUUID[updaterKind](u)) }

// UUID returns the updater id as a plain UUID.
func (id UpdaterID) UUID() uuid.UUID { return typedid.ID[updaterKind](id).UUID() }

// IsZero reports whether id is the nil UUID, which identifies nothing.
func (id UpdaterID) IsZero() bool { return typedid.ID[updaterKind](id).IsZero() }

// String returns the canonical lower-case form.
func (id UpdaterID) String() string { return typedid.ID[updaterKind](id).String() }

// GoString returns instancestate.UpdaterID("…"), so that %#v and rapid's failure
// output show the id as a UUID.
func (id UpdaterID) GoString() string { return `instancestate.UpdaterID("` + id.String() + `")` }

// AppendText implements encoding.TextAppender, in the form String gives.
func (id UpdaterID) AppendText(b []byte) ([]byte, error) {
	return typedid.ID[updaterKind](id).AppendText(b)
}

// MarshalText implements encoding.TextMarshaler.
func (id UpdaterID) MarshalText() ([]byte, error) { return typedid.ID[updaterKind](id).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler: the canonical
// 36-character form, any case. On error id is unchanged.
func (id *UpdaterID) UnmarshalText(b []byte) error {
	return (*typedid.ID[updaterKind])(id).UnmarshalText(b)
}

// Scan implements sql.Scanner for a UUID column (text or 16 raw bytes).
func (id *UpdaterID) Scan(src any) error { return (*typedid.ID[updaterKind])(id).Scan(src) }

// Value implements driver.Valuer.
func (id UpdaterID) Value() (driver.Value, error) { return typedid.ID[updaterKind](id).Value() }

package vmmstate

import (
	"database/sql/driver"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/internal/typedid"
)

type vmmKind struct{}
type sledKind struct{}
type instanceKind struct{}

func (vmmKind) Name() string      { return "VMM" }
func (sledKind) Name() string     { return "sled" }
func (instanceKind) Name() string { return "instance" }

// ID identifies a VMM (a Propolis process; Omicron's "propolis id"). Each
// kind of id is its own type, so a sled id cannot be passed as a VMM id. The
// zero value is the nil UUID, which identifies nothing (IsZero).
type ID typedid.ID[vmmKind]

// SledID identifies the sled (host) a VMM runs on.
type SledID typedid.ID[sledKind]

// InstanceID identifies the instance a VMM runs; instancestate uses the same
// type for the instance record.
type InstanceID typedid.ID[instanceKind]

// ParseID parses a VMM id in the canonical UUID form.
func ParseID(s string) (ID, error) {
	id, err := typedid.Parse[vmmKind](s)
	return ID(id), err
}

// ParseSledID parses a sled id in the canonical UUID form.
func ParseSledID(s string) (SledID, error) {
	id, err := typedid.Parse[sledKind](s)
	return SledID(id), err
}

// ParseInstanceID parses an instance id in the canonical UUID form.
func ParseInstanceID(s string) (InstanceID, error) {
	id, err := typedid.Parse[instanceKind](s)
	return InstanceID(id), err
}

// IDFromUUID returns u as a VMM id.
func IDFromUUID(u uuid.UUID) ID { return ID(typedid.FromUUID[vmmKind](u)) }

// SledIDFromUUID returns u as a sled id.
func SledIDFromUUID(u uuid.UUID) SledID { return SledID(typedid.FromUUID[sledKind](u)) }

// InstanceIDFromUUID returns u as an instance id.
func InstanceIDFromUUID(u uuid.UUID) InstanceID { return InstanceID(typedid.FromUUID[instanceKind](u)) }

// UUID returns the VMM id as a plain UUID.
func (id ID) UUID() uuid.UUID { return typedid.ID[vmmKind](id).UUID() }

// IsZero reports whether id is the nil UUID, which identifies nothing.
func (id ID) IsZero() bool { return typedid.ID[vmmKind](id).IsZero() }

// String returns the canonical lower-case form.
func (id ID) String() string { return typedid.ID[vmmKind](id).String() }

// GoString returns vmmstate.ID("…"), so that %#v and rapid's failure
// output show the id as a UUID.
func (id ID) GoString() string { return `vmmstate.ID("` + id.String() + `")` }

// AppendText implements encoding.TextAppender, in the form String gives.
func (id ID) AppendText(b []byte) ([]byte, error) { return typedid.ID[vmmKind](id).AppendText(b) }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return typedid.ID[vmmKind](id).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler: the canonical
// 36-character form, any case. On error id is unchanged.
func (id *ID) UnmarshalText(b []byte) error { return (*typedid.ID[vmmKind])(id).UnmarshalText(b) }

// Scan implements sql.Scanner for a UUID column (text or 16 raw bytes).
func (id *ID) Scan(src any) error { return (*typedid.ID[vmmKind])(id).Scan(src) }

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return typedid.ID[vmmKind](id).Value() }

// UUID returns the sled id as a plain UUID.
func (id SledID) UUID() uuid.UUID { return typedid.ID[sledKind](id).UUID() }

// IsZero reports whether id is the nil UUID, which identifies nothing.
func (id SledID) IsZero() bool { return typedid.ID[sledKind](id).IsZero() }

// String returns the canonical lower-case form.
func (id SledID) String() string { return typedid.ID[sledKind](id).String() }

// GoString returns vmmstate.SledID("…"), so that %#v and rapid's failure
// output show the id as a UUID.
func (id SledID) GoString() string { return `vmmstate.SledID("` + id.String() + `")` }

// AppendText implements encoding.TextAppender, in the form String gives.
func (id SledID) AppendText(b []byte) ([]byte, error) { return typedid.ID[sledKind](id).AppendText(b) }

// MarshalText implements encoding.TextMarshaler.
func (id SledID) MarshalText() ([]byte, error) { return typedid.ID[sledKind](id).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler: the canonical
// 36-character form, any case. On error id is unchanged.
func (id *SledID) UnmarshalText(b []byte) error { return (*typedid.ID[sledKind])(id).UnmarshalText(b) }

// Scan implements sql.Scanner for a UUID column (text or 16 raw bytes).
func (id *SledID) Scan(src any) error { return (*typedid.ID[sledKind])(id).Scan(src) }

// Value implements driver.Valuer.
func (id SledID) Value() (driver.Value, error) { return typedid.ID[sledKind](id).Value() }

// UUID returns the instance id as a plain UUID.
func (id InstanceID) UUID() uuid.UUID { return typedid.ID[instanceKind](id).UUID() }

// IsZero reports whether id is the nil UUID, which identifies nothing.
func (id InstanceID) IsZero() bool { return typedid.ID[instanceKind](id).IsZero() }

// String returns the canonical lower-case form.
func (id InstanceID) String() string { return typedid.ID[instanceKind](id).String() }

// GoString returns vmmstate.InstanceID("…"), so that %#v and rapid's failure
// output show the id as a UUID.
func (id InstanceID) GoString() string { return `vmmstate.InstanceID("` + id.String() + `")` }

// AppendText implements encoding.TextAppender, in the form String gives.
func (id InstanceID) AppendText(b []byte) ([]byte, error) {
	return typedid.ID[instanceKind](id).AppendText(b)
}

// MarshalText implements encoding.TextMarshaler.
func (id InstanceID) MarshalText() ([]byte, error) { return typedid.ID[instanceKind](id).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler: the canonical
// 36-character form, any case. On error id is unchanged.
func (id *InstanceID) UnmarshalText(b []byte) error {
	return (*typedid.ID[instanceKind])(id).UnmarshalText(b)
}

// Scan implements sql.Scanner for a UUID column (text or 16 raw bytes).
func (id *InstanceID) Scan(src any) error { return (*typedid.ID[instanceKind])(id).Scan(src) }

// Value implements driver.Valuer.
func (id InstanceID) Value() (driver.Value, error) { return typedid.ID[instanceKind](id).Value() }

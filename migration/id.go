package migration

import (
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/internal/typedid"
)

type migrationKind struct{}

func (migrationKind) Name() string { return "migration" }

// ID identifies a migration (one live-migration attempt; the migration row's
// id and the instance's migration_id). It is its own type, so a VMM or
// instance id cannot be passed in its place. The zero value is the nil UUID,
// which identifies nothing (IsZero).
type ID = typedid.ID[migrationKind]

// ParseID parses a migration id in the canonical 36-character UUID form.
func ParseID(s string) (ID, error) { return typedid.Parse[migrationKind](s) }

// IDFromUUID returns u as a migration id.
func IDFromUUID(u uuid.UUID) ID { return typedid.FromUUID[migrationKind](u) }

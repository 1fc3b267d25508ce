package migration

import (
	"database/sql/driver"

	"github.com/vmlife/vmlife/internal/enum"
)

// Role names a side of a migration: the source VMM the instance leaves, or
// the target VMM it moves to. Each side is owned by the sled-agent that runs
// its VMM (§0): the source reports it as migration_out, the target as
// migration_in (§3.2). The zero value is invalid.
type Role uint8

// The roles.
const (
	Source Role = iota + 1 // the VMM migrating out (source_* columns, migration_out)
	Target                 // the VMM migrating in (target_* columns, migration_in)
)

var roles = enum.New[Role]("migration.Role", false, "source", "target")

// roleRow is how one role appears in the database and on the wire.
type roleRow struct {
	vmmColumn, stateColumn, genColumn string // §5.4
	reportKey                         string // §3.2: the key of SledVmmState that carries this side
}

var roleTable = [...]roleRow{
	Source: {"source_propolis_id", "source_state", "source_gen", "migration_out"},
	Target: {"target_propolis_id", "target_state", "target_gen", "migration_in"},
}

func (r Role) row() roleRow {
	if !r.IsValid() {
		return roleRow{}
	}
	return roleTable[r]
}

// AllRoles returns Source and Target.
func AllRoles() []Role { return roles.All() }

// ParseRole returns the role whose string is s ("source" or "target").
func ParseRole(s string) (Role, error) { return roles.Parse(s) }

// IsValid reports whether r is Source or Target.
func (r Role) IsValid() bool { return roles.Valid(r) }

// String returns "source", "target", or "migration.Role(n)" for an invalid r.
func (r Role) String() string { return roles.String(r) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (r Role) GoString() string { return roles.GoString(r) }

// Other returns the opposite side; an invalid r gives the invalid zero Role.
func (r Role) Other() Role {
	switch r {
	case Source:
		return Target
	case Target:
		return Source
	}
	return 0
}

// ReportKey returns the key of the sled-agent's SledVmmState that carries
// this side (§3.2): "migration_out" for the source, "migration_in" for the
// target; "" for an invalid r.
func (r Role) ReportKey() string { return r.row().reportKey }

// AppendText implements encoding.TextAppender.
func (r Role) AppendText(b []byte) ([]byte, error) { return roles.Append(b, r) }

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) { return roles.Append(nil, r) }

// UnmarshalText implements encoding.TextUnmarshaler; on error r is unchanged.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := roles.ParseBytes(b)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Scan implements sql.Scanner.
func (r *Role) Scan(src any) error {
	v, err := roles.Scan(src)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Value implements driver.Valuer.
func (r Role) Value() (driver.Value, error) { return roles.Value(r) }

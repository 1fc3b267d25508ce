package instancestate

import (
	"database/sql/driver"
	"time"

	"github.com/vmlife/vmlife/internal/enum"
)

// LostCause says how an instance meant to run came to have no VMM when no
// guest shutdown and no failed start explains it (D22). The zero value is
// invalid ("not lost").
type LostCause uint8

// The causes.
const (
	// LostStartUnwound: its start saga unwound and left a saga_unwound VMM
	// linked, which the update plan unlinked (D11): the start failed
	// without saying why.
	LostStartUnwound LostCause = iota + 1
	// LostMidMigration: its VMM was destroyed while a migration was linked,
	// so the plan could not read the end as a guest shutdown (§13.3 step 1).
	LostMidMigration
)

var lostCauses = enum.New[LostCause]("instancestate.LostCause", false, "start_unwound", "mid_migration")

// AllLostCauses returns the causes in declaration order.
func AllLostCauses() []LostCause { return lostCauses.All() }

// IsValid reports whether c is one of the causes.
func (c LostCause) IsValid() bool { return lostCauses.Valid(c) }

// String returns "start_unwound", "mid_migration", or
// "instancestate.LostCause(n)".
func (c LostCause) String() string { return lostCauses.String(c) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (c LostCause) GoString() string { return lostCauses.GoString(c) }

// MarshalText implements encoding.TextMarshaler.
func (c LostCause) MarshalText() ([]byte, error) { return lostCauses.Append(nil, c) }

// AppendText implements encoding.TextAppender.
func (c LostCause) AppendText(b []byte) ([]byte, error) { return lostCauses.Append(b, c) }

// UnmarshalText implements encoding.TextUnmarshaler; on error c is unchanged.
func (c *LostCause) UnmarshalText(b []byte) error { return unmarshal(lostCauses, c, b) }

// Scan implements sql.Scanner for the vmm_lost_cause column; on error c is
// unchanged.
func (c *LostCause) Scan(src any) error { return scan(lostCauses, c, src) }

// Value implements driver.Valuer.
func (c LostCause) Value() (driver.Value, error) { return lostCauses.Value(c) }

// ParseLostCause returns the cause named s.
func ParseLostCause(s string) (LostCause, error) { return lostCauses.Parse(s) }

// VMMLost records that the update plan left an instance meant to run
// without a VMM, and why (D22). It is what tells, from the record alone,
// an instance the control plane lost (restarted only as a reincarnation,
// under the policy and cooldown) from one whose user asked for a start
// that never ran (rolled forward with a plain start). The zero value means
// nothing was lost. A start that links a VMM clears it.
type VMMLost struct {
	Cause LostCause
	Time  time.Time // when the plan unlinked the VMM
}

// IsSet reports whether a loss is recorded.
func (l VMMLost) IsSet() bool { return l.Cause != 0 }

// message says what happened, for the VMMLost condition.
func (l VMMLost) message() string {
	switch l.Cause {
	case LostStartUnwound:
		return "the instance's start unwound and left it without a VMM"
	case LostMidMigration:
		return "the instance's VMM was destroyed in the middle of a migration"
	}
	return l.Cause.String()
}

package failure

import (
	"database/sql/driver"

	"github.com/vmlife/vmlife/internal/enum"
)

// Reason says why a VMM failed (§4.3). A failed VMM always carries one
// (D4). The zero value is invalid: it names no reason.
//
// On the wire, in JSON and in the database's vmm_failure_reason column a
// Reason is its snake_case string. A client that meets a string it does not
// know should treat the VMM as failed for an unknown reason rather than
// reject the record: reasons explain a failure, they never undo it.
type Reason uint8

// The reasons, in Omicron's declaration order.
const (
	// Prehistoric: the VMM failed before reasons were recorded. Legacy rows
	// read leniently get it (§5.5, D8).
	Prehistoric Reason = iota + 1
	// FromSledAgent: the sled-agent reported the VMM failed (§4.6).
	FromSledAgent
	// NoSuchInstance: a sled-agent answered that the VMM is no longer there
	// (404 or 410 with NO_SUCH_INSTANCE, D18).
	NoSuchInstance
	// SledExpunged: the VMM's sled was expunged from the rack.
	SledExpunged
	// SledOff: the VMM's sled is unreachable and powered off (A1 or A2).
	SledOff
)

var reasons = enum.New[Reason]("failure.Reason", false,
	"prehistoric", "from_sled_agent", "no_such_instance", "sled_expunged", "sled_off")

var descriptions = [...]string{
	Prehistoric:    "VMM failed prior to recorded history",
	FromSledAgent:  "failed VMM state received from sled-agent",
	NoSuchInstance: "VMM no longer present on sled",
	SledExpunged:   "the sled this VMM was running on has been expunged",
	SledOff:        "the sled this VMM was running on powered off",
}

// AllReasons returns every valid Reason in declaration order.
func AllReasons() []Reason { return reasons.All() }

// ParseReason returns the Reason whose wire string is s. The match is exact;
// an unknown string is an error listing the accepted ones.
func ParseReason(s string) (Reason, error) { return reasons.Parse(s) }

// IsValid reports whether r is one of the five reasons.
func (r Reason) IsValid() bool { return reasons.Valid(r) }

// String returns the wire string, or "failure.Reason(n)" for an invalid r.
func (r Reason) String() string { return reasons.String(r) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (r Reason) GoString() string { return reasons.GoString(r) }

// Description returns a sentence for people; "" for an invalid r.
func (r Reason) Description() string {
	if !r.IsValid() {
		return ""
	}
	return descriptions[r]
}

// AppendText implements encoding.TextAppender.
func (r Reason) AppendText(b []byte) ([]byte, error) { return reasons.Append(b, r) }

// MarshalText implements encoding.TextMarshaler; JSON uses it too.
func (r Reason) MarshalText() ([]byte, error) { return reasons.Append(nil, r) }

// UnmarshalText implements encoding.TextUnmarshaler; on error r is unchanged.
func (r *Reason) UnmarshalText(b []byte) error {
	v, err := reasons.ParseBytes(b)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Scan implements sql.Scanner. NULL is an error: scan a nullable column into
// sql.Null[Reason].
func (r *Reason) Scan(src any) error {
	v, err := reasons.Scan(src)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Value implements driver.Valuer.
func (r Reason) Value() (driver.Value, error) { return reasons.Value(r) }

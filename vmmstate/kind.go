package vmmstate

import (
	"database/sql/driver"

	"github.com/vmlife/vmlife/internal/enum"
)

// Kind is a VMM state without its failure reason: the ten values of the
// database's vmm_state column (§5.1, §6.1) and the unit the edge table is
// written in (D7). Every State has exactly one Kind. The zero value is
// invalid.
type Kind uint8

// The kinds, in Omicron's declaration order (§4.1).
const (
	KindCreating Kind = iota + 1
	KindStarting
	KindRunning
	KindStopping
	KindStopped
	KindRebooting
	KindMigrating
	KindFailed
	KindDestroyed
	KindSagaUnwound
)

var kinds = enum.New[Kind]("vmmstate.Kind", true,
	"creating", "starting", "running", "stopping", "stopped",
	"rebooting", "migrating", "failed", "destroyed", "saga_unwound")

// kindRow is everything vmlife knows about one kind, in one place: the
// predicates of §4.2 and the mappings of D8. Code, tests, docs and diagrams
// all read this table.
type kindRow struct {
	terminal    bool           // §4.2: will never change again
	destroyable bool           // §4.2: sled resources may be released, the record deleted
	onSled      bool           // §4.2: a VMM process exists (or may) on a sled
	reportable  bool           // D7: a sled-agent can report it (§3.1)
	sledAgent   SledAgentState // D8: the sled-agent wire form
	external    External       // D8: the VMM-level external state
}

var kindTable = [...]kindRow{
	KindCreating:    {onSled: false, reportable: false, sledAgent: SledAgentStarting, external: ExternalStarting},
	KindStarting:    {onSled: true, reportable: true, sledAgent: SledAgentStarting, external: ExternalStarting},
	KindRunning:     {onSled: true, reportable: true, sledAgent: SledAgentRunning, external: ExternalRunning},
	KindStopping:    {onSled: true, reportable: true, sledAgent: SledAgentStopping, external: ExternalStopping},
	KindStopped:     {onSled: true, reportable: true, sledAgent: SledAgentStopped, external: ExternalStopped},
	KindRebooting:   {onSled: true, reportable: true, sledAgent: SledAgentRebooting, external: ExternalRebooting},
	KindMigrating:   {onSled: true, reportable: true, sledAgent: SledAgentMigrating, external: ExternalMigrating},
	KindFailed:      {terminal: true, destroyable: true, onSled: true, reportable: true, sledAgent: SledAgentFailed, external: ExternalFailed},
	KindDestroyed:   {terminal: true, destroyable: true, onSled: false, reportable: true, sledAgent: SledAgentDestroyed, external: ExternalDestroyed},
	KindSagaUnwound: {destroyable: true, onSled: false, reportable: false, sledAgent: SledAgentDestroyed, external: ExternalStopped},
}

func (k Kind) row() kindRow {
	if !k.IsValid() {
		return kindRow{}
	}
	return kindTable[k]
}

// AllKinds returns the ten kinds in declaration order.
func AllKinds() []Kind { return kinds.All() }

// ParseKind returns the Kind whose database string is s (exact match).
func ParseKind(s string) (Kind, error) { return kinds.Parse(s) }

// IsValid reports whether k is one of the ten kinds.
func (k Kind) IsValid() bool {
	// A constant range rather than kinds.Valid, which loads the table's
	// length through a pointer on every call: this sits on every hot path.
	return k >= KindCreating && k <= KindSagaUnwound
}

// String returns the database string, or "vmmstate.Kind(n)" for an invalid k.
func (k Kind) String() string { return kinds.String(k) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (k Kind) GoString() string { return kinds.GoString(k) }

// IsTerminal reports whether a VMM of this kind never changes again:
// destroyed or failed (§4.2). saga_unwound is not terminal.
func (k Kind) IsTerminal() bool { return k.row().terminal }

// IsDestroyable reports whether the VMM's sled resources may be released and
// its record deleted: destroyed, failed or saga_unwound (§4.2).
func (k Kind) IsDestroyable() bool { return k.row().destroyable }

// ExistsOnSled reports whether a VMM process exists, or may, on its sled:
// every kind but creating, saga_unwound and destroyed (§4.2). A failed VMM
// counts as existing.
func (k Kind) ExistsOnSled() bool { return k.row().onSled }

// IsReportable reports whether a sled-agent can report this kind (§3.1):
// every kind but creating and saga_unwound, which exist only in the control
// plane (D7).
func (k Kind) IsReportable() bool { return k.row().reportable }

// AppendText implements encoding.TextAppender.
func (k Kind) AppendText(b []byte) ([]byte, error) { return kinds.Append(b, k) }

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return kinds.Append(nil, k) }

// UnmarshalText implements encoding.TextUnmarshaler; on error k is unchanged.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := kinds.ParseBytes(b)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Scan implements sql.Scanner for the vmm_state column.
func (k *Kind) Scan(src any) error {
	v, err := kinds.Scan(src)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Value implements driver.Valuer.
func (k Kind) Value() (driver.Value, error) { return kinds.Value(k) }

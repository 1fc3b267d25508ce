package vmmstate

import (
	"database/sql/driver"
	"encoding/json"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/internal/enum"
)

// SledAgentState is a VMM state as a sled-agent reports it (§3.1): eight
// values, no failure reason, no creating and no saga_unwound. The zero
// value is invalid.
type SledAgentState uint8

// The sled-agent states, in declaration order (§3.1).
const (
	SledAgentStarting SledAgentState = iota + 1
	SledAgentRunning
	SledAgentStopping
	SledAgentStopped
	SledAgentRebooting
	SledAgentMigrating
	SledAgentFailed
	SledAgentDestroyed
)

var sledAgentStates = enum.New[SledAgentState]("vmmstate.SledAgentState", false,
	"starting", "running", "stopping", "stopped", "rebooting", "migrating", "failed", "destroyed")

// sledAgentToState is the sled-agent → domain half of D8 (§4.6): a failure
// reported by a sled-agent is Failed(FromSledAgent), because the wire cannot
// say why.
var sledAgentToState = [...]State{
	SledAgentStarting:  Starting,
	SledAgentRunning:   Running,
	SledAgentStopping:  Stopping,
	SledAgentStopped:   Stopped,
	SledAgentRebooting: Rebooting,
	SledAgentMigrating: Migrating,
	SledAgentFailed:    Failed(failure.FromSledAgent),
	SledAgentDestroyed: Destroyed,
}

// AllSledAgentStates returns the eight sled-agent states in declaration order.
func AllSledAgentStates() []SledAgentState { return sledAgentStates.All() }

// ParseSledAgentState returns the sled-agent state whose wire string is s.
func ParseSledAgentState(s string) (SledAgentState, error) { return sledAgentStates.Parse(s) }

// IsValid reports whether s is one of the eight sled-agent states.
func (s SledAgentState) IsValid() bool { return sledAgentStates.Valid(s) }

// String returns the wire string, or "vmmstate.SledAgentState(n)".
func (s SledAgentState) String() string { return sledAgentStates.String(s) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (s SledAgentState) GoString() string { return sledAgentStates.GoString(s) }

// IsTerminal reports whether s is failed or destroyed (§3.1).
func (s SledAgentState) IsTerminal() bool { return s == SledAgentFailed || s == SledAgentDestroyed }

// State converts s to the domain (D8, §4.6): failed becomes
// Failed(FromSledAgent). An invalid s gives the invalid zero State.
func (s SledAgentState) State() State {
	if !s.IsValid() {
		return 0
	}
	return sledAgentToState[s]
}

// SledAgent converts s to the sled-agent wire form (D8): creating is sent as
// starting and saga_unwound as destroyed, so neither ever reaches a
// sled-agent; a failed state loses its reason. An invalid s gives the invalid
// zero SledAgentState.
func (s State) SledAgent() SledAgentState { return s.Kind().row().sledAgent }

// AppendText implements encoding.TextAppender.
func (s SledAgentState) AppendText(b []byte) ([]byte, error) { return sledAgentStates.Append(b, s) }

// MarshalText implements encoding.TextMarshaler.
func (s SledAgentState) MarshalText() ([]byte, error) { return sledAgentStates.Append(nil, s) }

// UnmarshalText implements encoding.TextUnmarshaler; on error s is unchanged.
func (s *SledAgentState) UnmarshalText(b []byte) error {
	v, err := sledAgentStates.ParseBytes(b)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Scan implements sql.Scanner.
func (s *SledAgentState) Scan(src any) error {
	v, err := sledAgentStates.Scan(src)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Value implements driver.Valuer.
func (s SledAgentState) Value() (driver.Value, error) { return sledAgentStates.Value(s) }

// SledAgentRuntime is the VMM runtime a sled-agent reports (§3.2), JSON
// `{"state":"running","gen":4,"time_updated":"2026-11-21T10:00:00Z"}`.
type SledAgentRuntime struct {
	State       SledAgentState        `json:"state"`
	Generation  generation.Generation `json:"gen"`
	TimeUpdated time.Time             `json:"time_updated"`
}

// Runtime converts r to the domain (D8): the state as SledAgentState.State
// converts it, generation and time copied.
func (r SledAgentRuntime) Runtime() Runtime {
	return Runtime{State: r.State.State(), Generation: r.Generation, TimeUpdated: r.TimeUpdated}
}

// SledAgent converts r to the form a sled-agent is sent (§3.2, D8).
func (r Runtime) SledAgent() SledAgentRuntime {
	return SledAgentRuntime{State: r.State.SledAgent(), Generation: r.Generation, TimeUpdated: r.TimeUpdated}
}

// MarshalJSON writes the sled-agent form; an invalid state is an error.
func (r SledAgentRuntime) MarshalJSON() ([]byte, error) {
	type plain SledAgentRuntime
	return json.Marshal(plain(r))
}

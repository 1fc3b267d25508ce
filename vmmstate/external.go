package vmmstate

import (
	"database/sql/driver"

	"github.com/vmlife/vmlife/internal/enum"
)

// External is the instance state the public API shows (§2.1): ten values,
// snake_case on the wire. instancestate re-exports it as instancestate.State
// and derives it for whole instances (§7); this package defines it because
// the VMM-level mapping of D8 (State.External) lives here. The zero value is
// invalid.
//
// Clients should treat a value they do not know as "unknown, not running"
// rather than reject the whole instance: new states may be added.
type External uint8

// The external states, in declaration order (§2.1).
const (
	ExternalCreating  External = iota + 1 // being created
	ExternalStarting                      // starting up
	ExternalRunning                       // running
	ExternalStopping                      // stop requested; stopped is imminent
	ExternalStopped                       // stopped: a start may proceed at once
	ExternalRebooting                     // rebooting
	ExternalMigrating                     // migrating until done and the target is ready
	ExternalRepairing                     // recovering from a failure (defined, never derived: §2.1)
	ExternalFailed                        // encountered a failure
	ExternalDestroyed                     // deleted
)

var externals = enum.New[External]("instancestate.State", false,
	"creating", "starting", "running", "stopping", "stopped",
	"rebooting", "migrating", "repairing", "failed", "destroyed")

// AllExternal returns the ten external states in declaration order.
func AllExternal() []External { return externals.All() }

// ParseExternal returns the external state whose wire string is s.
func ParseExternal(s string) (External, error) { return externals.Parse(s) }

// IsValid reports whether e is one of the ten external states.
func (e External) IsValid() bool { return externals.Valid(e) }

// String returns the wire string, or "instancestate.State(n)" for an invalid e.
func (e External) String() string { return externals.String(e) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (e External) GoString() string { return externals.GoString(e) }

// AppendText implements encoding.TextAppender.
func (e External) AppendText(b []byte) ([]byte, error) { return externals.Append(b, e) }

// MarshalText implements encoding.TextMarshaler.
func (e External) MarshalText() ([]byte, error) { return externals.Append(nil, e) }

// UnmarshalText implements encoding.TextUnmarshaler; on error e is unchanged.
func (e *External) UnmarshalText(b []byte) error {
	v, err := externals.ParseBytes(b)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Scan implements sql.Scanner.
func (e *External) Scan(src any) error {
	v, err := externals.Scan(src)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Value implements driver.Valuer.
func (e External) Value() (driver.Value, error) { return externals.Value(e) }

// External returns what a VMM in state s looks like from the outside, on its
// own (D8): creating reads as starting and saga_unwound as stopped
// (a new start may proceed at once, D10); the others map to their namesake.
// An invalid s gives the invalid zero External.
//
// This is the VMM-level view. An instance's effective state also depends on
// its own record and its migration: see instancestate.EffectiveState.
func (s State) External() External { return s.Kind().row().external }

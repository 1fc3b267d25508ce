package instancestate

import (
	"database/sql/driver"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/vmmstate"
)

// NexusState is the instance record's own state column (§5.1, §6.4): what
// the control plane knows without looking at a VMM. The zero value is
// invalid.
type NexusState uint8

// The nexus states, in declaration order.
const (
	NexusCreating  NexusState = iota + 1 // the create saga is in flight
	NexusNoVMM                           // no active VMM: the instance is stopped
	NexusVMM                             // the state is derived from the active VMM
	NexusFailed                          // something bad happened; a candidate for auto-restart
	NexusDestroyed                       // deleted
)

// Parsing folds case so that Omicron's display labels "no_VMM" and "VMM"
// read too (§6.4); writing always uses the lower-case database strings.
var nexusStates = enum.New[NexusState]("instancestate.NexusState", true,
	"creating", "no_vmm", "vmm", "failed", "destroyed")

// AllNexusStates returns the five nexus states in declaration order.
func AllNexusStates() []NexusState { return nexusStates.All() }

// ParseNexusState returns the nexus state named s, in any case.
func ParseNexusState(s string) (NexusState, error) { return nexusStates.Parse(s) }

// IsValid reports whether n is one of the five nexus states.
func (n NexusState) IsValid() bool { return nexusStates.Valid(n) }

// String returns the database string, or "instancestate.NexusState(n)".
func (n NexusState) String() string { return nexusStates.String(n) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (n NexusState) GoString() string { return nexusStates.GoString(n) }

// AppendText implements encoding.TextAppender.
func (n NexusState) AppendText(b []byte) ([]byte, error) { return nexusStates.Append(b, n) }

// MarshalText implements encoding.TextMarshaler.
func (n NexusState) MarshalText() ([]byte, error) { return nexusStates.Append(nil, n) }

// UnmarshalText implements encoding.TextUnmarshaler; on error n is unchanged.
func (n *NexusState) UnmarshalText(b []byte) error { return unmarshal(nexusStates, n, b) }

// Scan implements sql.Scanner for the state column.
func (n *NexusState) Scan(src any) error { return scan(nexusStates, n, src) }

// Value implements driver.Valuer.
func (n NexusState) Value() (driver.Value, error) { return nexusStates.Value(n) }

// State is the instance state the external API shows (§2.1). It is the same
// type as vmmstate.External; its values are re-declared here under their
// plain names.
type State = vmmstate.External

// The external states (§2.1).
const (
	Creating  = vmmstate.ExternalCreating
	Starting  = vmmstate.ExternalStarting
	Running   = vmmstate.ExternalRunning
	Stopping  = vmmstate.ExternalStopping
	Stopped   = vmmstate.ExternalStopped
	Rebooting = vmmstate.ExternalRebooting
	Migrating = vmmstate.ExternalMigrating
	Repairing = vmmstate.ExternalRepairing
	Failed    = vmmstate.ExternalFailed
	Destroyed = vmmstate.ExternalDestroyed
)

// IntendedState is what the user last asked the instance to be (§6.5). It is
// kept apart from what is observed (D19) and written only for accepted
// requests (D16). The zero value is invalid.
type IntendedState uint8

// The intended states, in declaration order.
const (
	IntendRunning       IntendedState = iota + 1 // started, or created with start
	IntendStopped                                // stopped through the API
	IntendGuestShutdown                          // the guest shut itself down (not an API stop)
	IntendDestroyed                              // deleted
)

// IntentUnchanged is the zero IntendedState where a Decision or a Plan
// carries an intent to write: write none, keep the stored one. It is not a
// valid intended state of an instance (IsValid is false).
const IntentUnchanged IntendedState = 0

var intendedStates = enum.New[IntendedState]("instancestate.IntendedState", false,
	"running", "stopped", "guest_shutdown", "destroyed")

// AllIntendedStates returns the four intended states in declaration order.
func AllIntendedStates() []IntendedState { return intendedStates.All() }

// ParseIntendedState returns the intended state whose wire string is s.
func ParseIntendedState(s string) (IntendedState, error) { return intendedStates.Parse(s) }

// IsValid reports whether i is one of the four intended states.
func (i IntendedState) IsValid() bool { return intendedStates.Valid(i) }

// String returns the wire string, or "instancestate.IntendedState(n)".
func (i IntendedState) String() string { return intendedStates.String(i) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (i IntendedState) GoString() string { return intendedStates.GoString(i) }

// AppendText implements encoding.TextAppender.
func (i IntendedState) AppendText(b []byte) ([]byte, error) { return intendedStates.Append(b, i) }

// MarshalText implements encoding.TextMarshaler.
func (i IntendedState) MarshalText() ([]byte, error) { return intendedStates.Append(nil, i) }

// UnmarshalText implements encoding.TextUnmarshaler; on error i is unchanged.
func (i *IntendedState) UnmarshalText(b []byte) error { return unmarshal(intendedStates, i, b) }

// Scan implements sql.Scanner for the intended_state column.
func (i *IntendedState) Scan(src any) error { return scan(intendedStates, i, src) }

// Value implements driver.Valuer.
func (i IntendedState) Value() (driver.Value, error) { return intendedStates.Value(i) }

// AutoRestartPolicy says whether the control plane restarts an instance that
// failed (§2.2). The zero value is invalid and, in an Instance's AutoRestart,
// means "not configured": the default, BestEffort, applies (§6.9).
type AutoRestartPolicy uint8

// The policies.
const (
	PolicyNever      AutoRestartPolicy = iota + 1 // never restart automatically
	PolicyBestEffort                              // try to restart; may decline to protect availability
)

var policies = enum.New[AutoRestartPolicy]("instancestate.AutoRestartPolicy", false, "never", "best_effort")

// AllAutoRestartPolicies returns the two policies.
func AllAutoRestartPolicies() []AutoRestartPolicy { return policies.All() }

// ParseAutoRestartPolicy returns the policy whose wire string is s.
func ParseAutoRestartPolicy(s string) (AutoRestartPolicy, error) { return policies.Parse(s) }

// IsValid reports whether p is one of the two policies.
func (p AutoRestartPolicy) IsValid() bool { return policies.Valid(p) }

// String returns the wire string, or "instancestate.AutoRestartPolicy(n)".
func (p AutoRestartPolicy) String() string { return policies.String(p) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (p AutoRestartPolicy) GoString() string { return policies.GoString(p) }

// AppendText implements encoding.TextAppender.
func (p AutoRestartPolicy) AppendText(b []byte) ([]byte, error) { return policies.Append(b, p) }

// MarshalText implements encoding.TextMarshaler.
func (p AutoRestartPolicy) MarshalText() ([]byte, error) { return policies.Append(nil, p) }

// UnmarshalText implements encoding.TextUnmarshaler; on error p is unchanged.
func (p *AutoRestartPolicy) UnmarshalText(b []byte) error { return unmarshal(policies, p, b) }

// Scan implements sql.Scanner for the auto_restart_policy column (use
// sql.Null for NULL).
func (p *AutoRestartPolicy) Scan(src any) error { return scan(policies, p, src) }

// Value implements driver.Valuer.
func (p AutoRestartPolicy) Value() (driver.Value, error) { return policies.Value(p) }

func unmarshal[E ~uint8](t *enum.Table[E], dst *E, b []byte) error {
	v, err := t.ParseBytes(b)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

func scan[E ~uint8](t *enum.Table[E], dst *E, src any) error {
	v, err := t.Scan(src)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

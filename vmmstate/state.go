package vmmstate

import (
	"strconv"
	"strings"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/internal/enum"
)

// State is the domain state of a VMM (§4.1): one of nine plain states, or
// failed with the reason it failed (D4). It is a one-byte comparable value.
//
// The plain states are the constants below; the only way to make a failed
// state is Failed(reason), and a plain state has no reason, so an invalid
// pair cannot be built (D4). The zero value is invalid: IsValid reports
// false, String says "vmmstate.State(0)", and every operation given it
// returns an error rather than guessing.
//
// Equality includes the failure reason: Failed(SledOff) != Failed(FromSledAgent).
//
// A State is not a database column: the vmm table keeps it in two, state
// (a Kind) and failure_reason (a failure.Reason or NULL). Runtime.Row and
// Row.Runtime convert between them (§6.3, D8); Kind and failure.Reason are
// the sql.Scanner and driver.Valuer types.
type State uint8

// The plain states. The low four bits of a State are its Kind; a failed
// state keeps its reason in the bits above.
const (
	Creating    = State(KindCreating)    // in the database, not yet on a sled
	Starting    = State(KindStarting)    // initializing, no guest CPUs yet
	Running     = State(KindRunning)     // may be running guest CPUs
	Stopping    = State(KindStopping)    // shutting down
	Stopped     = State(KindStopped)     // guest stopped for good; the process may still hold resources
	Rebooting   = State(KindRebooting)   // the guest is rebooting
	Migrating   = State(KindMigrating)   // a side of a live migration
	Destroyed   = State(KindDestroyed)   // the process is gone and its resources released
	SagaUnwound = State(KindSagaUnwound) // the saga that created it unwound before the instance could use it
)

const reasonShift = 4

// Failed returns the failed state with reason r. An invalid r gives the
// invalid zero State, which every operation rejects.
func Failed(r failure.Reason) State {
	if !r.IsValid() {
		return 0
	}
	return State(KindFailed) | State(r)<<reasonShift
}

// AllStates returns every valid state: the nine plain states and a failed
// state for each reason, in declaration order (§4.1).
func AllStates() []State {
	out := make([]State, 0, 14)
	for _, k := range AllKinds() {
		if k == KindFailed {
			for _, r := range failure.AllReasons() {
				out = append(out, Failed(r))
			}
			continue
		}
		out = append(out, State(k))
	}
	return out
}

// Kind returns s without its failure reason: its database state column and
// its row in the edge table.
func (s State) Kind() Kind {
	if !s.IsValid() {
		return 0
	}
	return Kind(s & (1<<reasonShift - 1))
}

// FailureReason returns the reason of a failed state, and false for any
// other state.
func (s State) FailureReason() (failure.Reason, bool) {
	if !s.IsValid() || Kind(s&(1<<reasonShift-1)) != KindFailed {
		return 0, false
	}
	return failure.Reason(s >> reasonShift), true
}

// IsValid reports whether s is a plain state or failed with a valid reason.
func (s State) IsValid() bool { return validStates[s] }

// validStates answers IsValid for every byte with one load; Transition and
// Observe ask it on every call.
var validStates = func() (t [256]bool) {
	for _, s := range AllStates() {
		t[s] = true
	}
	return t
}()

// IsTerminal reports whether s never changes again: destroyed or failed (§4.2).
func (s State) IsTerminal() bool { return s.Kind().IsTerminal() }

// IsFailed reports whether s is failed, with any reason (§4.2).
func (s State) IsFailed() bool { return s.Kind() == KindFailed }

// IsDestroyable reports whether the VMM may be deallocated and its record
// deleted: destroyed, failed or saga_unwound (§4.2).
func (s State) IsDestroyable() bool { return s.Kind().IsDestroyable() }

// ExistsOnSled reports whether a VMM process exists, or may, on its sled
// (§4.2): not creating, saga_unwound or destroyed.
func (s State) ExistsOnSled() bool { return s.Kind().ExistsOnSled() }

// String returns the wire label of a plain state ("running"), "failed(reason)"
// for a failed state, or "vmmstate.State(n)" for an invalid one.
func (s State) String() string {
	b, err := s.AppendText(nil)
	if err != nil {
		return "vmmstate.State(" + strconv.Itoa(int(s)) + ")"
	}
	return string(b)
}

// GoString implements fmt.GoStringer, in the form a Go reader knows:
// vmmstate.Running, vmmstate.Failed(failure.SledOff) — so that %#v and
// rapid's failure output name states instead of printing bytes.
func (s State) GoString() string {
	if !s.IsValid() {
		return s.String()
	}
	if r, ok := s.FailureReason(); ok {
		return "vmmstate.Failed(" + r.GoString() + ")"
	}
	return "vmmstate.State(" + strconv.Quote(s.String()) + ")"
}

// AppendText implements encoding.TextAppender with the form String returns.
func (s State) AppendText(b []byte) ([]byte, error) {
	if !s.IsValid() {
		return b, &enum.Error{Type: "vmmstate.State", Input: "vmmstate.State(" + strconv.Itoa(int(s)) + ")", Accepted: stateNames()}
	}
	b, _ = s.Kind().AppendText(b)
	if r, ok := s.FailureReason(); ok {
		b = append(b, '(')
		b, _ = r.AppendText(b)
		b = append(b, ')')
	}
	return b, nil
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return s.AppendText(nil) }

// ParseState returns the state written as String writes it: "running",
// "failed(sled_off)". A bare "failed" is an error: a failed state always says
// why (D4).
func ParseState(text string) (State, error) {
	if head, rest, ok := strings.Cut(text, "("); ok && head == "failed" && strings.HasSuffix(rest, ")") {
		r, err := failure.ParseReason(rest[:len(rest)-1])
		if err != nil {
			return 0, err
		}
		return Failed(r), nil
	}
	// The domain form is spelt exactly; only the database column's parser
	// (ParseKind) folds case, as Omicron's does (D24).
	k, err := ParseKind(text)
	if err != nil || k == KindFailed || k.String() != text {
		return 0, &enum.Error{Type: "vmmstate.State", Input: strconv.Quote(text), Accepted: stateNames()}
	}
	return State(k), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; on error s is unchanged.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalJSON writes Omicron's externally tagged form (D9): a plain state is
// its label, `"running"`; a failed state is `{"failed":"sled_off"}`.
func (s State) MarshalJSON() ([]byte, error) {
	if !s.IsValid() {
		_, err := s.AppendText(nil)
		return nil, err
	}
	if r, ok := s.FailureReason(); ok {
		b := append([]byte(`{"failed":"`), r.String()...)
		return append(b, `"}`...), nil
	}
	b := append([]byte{'"'}, s.Kind().String()...)
	return append(b, '"'), nil
}

func stateNames() []string {
	var out []string
	for _, s := range AllStates() {
		out = append(out, s.String())
	}
	return out
}

func jsonStateNames() []string {
	var out []string
	for _, s := range AllStates() {
		b, _ := s.MarshalJSON()
		out = append(out, string(b))
	}
	return out
}

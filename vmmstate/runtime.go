package vmmstate

import (
	"time"

	"github.com/vmlife/vmlife/failure"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/internal/enum"
)

// Runtime is the generation-guarded part of a VMM record (§4.4): its state,
// the generation of that state, and when it was set. It is a comparable
// value; operations return a new Runtime and never modify the receiver.
//
// In JSON a Runtime is `{"state":…,"gen":…,"time_updated":…}` with the
// domain state in its externally tagged form (D9).
type Runtime struct {
	State       State                 `json:"state"`
	Generation  generation.Generation `json:"gen"`
	TimeUpdated time.Time             `json:"time_updated"`
}

// NewRuntime is the runtime of a freshly inserted VMM record: creating, at
// the initial generation, stamped now (§6.3).
func NewRuntime(now time.Time) Runtime {
	return Runtime{State: Creating, Generation: generation.Initial(), TimeUpdated: now}
}

// Outcome says what Transition or Observe did.
type Outcome uint8

// The outcomes.
const (
	// Applied: the runtime changed; the new one must be written.
	Applied Outcome = iota + 1
	// Unchanged: the change asked for is already true, or is absorbed by a
	// terminal state (failing a failed VMM keeps the first cause, D6).
	// Nothing needs writing.
	Unchanged
	// Stale: a report's generation is not newer than the stored one (D5).
	// It is dropped without error: a late or duplicated report is normal.
	Stale
)

var outcomes = enum.New[Outcome]("vmmstate.Outcome", false, "applied", "unchanged", "stale")

// IsValid reports whether o is one of the three outcomes.
func (o Outcome) IsValid() bool { return outcomes.Valid(o) }

// String returns "applied", "unchanged", "stale", or "vmmstate.Outcome(n)".
func (o Outcome) String() string { return outcomes.String(o) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (o Outcome) GoString() string { return outcomes.GoString(o) }

// MarshalText implements encoding.TextMarshaler.
func (o Outcome) MarshalText() ([]byte, error) { return outcomes.Append(nil, o) }

// Transition is a change the control plane makes (§4.4 as amended by D5–D7):
//
//   - to the identical state (reason included): Unchanged, r returned as is;
//   - failing an already failed VMM, whatever the reason: Unchanged, the first
//     cause and its generation kept (D6);
//   - along an edge of the table (D7), including into saga_unwound from any
//     non-terminal state: Applied, generation+1, stamped now (D5);
//   - out of a terminal state: ErrTerminal; along no edge: ErrIllegalTransition;
//     an invalid state on either side: ErrInvalidState; past the largest
//     generation: generation.ErrOverflow.
//
// On error the returned runtime is r, unchanged, and the error is a
// *TransitionError.
func (r Runtime) Transition(to State, now time.Time) (Runtime, Outcome, error) {
	// A Runtime is five words, more than the compiler keeps in registers,
	// so it lives in memory; the results that are not errors are written
	// field by field (Runtime{State: r.State, …}) rather than as r: copying
	// the whole struct back out of the just-spilled receiver defeats the
	// CPU's store forwarding and made these paths about half again slower
	// (BenchmarkTransition, BenchmarkObserve).
	if !r.State.IsValid() || !to.IsValid() {
		return r, 0, r.refuse(to, Runtime{}, false, ErrInvalidState)
	}
	if to == r.State {
		return Runtime{State: r.State, Generation: r.Generation, TimeUpdated: r.TimeUpdated}, Unchanged, nil
	}
	from := r.State.Kind()
	if from.IsTerminal() {
		if from == KindFailed && to.IsFailed() {
			// D6: the first cause wins.
			return Runtime{State: r.State, Generation: r.Generation, TimeUpdated: r.TimeUpdated}, Unchanged, nil
		}
		return r, 0, r.refuse(to, Runtime{}, false, ErrTerminal)
	}
	if !CanTransition(from, to.Kind()) {
		return r, 0, r.refuse(to, Runtime{}, false, ErrIllegalTransition)
	}
	g, err := r.Generation.Next()
	if err != nil {
		return r, 0, r.refuse(to, Runtime{}, false, generation.ErrOverflow)
	}
	return Runtime{State: to, Generation: g, TimeUpdated: now}, Applied, nil
}

// Observe applies a report from the VMM's sled-agent (D5–D7, §8.2):
//
//   - a report whose generation is not strictly newer: Stale, r unchanged,
//     no error — late and duplicated reports are normal (D5);
//   - a newer report of the same non-terminal state: Applied (the sled-agent
//     bumps the generation on every observation, §3.5);
//   - a newer report of a terminal state the VMM is already in (destroyed
//     again, or failed with any reason): Unchanged, the first cause kept (D6);
//   - a newer report along an edge a report may take: Applied, the report
//     becomes the runtime;
//   - a report of creating or saga_unwound (which no sled-agent can send),
//     or along no edge: ErrIllegalTransition; out of a terminal state:
//     ErrTerminal; an invalid state: ErrInvalidState.
//
// On error the returned runtime is r, unchanged, and the *TransitionError
// holds the whole report.
func (r Runtime) Observe(report Runtime) (Runtime, Outcome, error) {
	if !report.State.IsValid() || !r.State.IsValid() {
		return r, 0, r.refuse(report.State, report, true, ErrInvalidState)
	}
	if !report.Generation.After(r.Generation) {
		return Runtime{State: r.State, Generation: r.Generation, TimeUpdated: r.TimeUpdated}, Stale, nil
	}
	to, from := report.State.Kind(), r.State.Kind()
	switch {
	case !to.IsReportable():
		return r, 0, r.refuse(report.State, report, true, ErrIllegalTransition)
	case from.IsTerminal() && to == from:
		// D6: terminal absorbs; a failure keeps its first cause.
		return Runtime{State: r.State, Generation: r.Generation, TimeUpdated: r.TimeUpdated}, Unchanged, nil
	case from.IsTerminal():
		return r, 0, r.refuse(report.State, report, true, ErrTerminal)
	case to == from, CanTransition(from, to):
		return Runtime{State: report.State, Generation: report.Generation, TimeUpdated: report.TimeUpdated}, Applied, nil
	}
	return r, 0, r.refuse(report.State, report, true, ErrIllegalTransition)
}

func (r Runtime) refuse(to State, report Runtime, observed bool, err error) error {
	return &TransitionError{From: r, To: to, Report: report, Observed: observed, Err: err}
}

// Validate returns a *RecordError (ErrInvalidRecord) naming the "state" field
// when r does not hold a valid state. A zero time is allowed.
func (r Runtime) Validate() error {
	if !r.State.IsValid() {
		return &RecordError{Field: "state", Value: r.State.String(), Rule: "a valid VMM state"}
	}
	return nil
}

// MarkFailed records proof that the VMM is dead (D18): a sled-agent
// answered that it is gone, its sled was expunged, or its sled is off
// (failure.Classify, failure.CheckHealth give the reason). It is
// Transition(Failed(reason)) for a VMM that exists on its sled (§4.2), and
// Unchanged for one that does not — a VMM still being created was never
// registered, so "no such instance" proves nothing about it; an unwound or
// destroyed one is already gone. A VMM already failed keeps its first cause
// (D6). An invalid reason is ErrInvalidState.
func (r Runtime) MarkFailed(reason failure.Reason, now time.Time) (Runtime, Outcome, error) {
	if !reason.IsValid() {
		return r, 0, r.refuse(0, Runtime{}, false, ErrInvalidState)
	}
	if r.State.IsValid() && !r.State.ExistsOnSled() {
		return r, Unchanged, nil
	}
	return r.Transition(Failed(reason), now)
}

package vmmstate_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

var exampleNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// The control plane changes a VMM's state with Transition: an edge bumps
// the generation and stamps the time it is given; the same state again is
// a no-op; a move the lifecycle does not have is refused and changes
// nothing.
func ExampleRuntime_Transition() {
	r := vmmstate.NewRuntime(exampleNow)
	fmt.Println(r.State, r.Generation)

	r, outcome, err := r.Transition(vmmstate.Starting, exampleNow.Add(time.Second))
	fmt.Println(r.State, r.Generation, outcome, err)

	r, outcome, err = r.Transition(vmmstate.Starting, exampleNow.Add(2*time.Second))
	fmt.Println(r.State, r.Generation, outcome, err)

	// The start saga unwound: only the control plane marks this (D7).
	r, outcome, err = r.Transition(vmmstate.SagaUnwound, exampleNow.Add(3*time.Second))
	fmt.Println(r.State, r.Generation, outcome, err)

	_, _, err = r.Transition(vmmstate.Running, exampleNow.Add(4*time.Second))
	fmt.Println(errors.Is(err, vmmstate.ErrIllegalTransition))
	// Output:
	// creating 1
	// starting 2 applied <nil>
	// starting 2 unchanged <nil>
	// saga_unwound 3 applied <nil>
	// true
}

// Reports from the sled-agent are applied with Observe. A report that is
// not newer is stale and dropped without error (D5); a newer one along an
// edge is applied whole; one that would move backwards is refused, and the
// error holds the report so it can be logged (D7).
func ExampleRuntime_Observe() {
	stored := vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(4), TimeUpdated: exampleNow}

	late := vmmstate.Runtime{State: vmmstate.Starting, Generation: generation.Of(3), TimeUpdated: exampleNow}
	_, outcome, err := stored.Observe(late)
	fmt.Println("late report:", outcome, err)

	stopping := vmmstate.Runtime{State: vmmstate.Stopping, Generation: generation.Of(5), TimeUpdated: exampleNow.Add(time.Second)}
	stored, outcome, err = stored.Observe(stopping)
	fmt.Println("newer report:", outcome, err, "→", stored.State, stored.Generation)

	backwards := vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(6), TimeUpdated: exampleNow.Add(2 * time.Second)}
	after, outcome, err := stored.Observe(backwards)
	var te *vmmstate.TransitionError
	if errors.As(err, &te) {
		fmt.Println("refused:", outcome, after == stored, te.Report.State, te.Report.Generation)
	}
	fmt.Println(err)
	// Output:
	// late report: stale <nil>
	// newer report: applied <nil> → stopping 5
	// refused: vmmstate.Outcome(0) true running 6
	// vmmstate: report at generation 6 stopping → running refused (stored generation 5): illegal VMM state transition
}

// A failed state always carries why it failed (D4), and the first cause is
// kept when the VMM is failed again (D6).
func ExampleFailed() {
	s := vmmstate.Failed(failure.SledOff)
	reason, ok := s.FailureReason()
	fmt.Println(s, s.Kind(), reason, ok, s.IsTerminal())

	js, _ := json.Marshal(s)
	fmt.Println(string(js))

	r := vmmstate.Runtime{State: s, Generation: generation.Of(7), TimeUpdated: exampleNow}
	r, outcome, _ := r.Transition(vmmstate.Failed(failure.SledExpunged), exampleNow)
	fmt.Println(r.State, r.Generation, outcome)

	fmt.Println(vmmstate.Failed(0).IsValid())
	// Output:
	// failed(sled_off) failed sled_off true true
	// {"failed":"sled_off"}
	// failed(sled_off) 7 unchanged
	// false
}

// Successors is the edge table's row for a kind (D7); ReportableSuccessors
// leaves out what only the control plane may do.
func ExampleSuccessors() {
	fmt.Println(vmmstate.Successors(vmmstate.KindStopping))
	fmt.Println(vmmstate.ReportableSuccessors(vmmstate.KindStopping))
	fmt.Println(vmmstate.Successors(vmmstate.KindSagaUnwound))
	fmt.Println(vmmstate.Successors(vmmstate.KindDestroyed))
	// Output:
	// [stopped failed destroyed saga_unwound]
	// [stopped failed destroyed]
	// [failed destroyed]
	// []
}

// Domain → sled-agent (D8): the control-plane-only states never reach the
// wire, and a failure loses its reason.
func ExampleState_SledAgent() {
	for _, s := range []vmmstate.State{vmmstate.Creating, vmmstate.Running, vmmstate.Failed(failure.SledOff), vmmstate.SagaUnwound} {
		fmt.Println(s, "→", s.SledAgent())
	}
	// Output:
	// creating → starting
	// running → running
	// failed(sled_off) → failed
	// saga_unwound → destroyed
}

// Sled-agent → domain (D8, §4.6): a failure reported by a sled-agent is
// Failed(from_sled_agent).
func ExampleSledAgentRuntime_Runtime() {
	var report vmmstate.SledAgentRuntime
	err := json.Unmarshal([]byte(`{"state":"failed","gen":9,"time_updated":"2026-11-21T10:00:00Z"}`), &report)
	fmt.Println(err)
	r := report.Runtime()
	fmt.Println(r.State, r.Generation, r.TimeUpdated.Format(time.RFC3339))
	// Output:
	// <nil>
	// failed(from_sled_agent) 9 2026-11-21T10:00:00Z
}

// Domain → external, VMM level (D8): creating reads as starting,
// saga_unwound as stopped.
func ExampleState_External() {
	for _, s := range []vmmstate.State{vmmstate.Creating, vmmstate.Rebooting, vmmstate.Failed(failure.NoSuchInstance), vmmstate.SagaUnwound} {
		fmt.Println(s, "→", s.External())
	}
	// Output:
	// creating → starting
	// rebooting → rebooting
	// failed(no_such_instance) → failed
	// saga_unwound → stopped
}

// Runtime → Row gives the columns to write (§6.3): the reason goes in its
// own column, NULL for any state but failed.
func ExampleRuntime_Row() {
	for _, s := range []vmmstate.State{vmmstate.Stopped, vmmstate.Failed(failure.SledExpunged)} {
		row := vmmstate.Runtime{State: s, Generation: generation.Of(3), TimeUpdated: exampleNow}.Row()
		reason, _ := row.FailureReason.Value()
		fmt.Println(row.State, reason, row.StateGeneration)
	}
	// Output:
	// stopped <nil> 3
	// failed sled_expunged 3
}

// Reading a row is strict (D8): a row that breaks the table's CHECK
// constraint is an error naming the column.
func ExampleRow_Runtime() {
	row := vmmstate.Row{State: vmmstate.KindFailed, FailureReason: sql.Null[failure.Reason]{V: failure.SledOff, Valid: true}, StateGeneration: generation.Of(3)}
	r, err := row.Runtime()
	fmt.Println(r.State, err)

	bad := vmmstate.Row{State: vmmstate.KindFailed, StateGeneration: generation.Of(3)}
	_, err = bad.Runtime()
	var re *vmmstate.RecordError
	fmt.Println(errors.As(err, &re), re.Field, errors.Is(err, vmmstate.ErrInvalidRecord))
	fmt.Println(err)
	// Output:
	// failed(sled_off) <nil>
	// true failure_reason true
	// vmmstate: invalid record: failure_reason = NULL breaks CHECK failure_reason_iff_failed (state is failed)
}

// LenientRuntime reads legacy rows as Omicron does (§6.3, §5.5): a failed
// row without a reason is prehistoric, and a stray reason is ignored.
func ExampleRow_LenientRuntime() {
	legacy := vmmstate.Row{State: vmmstate.KindFailed, StateGeneration: generation.Of(3)}
	r, err := legacy.LenientRuntime()
	fmt.Println(r.State, err)

	stray := vmmstate.Row{State: vmmstate.KindRunning, FailureReason: sql.Null[failure.Reason]{V: failure.SledOff, Valid: true}}
	r, err = stray.LenientRuntime()
	fmt.Println(r.State, err)
	// Output:
	// failed(prehistoric) <nil>
	// running <nil>
}

package vmmstate_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestMarkFailed walks every state × every reason (D18, D6, §4.2): a VMM
// that exists on its sled fails with the reason at generation+1, one
// already failed keeps its first cause, and one that is not on its sled
// (creating, saga_unwound, destroyed) is left unchanged — a "no such
// instance" about it proves nothing.
func TestMarkFailed(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, st := range vmmstate.AllStates() {
		for _, reason := range failure.AllReasons() {
			r := vmmstate.Runtime{State: st, Generation: generation.Of(4), TimeUpdated: now.Add(-time.Hour)}
			got, o, err := r.MarkFailed(reason, now)
			if err != nil {
				t.Fatalf("%v, %v: %v", st, reason, err)
			}
			onSled := st != vmmstate.Creating && st != vmmstate.SagaUnwound && st != vmmstate.Destroyed
			switch {
			case st.IsFailed() || !onSled:
				if o != vmmstate.Unchanged || got != r {
					t.Errorf("%v, %v: %v %v, want unchanged", st, reason, got, o)
				}
			default:
				want := vmmstate.Runtime{State: vmmstate.Failed(reason), Generation: generation.Of(5), TimeUpdated: now}
				if o != vmmstate.Applied || got != want {
					t.Errorf("%v, %v: %v %v, want %v applied", st, reason, got, o, want)
				}
			}
		}
	}
	r := vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(4)}
	if got, _, err := r.MarkFailed(0, now); !errors.Is(err, vmmstate.ErrInvalidState) || got != r {
		t.Errorf("MarkFailed(invalid reason) = %v, %v; want ErrInvalidState and the runtime unchanged", got, err)
	}
	if _, _, err := (vmmstate.Runtime{}).MarkFailed(failure.SledOff, now); !errors.Is(err, vmmstate.ErrInvalidState) {
		t.Errorf("MarkFailed on the zero runtime = %v, want ErrInvalidState", err)
	}
}

func ExampleRuntime_MarkFailed() {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	gone, _ := failure.Classify(failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance})

	running := vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(4), TimeUpdated: now}
	r, o, _ := running.MarkFailed(gone.Reason, now)
	fmt.Println(r.State, r.Generation, o)

	// A VMM its start saga has not registered yet was never on the sled.
	creating := vmmstate.NewRuntime(now)
	r, o, _ = creating.MarkFailed(gone.Reason, now)
	fmt.Println(r.State, r.Generation, o)
	// Output:
	// failed(no_such_instance) 5 applied
	// creating 1 unchanged
}

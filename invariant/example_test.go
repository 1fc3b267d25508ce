package invariant_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/invariant"
	"github.com/vmlife/vmlife/vmmstate"
)

// A simulator checks every step it takes: here, whatever report a sled-agent
// sends, applying it lowers no generation and takes no illegal edge.
func ExampleCheckSnapshotStep() {
	s := instancetest.SnapshotWithShape(instancetest.ShapeMigrationSource).Example(1)
	for seed := range 3 {
		r := instancetest.Report(s).Example(seed)
		after, _, err := instancestate.ApplyReport(s, r.VMM, r.Report)
		if err != nil {
			after = s // a refused report changes nothing
		}
		fmt.Println(invariant.CheckSnapshotStep(s, after))
	}
	// Output:
	// <nil>
	// <nil>
	// <nil>
}

// An instance meant to run that is stopped is explained by Next (start) or,
// once a start failed for good, by the StartFailed condition.
func ExampleCheckExplained() {
	s := instancetest.SnapshotWithShape(instancetest.ShapeNoVMM).Example(1)
	s.Instance.IntendedState = instancestate.IntendRunning
	s.Instance.UpdaterID = instancestate.UpdaterID{}
	s.Instance = s.Instance.ClearStartFailure()
	now := instancetest.Reference
	next, _ := instancestate.Next(s, now)
	fmt.Println(next.Action, invariant.CheckExplained(s, now))

	s.Instance.StartFailure = failure.NewStartFailure(failure.CauseAffinityUnsatisfiable, failure.StartReasonUser, now)
	next, _ = instancestate.Next(s, now)
	conds, _ := instancestate.Conditions(s, now)
	fmt.Println(next.Action, conds[0].Type, invariant.CheckExplained(s, now))
	// Output:
	// start <nil>
	// none StartFailed <nil>
}

// CheckVMMStep names the rule a step broke: here a store that let a failed
// VMM's reason be rewritten, Omicron's ambiguity 5, which D6 forbids.
func ExampleCheckVMMStep() {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	before := vmmstate.Runtime{State: vmmstate.Failed(failure.Prehistoric), Generation: generation.Of(5), TimeUpdated: at}
	after := vmmstate.Runtime{State: vmmstate.Failed(failure.SledExpunged), Generation: generation.Of(6), TimeUpdated: at}

	err := invariant.CheckVMMStep(before, after, vmmstate.Applied, nil)
	var v *invariant.Violation
	if errors.As(err, &v) {
		fmt.Println(v.Rule)
		fmt.Println(v.Detail)
	}
	// Output:
	// D6: a terminal state absorbs, keeping the first failure reason
	// failed(prehistoric) became failed(sled_expunged)
}

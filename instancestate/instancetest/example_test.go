package instancetest_test

import (
	"fmt"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
)

// In a property of one's own, draw with Draw and fail with the checker's
// error:
//
//	rapid.Check(t, func(t *rapid.T) {
//		s := instancetest.Snapshot().Draw(t, "snapshot")
//		if err := instancetest.CheckSnapshot(s); err != nil {
//			t.Fatal(err)
//		}
//	})
//
// Outside a property, Example draws one value per seed.
func Example() {
	for _, shape := range instancetest.AllShapes() {
		s := instancetest.SnapshotWithShape(shape).Example(1)
		fmt.Printf("%-33v %v\n", instancetest.ShapeOf(s), instancetest.CheckSnapshot(s))
	}
	// Output:
	// creating                          <nil>
	// no_vmm                            <nil>
	// failed                            <nil>
	// destroyed                         <nil>
	// vmm                               <nil>
	// migration_source                  <nil>
	// migration_source_target_unlinked  <nil>
	// migration_target                  <nil>
	// migration_target_unlinked         <nil>
	// stale_migration_no_vmm            <nil>
	// stale_migration_other_vmm         <nil>
}

// A simulator checks every step it takes: here, whatever report a sled-agent
// sends, applying it lowers no generation and takes no illegal edge.
func ExampleCheckStep() {
	s := instancetest.SnapshotWithShape(instancetest.ShapeMigrationSource).Example(1)
	for seed := range 3 {
		r := instancetest.Report(s).Example(seed)
		after, _, err := instancestate.ApplyReport(s, r.VMM, r.Report)
		if err != nil {
			after = s // a refused report changes nothing
		}
		fmt.Println(instancetest.CheckStep(s, after))
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
	fmt.Println(next.Action, instancetest.CheckExplained(s, now))

	s.Instance.StartFailure = failure.NewStartFailure(failure.CauseAffinityUnsatisfiable, failure.StartReasonUser, now)
	next, _ = instancestate.Next(s, now)
	conds, _ := instancestate.Conditions(s, now)
	fmt.Println(next.Action, conds[0].Type, instancetest.CheckExplained(s, now))
	// Output:
	// start <nil>
	// none StartFailed <nil>
}

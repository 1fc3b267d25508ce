package instancetest_test

import (
	"fmt"

	"github.com/vmlife/vmlife/invariant"

	"github.com/vmlife/vmlife/instancestate/instancetest"
)

// In a property of one's own, draw with Draw and fail with the checker's
// error:
//
//	rapid.Check(t, func(t *rapid.T) {
//		s := instancetest.Snapshot().Draw(t, "snapshot")
//		if err := invariant.CheckSnapshot(s); err != nil {
//			t.Fatal(err)
//		}
//	})
//
// Outside a property, Example draws one value per seed.
func Example() {
	for _, shape := range instancetest.AllShapes() {
		s := instancetest.SnapshotWithShape(shape).Example(1)
		fmt.Printf("%-33v %v\n", instancetest.ShapeOf(s), invariant.CheckSnapshot(s))
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

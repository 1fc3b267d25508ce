package vmmtest_test

import (
	"fmt"

	"github.com/vmlife/vmlife/invariant"

	"github.com/vmlife/vmlife/vmmstate/vmmtest"
)

// A property a user would write, run here on a few fixed seeds (in a test,
// draw inside rapid.Check instead): deliver a VMM's reports late,
// duplicated, reordered and dropped, check every step, and end on the
// newest report delivered.
func Example() {
	violations, wrongEnd := 0, 0
	for seed := range 50 {
		path := vmmtest.LegalPath().Example(seed)
		deliveries := vmmtest.Deliveries(path).Example(seed)

		stored, newest := path[0], path[0]
		for _, report := range deliveries {
			next, outcome, err := stored.Observe(report)
			if invariant.CheckVMMStep(stored, next, outcome, err) != nil {
				violations++
			}
			stored = next
			if report.Generation.After(newest.Generation) {
				newest = report
			}
		}
		if stored != newest {
			wrongEnd++
		}
	}
	fmt.Println("violations:", violations, "wrong final state:", wrongEnd)
	// Output:
	// violations: 0 wrong final state: 0
}

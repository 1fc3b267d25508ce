package vmmtest_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
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
			if vmmtest.CheckStep(stored, next, outcome, err) != nil {
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

// CheckStep names the rule a step broke: here a store that let a failed
// VMM's reason be rewritten, Omicron's ambiguity 5, which D6 forbids.
func ExampleCheckStep() {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	before := vmmstate.Runtime{State: vmmstate.Failed(failure.Prehistoric), Generation: generation.Of(5), TimeUpdated: at}
	after := vmmstate.Runtime{State: vmmstate.Failed(failure.SledExpunged), Generation: generation.Of(6), TimeUpdated: at}

	err := vmmtest.CheckStep(before, after, vmmstate.Applied, nil)
	var v *vmmtest.Violation
	if errors.As(err, &v) {
		fmt.Println(v.Rule)
		fmt.Println(v.Detail)
	}
	// Output:
	// D6: a terminal state absorbs, keeping the first failure reason
	// failed(prehistoric) became failed(sled_expunged)
}

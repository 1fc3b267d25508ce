package instancetest_test

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/invariant"
)

// TestPolicyIsValid: every policy and liveness snapshot drawn is valid.
func TestPolicyIsValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if err := instancetest.Policy().Draw(t, "policy").Validate(); err != nil {
			t.Fatal(err)
		}
		if err := instancetest.WithLiveness().Draw(t, "snapshot").Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

// WithLiveness draws snapshots carrying a liveness policy, for
// properties of the decisions under deadlines, backoff and migration
// bounds (D32–D35).
func ExampleWithLiveness() {
	s := instancetest.WithLiveness().Example(1)
	fmt.Println(s.Validate(), invariant.CheckSnapshotAt(s, invariant.Latest(s)))
	// Output:
	// <nil> <nil>
}

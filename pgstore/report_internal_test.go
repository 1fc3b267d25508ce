package pgstore

import (
	"slices"
	"testing"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestApplyFromIsByKind: the one-statement report's edge guard is exactly
// Runtime.Observe — for every stored state (each failure reason too) and
// every state a sled-agent reports, the guard lets the update through
// exactly when Observe applies it.
func TestApplyFromIsByKind(t *testing.T) {
	for _, sa := range vmmstate.AllSledAgentStates() {
		to := vmmstate.SledAgentRuntime{State: sa, Generation: generation.Of(2)}.Runtime()
		for _, from := range vmmstate.AllStates() {
			_, o, err := vmmstate.Runtime{State: from, Generation: generation.Of(1)}.Observe(to)
			want := err == nil && o == vmmstate.Applied
			if got := slices.Contains(applyFrom[to.State.Kind()], from.Kind().String()); got != want {
				t.Errorf("report %v over stored %v: guard passes %v, Observe applies %v", sa, from, got, want)
			}
		}
	}
}

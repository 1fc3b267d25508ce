package instancestate

import (
	"errors"
	"testing"

	"github.com/vmlife/vmlife/generation"
)

// TestCreateSaga: FinishCreate moves creating → no_vmm and UnwindCreate
// creating → destroyed, each at generation+1 along a NexusMoves edge
// (§16); from any other state both leave the instance alone.
func TestCreateSaga(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(Instance) (Instance, bool, error)
		to   NexusState
	}{
		{"FinishCreate", func(in Instance) (Instance, bool, error) { return FinishCreate(in, t1) }, NexusNoVMM},
		{"UnwindCreate", func(in Instance) (Instance, bool, error) { return UnwindCreate(in, t1) }, NexusDestroyed},
	} {
		for _, n := range AllNexusStates() {
			in := snap().nexus(n).build().Instance
			got, applied, err := tc.f(in)
			if err != nil {
				t.Fatalf("%s from %v: %v", tc.name, n, err)
			}
			if n != NexusCreating {
				if applied || got != in {
					t.Errorf("%s from %v: applied %v, changed %v; want neither", tc.name, n, applied, got != in)
				}
				continue
			}
			if !applied || got.Runtime.State != tc.to || got.Runtime.Generation != gen(instGen+1) || !got.Runtime.TimeUpdated.Equal(t1) {
				t.Errorf("%s: %+v (applied %v), want %v at generation %d", tc.name, got.Runtime, applied, tc.to, instGen+1)
			}
			if !CanMove(NexusCreating, tc.to) {
				t.Errorf("%s takes creating → %v, which NexusMoves lacks", tc.name, tc.to)
			}
		}
		in := snap().nexus(NexusCreating).build().Instance
		in.Runtime.Generation, _ = generation.FromUint64(generation.Max)
		if got, applied, err := tc.f(in); err == nil || applied || got != in {
			t.Errorf("%s at the largest generation: %v, applied %v; want an error and no change", tc.name, err, applied)
		} else if !errors.Is(err, generation.ErrOverflow) {
			t.Errorf("%s at the largest generation: %v does not match generation.ErrOverflow", tc.name, err)
		}
	}
	if in, _, _ := UnwindCreate(snap().nexus(NexusCreating).build().Instance, t1); in.IntendedState != IntendDestroyed {
		t.Errorf("UnwindCreate left intent %v, want destroyed", in.IntendedState)
	}
}

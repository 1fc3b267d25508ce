package sim_test

import (
	"fmt"

	"github.com/vmlife/vmlife/sim"
)

// A world driven by a seeded chooser: every step is one action, checked
// against every invariant; the summary says what happened.
func Example() {
	cfg := sim.Default()
	cfg.Instances = 8
	w, err := sim.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := sim.NewRand(cfg.Seed)
	for range 2000 {
		for _, v := range w.Step(r) {
			fmt.Println(v)
		}
	}
	s := w.Summary()
	fmt.Println("steps:", s.Steps)
	fmt.Println("simulated until:", s.SimEnd)
	fmt.Println("violations:", s.Violations)
	// Output:
	// steps: 2000
	// simulated until: 2026-11-21T01:06:40Z
	// violations: 0
}

// The --faults list of `vmlife simulate`.
func ExampleParseFaults() {
	f, err := sim.ParseFaults("drop,delay")
	fmt.Println(f, err)
	fmt.Println(f.Has(sim.FaultDrop), f.Has(sim.FaultSledOff))
	_, err = sim.ParseFaults("meteor")
	fmt.Println(err)
	// Output:
	// delay,drop <nil>
	// true false
	// unknown fault "meteor" (accepted: all, none, delay, duplicate, reorder, drop, sled_off, sled_unreachable, sled_expunge, vmm_crash, start_transient, start_permanent, saga_unwind, saga_replay, vmm_hang, migration_stall, control_plane_crash)
}

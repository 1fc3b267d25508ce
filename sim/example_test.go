package sim_test

import (
	"fmt"

	"github.com/vmlife/vmlife/datastore"
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

// A world whose process dies is resumed from its store and its Keeper:
// here the first World is simply dropped, as a killed process drops it,
// and a second goes on from what the two hold — the saga log's unfinished
// sagas recovered first.
func ExampleResume() {
	store, keeper := datastore.NewMemory(), &sim.MemKeeper{}
	cfg := sim.Default()
	cfg.Instances, cfg.Store, cfg.Keeper = 8, store, keeper
	w, err := sim.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := sim.NewRand(cfg.Seed)
	for range 1000 {
		w.Step(r)
	}
	// The process dies here; another resumes the world.
	w, err = sim.Resume(sim.Config{Store: store, Keeper: keeper})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 1000 {
		w.Step(r)
	}
	w.Settle(r, sim.SettleSteps(8))
	s := w.Summary()
	fmt.Println("instances:", s.Instances)
	fmt.Println("violations:", s.Violations)
	fmt.Println("left over:", s.SagasUnfinished, s.LocksHeld, s.ReservationsLeaked)
	// Output:
	// instances: 8
	// violations: 0
	// left over: 0 0 0
}

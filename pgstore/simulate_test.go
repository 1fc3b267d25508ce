package pgstore_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/vmlife/vmlife/sim"
)

// TestSimulateAsInMemory: the simulator with its records in PostgreSQL
// prints, for the same seed, the same summary as with the in-memory store
// — every guarded write of every saga, report and request, answered alike
// by both stores — and finds no violation.
func TestSimulateAsInMemory(t *testing.T) {
	for _, c := range []struct {
		instances, steps int
		seed             uint64
	}{{6, 1500, 1}, {3, 1500, 2}, {12, 1000, 3}} {
		o := sim.Options{Config: sim.Config{Instances: c.instances, Faults: sim.AllFaultsSet, Seed: c.seed}, Steps: c.steps}
		var mem bytes.Buffer
		want, err := sim.Run(o, &mem, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		o.Config.Store = fresh(t)
		var pg bytes.Buffer
		got, err := sim.Run(o, &pg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if pg.String() != mem.String() {
			t.Errorf("seed %d: PostgreSQL printed\n%s\nthe in-memory store printed\n%s", c.seed, pg.String(), mem.String())
		}
		if got.Violations != 0 || want.Violations != 0 {
			t.Errorf("seed %d: %d violations on PostgreSQL, %d in memory", c.seed, got.Violations, want.Violations)
		}
	}
}

package instancestate

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// fleetSize is the fleet the background tasks' benchmarks sweep.
const fleetSize = 1_000_000

// fleetMix is a realistic fleet, by share in a thousand: mostly running,
// some stopped, migrating, stopping, failed, with dead or unwound VMMs, or
// locked by an updater.
var fleetMix = []struct {
	per1000 int
	b       builder
}{
	{850, snap().vmm(vmmstate.Running)},
	{40, snap()},
	{30, snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating)},
	{20, snap().vmm(vmmstate.Stopping).intent(IntendStopped)},
	{20, snap().nexus(NexusFailed).lastAutoRestart(t0)},
	{15, snap().vmm(vmmstate.Destroyed)},
	{10, snap().vmm(vmmstate.SagaUnwound)},
	{10, snap().vmm(vmmstate.Failed(failure.SledOff)).locked(upd1)},
	{5, snap().startFailure(failure.CauseInsufficientCapacity, true)},
}

// fleet builds the sweep once per benchmark run.
func fleet(b *testing.B) []Snapshot {
	b.Helper()
	out := make([]Snapshot, 0, fleetSize)
	for len(out) < fleetSize {
		for _, m := range fleetMix {
			s := m.b.build()
			if err := s.Validate(); err != nil {
				b.Fatal(err)
			}
			for range m.per1000 {
				out = append(out, s)
			}
		}
	}
	return out[:fleetSize]
}

// baseline is a hand-written validate-and-switch over the same snapshot:
// the CHECK constraint, then the state column and the active VMM's kind —
// the least a background task could do per instance.
func baseline(s *Snapshot) (State, bool) {
	rt := &s.Instance.Runtime
	if (rt.State == NexusVMM) != !rt.ActiveVMM.IsZero() {
		return 0, false
	}
	switch rt.State {
	case NexusNoVMM:
		return Stopped, false
	case NexusFailed:
		return Failed, s.Instance.IntendedState == IntendRunning
	case NexusVMM:
		switch s.Active.Runtime.State.Kind() {
		case vmmstate.KindRunning:
			return Running, false
		case vmmstate.KindDestroyed, vmmstate.KindFailed:
			return Stopping, true
		case vmmstate.KindMigrating:
			return Migrating, false
		}
		return Stopping, false
	}
	return Creating, false
}

var sinkState State

// BenchmarkFleet sweeps a million realistic snapshots, one per iteration:
// the baseline, each decision alone, and all six together. Compare the
// ns/op of each with Baseline's in the same run (docs/performance.md).
func BenchmarkFleet(b *testing.B) {
	ss := fleet(b)
	run := func(name string, f func(s *Snapshot)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f(&ss[i])
				if i++; i == len(ss) {
					i = 0
				}
			}
		})
	}
	run("Baseline", func(s *Snapshot) { sinkState, _ = baseline(s) })
	run("Validate", func(s *Snapshot) { _ = s.Validate() })
	run("EffectiveState", func(s *Snapshot) { sinkState, _ = EffectiveState(*s) })
	run("PlanUpdate", func(s *Snapshot) { _, _, _ = PlanUpdate(*s, t1) })
	run("Reincarnate", func(s *Snapshot) { _, _ = Reincarnate(*s, t1) })
	var conds []Condition
	run("Conditions", func(s *Snapshot) { conds, _ = AppendConditions(conds[:0], *s, t1) })
	run("Next", func(s *Snapshot) { _, _ = Next(*s, t1) })
	run("AllSixChecked", func(s *Snapshot) {
		c, err := Check(s)
		if err != nil {
			b.Fatal(err)
		}
		sinkState = c.EffectiveState()
		_, _, _ = c.PlanUpdate(t1)
		_ = c.Reincarnate(t1)
		conds = c.Conditions(t1, conds[:0])
		_ = c.Next(t1)
	})
	// The same five decisions as AllSixChecked, written out again rather
	// than shared through a function value, which would add an indirect
	// call to the loop being measured.
	var reused Checked
	run("AllSixReset", func(s *Snapshot) {
		if err := reused.Reset(s); err != nil {
			b.Fatal(err)
		}
		sinkState = reused.EffectiveState()
		_, _, _ = reused.PlanUpdate(t1)
		_ = reused.Reincarnate(t1)
		conds = reused.Conditions(t1, conds[:0])
		_ = reused.Next(t1)
	})
	run("AllSix", func(s *Snapshot) {
		_ = s.Validate()
		sinkState, _ = EffectiveState(*s)
		_, _, _ = PlanUpdate(*s, t1)
		_, _ = Reincarnate(*s, t1)
		conds, _ = AppendConditions(conds[:0], *s, t1)
		_, _ = Next(*s, t1)
	})
}

// BenchmarkFleetCollect measures what a fleet of snapshots held in memory
// costs the garbage collector: one full collection per iteration with the
// million snapshots live, beside the same number of bytes holding no
// pointers. A Snapshot's time.Time fields each carry a *time.Location, so
// the collector must scan every snapshot; the ratio says what a
// pointer-free snapshot would save a task that holds the whole fleet.
func BenchmarkFleetCollect(b *testing.B) {
	b.Run("Snapshots", func(b *testing.B) {
		ss := fleet(b)
		for b.Loop() {
			runtime.GC()
		}
		runtime.KeepAlive(ss)
	})
	b.Run("SameBytesNoPointers", func(b *testing.B) {
		raw := make([][unsafe.Sizeof(Snapshot{})]byte, fleetSize)
		for i := range raw {
			raw[i][0] = byte(i) // touch every page, as the fleet's builder does
		}
		for b.Loop() {
			runtime.GC()
		}
		runtime.KeepAlive(raw)
	})
}

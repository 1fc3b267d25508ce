package instancestate

import (
	"testing"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// benchSnapshots are the shapes the hot operations meet most: a running
// instance, one migrating, one whose VMM was destroyed, and one failed.
func benchSnapshots() map[string]Snapshot {
	return map[string]Snapshot{
		"running":   snap().vmm(vmmstate.Running).build(),
		"migrating": snap().vmm(vmmstate.Migrating).migration(migration.InProgress, migration.Completed).target(vmmstate.Running).build(),
		"destroyed": snap().vmm(vmmstate.Destroyed).build(),
		"failed":    snap().nexus(NexusFailed).lastAutoRestart(t0).build(),
	}
}

// TestHotPathsDoNotAllocate pins the promise the benchmarks measure:
// EffectiveState and PlanUpdate allocate nothing, whatever the snapshot.
func TestHotPathsDoNotAllocate(t *testing.T) {
	for name, s := range benchSnapshots() {
		if n := testing.AllocsPerRun(100, func() { _, _ = EffectiveState(s) }); n != 0 {
			t.Errorf("EffectiveState(%s): %v allocations", name, n)
		}
		if n := testing.AllocsPerRun(100, func() { _, _, _ = PlanUpdate(s, t1) }); n != 0 {
			t.Errorf("PlanUpdate(%s): %v allocations", name, n)
		}
	}
}

func BenchmarkEffectiveState(b *testing.B) {
	for name, s := range benchSnapshots() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = EffectiveState(s)
			}
		})
	}
}

func BenchmarkPlanUpdate(b *testing.B) {
	for name, s := range benchSnapshots() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, _ = PlanUpdate(s, t1)
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	s := snap().vmm(vmmstate.Running).build()
	for _, r := range AllRequests() {
		b.Run(r.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Decide(s, r, t1)
			}
		})
	}
}

func BenchmarkApplyReport(b *testing.B) {
	running := snap().vmm(vmmstate.Running).build()
	migrating := snap().vmm(vmmstate.Migrating).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating).build()
	withSide := vmmReport(vmmstate.Migrating, activeGen+1)
	withSide.MigrationOut = side(migM, migration.Completed, sideGen+1)
	cases := []struct {
		name string
		s    Snapshot
		r    Report
	}{
		{"applied", running, vmmReport(vmmstate.Stopping, activeGen+1)},
		{"stale", running, vmmReport(vmmstate.Running, activeGen)},
		{"with migration", migrating, withSide},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, _ = ApplyReport(c.s, vmmA, c.r)
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	for name, s := range benchSnapshots() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Next(s, t1)
			}
		})
	}
}

func BenchmarkReincarnate(b *testing.B) {
	s := snap().nexus(NexusFailed).build()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Reincarnate(s, t1)
	}
}

func BenchmarkMarkAsStarting(b *testing.B) {
	s := snap().build()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = MarkAsStarting(s, newVMM(vmmD), failure.StartReasonUser, t1)
	}
}

package sim

import (
	"testing"

	"github.com/vmlife/vmlife/instancestate"
)

// TestLivenessFaults: with VMMs that hang in transient states and
// migrations that stall, under a restart backoff, the control plane
// inspects what is past its deadline, aborts stalled migrations and stops
// the targets it unlinks alive — and no invariant breaks: nothing fails
// without proof (D30), no guest runs twice (D37). Then it settles.
func TestLivenessFaults(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		cfg := Config{Instances: 24, Seed: seed,
			Faults: Faults(0).With(FaultVMMHang).With(FaultMigrationStall).With(FaultVMMCrash).With(FaultDelay),
			Policy: instancestate.Policy{Backoff: instancestate.KubeVirtBackoff()}}
		w := run(t, cfg, 40000)
		s := w.Summary()
		for _, c := range []struct {
			what string
			n    int
		}{
			{"vmm_hang injected", s.Injected.Get("vmm_hang")},
			{"migration_stall injected", s.Injected.Get("migration_stall")},
			{"next inspect", s.Next.Get("inspect")},
			{"next abort_migration", s.Next.Get("abort_migration")},
			{"inspections", s.Events.Get("inspections")},
			{"migrations aborted", s.Events.Get("migrations_aborted")},
		} {
			if c.n == 0 {
				t.Errorf("seed %d: %s never happened", seed, c.what)
			}
		}
		for _, v := range w.Settle(NewRand(seed), SettleSteps(cfg.Instances)) {
			t.Errorf("seed %d: %v", seed, v)
		}
		for _, u := range w.Unsettled() {
			t.Errorf("seed %d: unsettled: %s", seed, u)
		}
	}
}

// TestOneRunningIsChecked: two VMMs running one instance's guest are a
// violation of checkOneRunning (the check D37 keeps).
func TestOneRunningIsChecked(t *testing.T) {
	w := run(t, Config{Instances: 6, Seed: 1}, 0)
	var running []*agentVMM
	r := NewRand(1)
	for step := 0; len(running) < 2; step++ {
		if step == 20000 {
			t.Fatalf("%d VMMs running after %d steps: nothing to check with", len(running), step)
		}
		w.Step(r)
		running = running[:0]
		for _, sl := range w.sleds {
			for _, a := range sl.agent {
				if !a.gone && a.p == pRunning {
					running = append(running, a)
				}
			}
		}
	}
	running[1].inst = running[0].inst // the second now runs the first's guest too
	found := false
	for _, v := range w.CheckAll() {
		found = found || v.Check == "one VMM runs an instance's guest"
	}
	if !found {
		t.Fatal("two VMMs running one guest went unseen")
	}
}

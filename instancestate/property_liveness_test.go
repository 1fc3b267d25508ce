package instancestate_test

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/invariant"
	"github.com/vmlife/vmlife/vmmstate"
)

// drawPolicy draws a liveness policy whose deadlines and bounds are short
// enough to pass within a walk's ticks (D32–D35).
func drawPolicy(t *rapid.T) instancestate.Policy {
	d := func(label string) time.Duration {
		return time.Duration(rapid.IntRange(-1, 600).Draw(t, label)) * time.Second
	}
	p := instancestate.Policy{
		Deadlines: instancestate.Deadlines{InstanceCreating: d("instance creating"), VMMCreating: d("vmm creating"),
			Starting: d("starting"), Stopping: d("stopping"), Rebooting: d("rebooting"), Migrating: d("migrating")},
		Migration: instancestate.MigrationPolicy{ProgressDeadline: max(0, d("progress")), BudgetPerGiB: max(0, d("per GiB"))},
	}
	if rapid.Bool().Draw(t, "backoff") {
		p.Backoff = instancestate.KubeVirtBackoff()
	}
	return p
}

// D30, D18: no deadline ever fails anything without proof. The walk of
// TestPropOnlyProofOfDeathFails — reports, plans, requests and their sagas,
// Next's advice followed, inspections and migration aborts included — runs
// under deadlines and migration bounds that pass at nearly every tick, and
// still a VMM becomes failed only through a sled-agent report saying so,
// and an instance fails only when a VMM did.
func TestPropNoDeadlineFails(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := &walk{s: instancetest.Snapshot().Draw(t, "snapshot")}
		w.s.Policy = drawPolicy(t)
		w.s.MemoryGiB = rapid.IntRange(0, 64).Draw(t, "memory")
		w.now = instancetest.Now(w.s).Draw(t, "now")
		for i := range rapid.IntRange(1, 40).Draw(t, "steps") {
			before := w.s
			op, r := w.step(t)
			for _, v := range []vmmstate.VMM{w.s.Active, w.s.Target} {
				if v.ID.IsZero() || !v.Runtime.State.IsFailed() {
					continue
				}
				wasFailed := false
				for _, b := range []vmmstate.VMM{before.Active, before.Target} {
					wasFailed = wasFailed || b.ID == v.ID && b.Runtime.State.IsFailed()
				}
				proof := r != nil && r.VMM == v.ID && r.Report.VMM.State == vmmstate.SledAgentFailed
				if !wasFailed && !proof {
					t.Fatalf("step %d (%s) failed VMM %v without a sled-agent saying so", i, op, v)
				}
			}
			if a, b := w.s.Instance.Runtime.State, before.Instance.Runtime.State; a == instancestate.NexusFailed && b != a &&
				!before.Active.Runtime.State.IsFailed() && !before.Target.Runtime.State.IsFailed() {
				t.Fatalf("step %d (%s) failed the instance with no failed VMM", i, op)
			}
			if err := invariant.CheckSnapshotStep(before, w.s); err != nil {
				t.Fatalf("step %d (%s): %v", i, op, err)
			}
			if err := invariant.CheckSnapshotAt(w.s, w.now); err != nil {
				t.Fatalf("step %d (%s): %v", i, op, err)
			}
		}
	})
}

// D33: the backoff's wait never decreases as failures grow, never passes
// its cap, and the verdict for an instance with more failures never ends
// sooner. A failure StableAfter or more after the last automatic restart
// counts one, whatever the count before.
func TestPropBackoffMonotonic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		secs := func(label string, lo, hi int) time.Duration {
			return time.Duration(rapid.IntRange(lo, hi).Draw(t, label)) * time.Second
		}
		b := instancestate.Backoff{Base: secs("base", 1, 120), Cap: secs("cap", 0, 3600), StableAfter: secs("stable", 0, 3600)}
		n1 := rapid.IntRange(0, instancestate.MaxRestartFailures).Draw(t, "n1")
		n2 := rapid.IntRange(n1, instancestate.MaxRestartFailures).Draw(t, "n2")
		limit := b.Cap
		if limit == 0 {
			limit = instancestate.DefaultBackoffCap
		}
		w1, w2 := b.Wait(n1), b.Wait(n2)
		if w1 > w2 || w2 > limit || (n1 > 0 && w1 <= 0) {
			t.Fatalf("%+v: Wait(%d) = %v, Wait(%d) = %v, cap %v", b, n1, w1, n2, w2, limit)
		}

		s := instancetest.SnapshotWithShape(instancetest.ShapeFailed).Draw(t, "failed instance")
		s.Instance.AutoRestart.Policy = instancestate.PolicyBestEffort
		s.Policy.Backoff = b
		now := instancetest.Now(s).Draw(t, "now")
		s.Instance.Runtime.TimeLastAutoRestarted = now.Add(-secs("since restart", 0, 600))
		until := func(n int) time.Time {
			c := s
			c.Instance.RestartFailures = n
			r, err := instancestate.Reincarnate(c, now)
			if err != nil {
				t.Fatal(err)
			}
			return r.Until
		}
		if u1, u2 := until(n1), until(n2); u2.Before(u1) {
			t.Fatalf("%d failures wait until %v, %d failures only until %v", n1, u1, n2, u2)
		}

		// Reset: a VMM that failed after a stable run counts one failure.
		running := instancetest.SnapshotWithShape(instancetest.ShapeVMM).Draw(t, "instance with a VMM")
		running.Instance.IntendedState = instancestate.IntendRunning
		running.Instance.UpdaterID = instancestate.UpdaterID{}
		running.Instance.RestartFailures = n2
		running.Policy.Backoff = b
		stable := b.StableAfter
		if stable == 0 {
			stable = instancestate.DefaultStableAfter
		}
		failedAt := now
		running.Instance.Runtime.TimeLastAutoRestarted = failedAt.Add(-stable - secs("beyond", 0, 3600))
		running.Active.Runtime.State = vmmstate.Failed(rapid.SampledFrom(failure.AllReasons()).Draw(t, "reason"))
		running.Active.Runtime.TimeUpdated = failedAt
		if running.Instance.StartFailure.Cause != 0 {
			running.Instance = running.Instance.ClearStartFailure()
		}
		p, required, err := instancestate.PlanUpdate(running, now)
		if err != nil || !required || p.RestartFailures != 1 {
			t.Fatalf("a failure after a stable run: plan %+v (%v, %v), want 1 failed restart", p, required, err)
		}
	})
}

// The liveness inputs survive the snapshot document both ways, and every
// decision under any policy keeps vmlife's invariants (CheckSnapshotAt:
// among them, Next inspects only what NotProgressing names and aborts
// only what StalledMigration names, D32, D34).
func TestPropLivenessInputs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.WithLiveness().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now").Add(time.Duration(rapid.IntRange(0, 86400).Draw(t, "later")) * time.Second)
		docRoundTrip(t, instancestate.Document{Now: now, Snapshot: s})
		if err := invariant.CheckSnapshotAt(s, now); err != nil {
			t.Fatal(err)
		}
	})
}

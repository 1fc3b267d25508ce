package instancestate_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vmlife/vmlife/vmmstate/vmmtest"

	"github.com/vmlife/vmlife/invariant"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The properties below draw snapshots from instancetest, which reaches
// every shape; rapid shrinks a failure to the simplest shape that still
// fails. Each property names the rule it checks.

// drawn is a valid snapshot and a time near it.
func drawn(t *rapid.T) (instancestate.Snapshot, time.Time) {
	s := instancetest.Snapshot().Draw(t, "snapshot")
	return s, instancetest.Now(s).Draw(t, "now")
}

// unwound reports whether v's saga unwound.
func unwound(v vmmstate.VMM) bool { return v.Runtime.State == vmmstate.SagaUnwound }

// alive reports whether v is a VMM the update plan keeps linked: not
// destroyed, failed or saga_unwound (§13.3, D11).
func alive(v vmmstate.VMM) bool {
	return !v.ID.IsZero() && !v.Runtime.State.IsTerminal() && !unwound(v)
}

// §7, D10, D12: the effective state is total on valid snapshots, is one of
// the states §7 derives (never repairing), and an instance whose active VMM
// is saga_unwound reads stopped (D10) — even beside a migration still in
// flight, which would otherwise dominate (§7 rule 1).
func TestPropEffectiveStateTotal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, _ := drawn(t)
		e, err := instancestate.EffectiveState(s)
		if err != nil || !e.IsValid() || e == instancestate.Repairing {
			t.Fatalf("EffectiveState = %v, %v", e, err)
		}
		if !s.HasActive() || !unwound(s.Active) {
			return
		}
		if e != instancestate.Stopped {
			t.Fatalf("active VMM saga_unwound, migration %v: reads %v, want stopped", s.Migration, e)
		}
		if e == instancestate.Failed {
			t.Fatalf("D10: read saga_unwound as failed")
		}
	})
}

// Every generated snapshot passes CheckSnapshot at a time near it: every
// derived function is total and agrees with itself.
func TestPropCheckSnapshot(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, now := drawn(t)
		if err := invariant.CheckSnapshotAt(s, now); err != nil {
			t.Fatal(err)
		}
	})
}

// §13.3, D11, D17: a plan applied yields a valid snapshot; planning again
// finds nothing to do (the plan is a fixpoint); no generation goes down and
// the plan's runtime is one generation up; the nexus state moves only along
// CanMove; the VMMs the plan destroys are the ones it unlinks, and no
// saga_unwound, destroyed or failed VMM stays linked.
func TestPropPlanApply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, now := drawn(t)
		p, required, err := instancestate.PlanUpdate(s, now)
		if err != nil {
			t.Fatalf("PlanUpdate: %v", err)
		}
		if !required {
			if p != (instancestate.Plan{}) {
				t.Fatalf("no update required, yet plan %+v", p)
			}
			for _, v := range []vmmstate.VMM{s.Active, s.Target} {
				if !v.ID.IsZero() && !alive(v) {
					t.Fatalf("D11: no update, yet VMM %v stays linked", v)
				}
			}
			return
		}
		if want, _ := s.Instance.Runtime.Generation.Next(); p.Runtime.Generation != want {
			t.Fatalf("plan at generation %v, want %v", p.Runtime.Generation, want)
		}
		after, err := s.Apply(p)
		if err != nil {
			t.Fatalf("Apply: %v\nplan %+v", err, p)
		}
		if err := invariant.CheckSnapshotStep(s, after); err != nil {
			t.Fatal(err)
		}
		if again, required, err := instancestate.PlanUpdate(after, now); err != nil || required {
			t.Fatalf("not a fixpoint: then %+v, %v, %v", again, required, err)
		}
		for _, v := range []vmmstate.VMM{after.Active, after.Target} {
			if !v.ID.IsZero() && !alive(v) {
				t.Fatalf("D11: VMM %v still linked after the plan", v)
			}
		}
		for _, d := range []vmmstate.ID{p.DestroyActiveVMM, p.DestroyTargetVMM} {
			if !d.IsZero() && (d == after.Instance.Runtime.ActiveVMM || d == after.Instance.Runtime.TargetVMM) {
				t.Fatalf("plan destroys VMM %v and keeps it linked", d)
			}
		}
		if after.Instance.UpdaterID != s.Instance.UpdaterID || after.Instance.UpdaterGen != s.Instance.UpdaterGen {
			t.Fatalf("Apply touched the updater lock")
		}
	})
}

// D10, §10.3: an instance that reads stopped accepts start — a start saga,
// or already done — and never refuses it.
func TestPropStoppedAcceptsStart(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, now := drawn(t)
		if e, _ := instancestate.EffectiveState(s); e != instancestate.Stopped {
			return
		}
		d, err := instancestate.Decide(s, instancestate.RequestStart, now)
		if err != nil || (d.Action != instancestate.ActionStartSaga && d.Action != instancestate.ActionAlreadyDone) {
			t.Fatalf("stopped instance: start is %+v, %v", d, err)
		}
		if d.Intent != instancestate.IntendRunning {
			t.Fatalf("accepted start writes intent %v", d.Intent)
		}
	})
}

// §13.3, D12: after the update plan, an instance whose migration failed
// (either side) stays on the VMM it runs on — the source, unless the plan
// had already moved it to the target — if that VMM is alive, and has no
// VMM otherwise; one whose target completed (no side failed) is on the
// target if the target is alive, and on no VMM otherwise; one whose source
// alone completed has handed over to the target likewise. A migration with
// an outcome on the target side or a failed side is unlinked; one still in
// flight on both sides leaves a live instance where it is.
func TestPropMigrationOutcome(t *testing.T) {
	migrating := []instancetest.Shape{
		instancetest.ShapeMigrationSource, instancetest.ShapeMigrationSourceTargetUnlinked,
		instancetest.ShapeMigrationTarget, instancetest.ShapeMigrationTargetUnlinked,
	}
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.SnapshotWithShape(rapid.SampledFrom(migrating).Draw(t, "shape")).Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		after := s
		if p, required, err := instancestate.PlanUpdate(s, now); err != nil {
			t.Fatal(err)
		} else if required {
			if after, err = s.Apply(p); err != nil {
				t.Fatal(err)
			}
		}
		m := s.Migration
		// The target VMM's record: linked as the target, or as the active
		// VMM once the instance moved there.
		var target vmmstate.VMM
		switch {
		case s.HasTarget():
			target = s.Target
		case s.Active.ID == m.Target.VMM:
			target = s.Active
		}
		on := func(v vmmstate.VMM) vmmstate.ID {
			if alive(v) {
				return v.ID
			}
			return vmmstate.ID{}
		}
		var want vmmstate.ID
		unlinked := false
		switch {
		case m.EitherSideFailed():
			want, unlinked = on(s.Active), true
		case m.Target.State == migration.Completed:
			want, unlinked = on(target), true
		case m.Source.State == migration.Completed:
			want = on(target)
		default:
			want = on(s.Active)
		}
		got := after.Instance.Runtime.ActiveVMM
		if got != want {
			t.Fatalf("migration %v (on %v): after the plan the instance runs on %v, want %v", m, s.Active, got, want)
		}
		if unlinked && after.HasMigration() {
			t.Fatalf("migration %v still linked after the plan", m)
		}
		if want.IsZero() && after.Instance.Runtime.State == instancestate.NexusVMM {
			t.Fatalf("no VMM left, yet the instance is vmm")
		}
	})
}

// needsUpdate reports whether PlanUpdate has work on s.
func needsUpdate(t *rapid.T, s instancestate.Snapshot) bool {
	_, required, err := instancestate.PlanUpdate(s, instancetest.Reference)
	if err != nil {
		t.Fatalf("PlanUpdate: %v", err)
	}
	return required
}

// item is one delivery: a report and whether a faithful sled-agent sent it.
type item struct {
	r        instancetest.SledReport
	faithful bool
}

// deliver applies the items in order. Every generation is monotone along
// the way (CheckStep); a refused report leaves the snapshot exactly as it
// was; a faithful report is never refused, however late it comes; a report
// whose every part is stale changes nothing; and one that needs no update
// saga leaves the update plan with no work it did not have (§12).
func deliver(t *rapid.T, s instancestate.Snapshot, items []item) instancestate.Snapshot {
	cur := s
	for i, it := range items {
		after, res, err := instancestate.ApplyReport(cur, it.r.VMM, it.r.Report)
		if err != nil {
			if it.faithful {
				t.Fatalf("delivery %d: a faithful report was refused: %v\n%+v", i, err, it.r)
			}
			if after != cur || res != (instancestate.ReportResult{}) {
				t.Fatalf("delivery %d: refused (%v), yet the snapshot changed or the result is %+v", i, err, res)
			}
			continue
		}
		if err := invariant.CheckSnapshotStep(cur, after); err != nil {
			t.Fatalf("delivery %d (%v): %v", i, it.r.Kind, err)
		}
		if res.VMMOutcome == vmmstate.Stale && !res.MigrationInUpdated && !res.MigrationOutUpdated && after != cur {
			t.Fatalf("delivery %d: nothing newer, yet the snapshot changed", i)
		}
		// §12: a report that needs no update saga makes no update necessary.
		if !res.UpdateSagaNeeded && !needsUpdate(t, cur) && needsUpdate(t, after) {
			t.Fatalf("delivery %d: no update saga needed, yet the plan now has work:\n%+v", i, it.r)
		}
		cur = after
	}
	return cur
}

// §8.2, §12, D5–D7: report processing never regresses a generation in any
// delivery order. A sequence a faithful sled-agent would send is delivered
// in two orders, each report one to three times: neither order refuses a
// report, and both end with every VMM and migration side in the same state —
// the state of its last report. A third delivery mixes in stale,
// duplicated, illegal, misaddressed and unknown-VMM reports: refused ones
// leave the snapshot unchanged, and the faithful ones are still never
// refused.
func TestPropReportsAnyOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		seq := instancetest.ReportSequence(s).Draw(t, "sequence")
		var ends [2]instancestate.Snapshot
		for n := range ends {
			var items []item
			for _, r := range vmmtest.Shuffled(seq).Draw(t, fmt.Sprintf("delivery %d", n)) {
				items = append(items, item{r, true})
			}
			ends[n] = deliver(t, s, items)
		}
		a, b := ends[0], ends[1]
		if a.Active.Runtime.State != b.Active.Runtime.State || a.Target.Runtime.State != b.Target.Runtime.State ||
			a.Migration.Source.State != b.Migration.Source.State || a.Migration.Target.State != b.Migration.Target.State {
			t.Fatalf("two orders of the same reports disagree:\n%+v\n%+v", a, b)
		}
		last := map[vmmstate.ID]vmmstate.Kind{}
		for _, r := range seq {
			last[r.VMM] = r.Report.VMM.State.State().Kind()
		}
		for _, v := range []vmmstate.VMM{a.Active, a.Target} {
			if k, ok := last[v.ID]; ok && v.Runtime.State.Kind() != k {
				t.Fatalf("VMM %v ends %v, its last report said %v", v.ID, v.Runtime.State, k)
			}
		}

		// Legal reports drawn for s would be a second, conflicting history
		// of the same VMM; every other kind must leave the faithful
		// sequence unharmed.
		bad := instancetest.Report(s).Filter(func(r instancetest.SledReport) bool { return r.Kind != instancetest.ReportLegal })
		noise := rapid.SliceOfN(bad, 0, 4).Draw(t, "noise")
		items := []item{}
		for _, r := range vmmtest.Shuffled(seq).Draw(t, "delivery with noise") {
			items = append(items, item{r, true})
		}
		for _, r := range noise {
			items = append(items, item{r, false})
		}
		deliver(t, s, rapid.Permutation(items).Draw(t, "mixed"))
	})
}

// D16: a rejected request never carries an intent — for every request, and
// for a migration to any of the instance's sleds.
func TestPropRejectedCarriesNoIntent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, now := drawn(t)
		var ds []instancestate.Decision
		for _, r := range instancestate.AllRequests() {
			d, err := instancestate.Decide(s, r, now)
			if err != nil {
				t.Fatalf("Decide(%v): %v", r, err)
			}
			ds = append(ds, d)
		}
		sled := rapid.SampledFrom([]vmmstate.SledID{{}, s.Active.SledID, s.Target.SledID}).Draw(t, "destination")
		d, err := instancestate.DecideMigrate(s, sled)
		if err != nil {
			t.Fatalf("DecideMigrate: %v", err)
		}
		for _, d := range append(ds, d) {
			if !d.Accepted() && d.Intent != 0 {
				t.Fatalf("D16: rejected (%d %q) with intent %v", d.Status, d.Message, d.Intent)
			}
		}
	})
}

// D19, D15: Next is idempotent, and never asks for a restart before the
// cooldown ends, after a permanent start failure, when the intended state
// is not running, under a policy of never, or while an updater holds the
// lock; a wait ends after now.
//
// Half the snapshots are candidates for a restart — failed, stopped or
// holding an unwound VMM, and more often meant to run and unlocked — so
// that every clause is reached often, not only by chance.
func TestPropNext(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, now := drawnOrCandidate(t)
		in := s.Instance
		last := in.Runtime.TimeLastAutoRestarted
		end := last.Add(in.AutoRestart.EffectiveCooldown())
		nows := []time.Time{now}
		if !last.IsZero() {
			// Every snapshot is also asked at the cooldown's last instant,
			// its end, and just after.
			nows = append(nows, end.Add(-1), end, end.Add(1))
		}
		for _, now := range nows {
			n, err := instancestate.Next(s, now)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := instancestate.Next(s, now); err != nil || again != n {
				t.Fatalf("Next twice at %v: %+v, then %+v, %v", now, n, again, err)
			}
			if in.IsLocked() && n.Action != instancestate.NextNone {
				t.Fatalf("locked, yet Next says %v", n.Action)
			}
			if n.Action == instancestate.NextWait && !n.Until.After(now) {
				t.Fatalf("wait until %v, not after %v", n.Until, now)
			}
			if n.Action != instancestate.NextReincarnate {
				continue
			}
			switch {
			case !last.IsZero() && now.Before(end):
				t.Fatalf("reincarnate at %v, before the cooldown from %v ends at %v", now, last, end)
			case in.HasStartFailure() && !in.StartFailure.Transient:
				t.Fatalf("reincarnate after a permanent start failure %+v", in.StartFailure)
			case in.IntendedState != instancestate.IntendRunning:
				t.Fatalf("reincarnate while intended %v", in.IntendedState)
			case in.AutoRestart.EffectivePolicy() == instancestate.PolicyNever:
				t.Fatalf("reincarnate under policy never")
			case in.IsLocked():
				t.Fatalf("reincarnate while locked")
			}
		}
	})
}

// IntentUnmet is the clock-free half of Next's start and stop: whenever
// Next says start or stop, at any time, IntentUnmet holds and the intent is
// the one the action meets; where IntentUnmet holds and Next says neither,
// a rule Next puts first applied — the lock (none), the update plan, a
// stalled migration, a restart due or cooling down.
func TestPropIntentUnmetIsNextsStartAndStop(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, now := drawnOrCandidate(t)
		unmet := instancestate.IntentUnmet(s)
		n, err := instancestate.Next(s, now)
		if err != nil {
			t.Fatal(err)
		}
		switch n.Action {
		case instancestate.NextStart, instancestate.NextStop:
			want := map[instancestate.NextKind]instancestate.IntendedState{
				instancestate.NextStart: instancestate.IntendRunning, instancestate.NextStop: instancestate.IntendStopped}[n.Action]
			if !unmet || s.Instance.IntendedState != want {
				t.Fatalf("Next says %v at %v for an instance intended %v; IntentUnmet %v", n.Action, now, s.Instance.IntendedState, unmet)
			}
		case instancestate.NextRunUpdate, instancestate.NextAbortMigration, instancestate.NextReincarnate, instancestate.NextWait:
			// A rule before start and stop: either way.
		case instancestate.NextNone:
			if unmet && !s.Instance.IsLocked() {
				t.Fatalf("IntentUnmet and unlocked, yet Next says none: %s", n.Why)
			}
		default: // inspect comes after start and stop
			if unmet {
				t.Fatalf("IntentUnmet, yet Next says %v", n.Action)
			}
		}
	})
}

// drawnOrCandidate draws a snapshot and a time as drawn does, or, half the
// time, a restart candidate and a time for it, so that the rules about
// restarts are reached often, not only by chance.
func drawnOrCandidate(t *rapid.T) (instancestate.Snapshot, time.Time) {
	if rapid.Bool().Draw(t, "restart candidate") {
		s := candidate(t)
		return s, instancetest.Now(s).Draw(t, "candidate now")
	}
	return drawn(t)
}

// candidate draws a snapshot that may need an automatic restart (D15): failed,
// no_vmm, or with an active VMM that is, half the time, saga_unwound; half
// the time meant to run and unlocked whatever else was drawn.
func candidate(t *rapid.T) instancestate.Snapshot {
	shape := rapid.SampledFrom([]instancetest.Shape{instancetest.ShapeFailed, instancetest.ShapeNoVMM, instancetest.ShapeVMM}).Draw(t, "candidate shape")
	s := instancetest.SnapshotWithShape(shape).Draw(t, "candidate")
	if s.HasActive() && rapid.Bool().Draw(t, "unwound") {
		s.Active.Runtime.State = vmmstate.SagaUnwound
	}
	if rapid.Bool().Draw(t, "meant to run") {
		s.Instance.IntendedState = instancestate.IntendRunning
	}
	if rapid.Bool().Draw(t, "unlocked") {
		s.Instance.UpdaterID = instancestate.UpdaterID{}
	}
	return s
}

// Seed 003, D13, D19: an instance meant to run that is not running says why
// (see invariant.CheckExplained for what counts).
func TestPropExplained(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, now := drawn(t)
		if err := invariant.CheckExplained(s, now); err != nil {
			t.Fatal(err)
		}
	})
}

// walk is a snapshot and a clock that the control plane, users and
// sled-agents move forward one step at a time.
type walk struct {
	s     instancestate.Snapshot
	now   time.Time
	fresh byte // the last index handed out for a new VMM or migration
}

func (w *walk) newID() uuid.UUID {
	w.fresh++
	return uuid.UUID{0: 0xee, 8: 0x80, 14: 0xee, 15: w.fresh}
}

// start carries out an accepted start: the start saga inserts a new VMM and
// links it (§14). Replacing an unwound VMM that was a migration's source
// unlinks that migration too (D17), so the walk drops the records the
// instance no longer links.
func (w *walk) start(t *rapid.T, reason failure.StartReason) {
	id := vmmstate.IDFromUUID(w.newID())
	sled := vmmstate.SledIDFromUUID(uuid.UUID{0: 0x5d, 8: 0x80, 15: byte(rapid.IntRange(1, 3).Draw(t, "sled"))})
	rec := vmmstate.New(id, w.s.Instance.ID, sled, w.now)
	in, err := instancestate.MarkAsStarting(w.s, rec, reason, w.now)
	if err != nil {
		if !errors.Is(err, instancestate.ErrConflict) {
			t.Fatalf("MarkAsStarting: %v", err)
		}
		return
	}
	if in.Runtime.ActiveVMM != id {
		t.Fatalf("MarkAsStarting linked %v, not the new VMM %v", in.Runtime.ActiveVMM, id)
	}
	w.s.Instance, w.s.Active = in, rec
	if in.Runtime.TargetVMM.IsZero() {
		w.s.Target = vmmstate.VMM{}
	}
	if in.Runtime.MigrationID.IsZero() {
		w.s.Migration = migration.Record{}
	}
	if err := w.s.Validate(); err != nil {
		t.Fatalf("after MarkAsStarting: %v", err)
	}
}

// step takes one step and returns its name and, for a report, the report.
func (w *walk) step(t *rapid.T) (string, *instancetest.SledReport) {
	op := rapid.SampledFrom([]string{
		"report", "report", "report", "report", "update", "request", "request", "next", "next", "unwind start", "lock", "tick",
	}).Draw(t, "op")
	s := &w.s
	switch op {
	case "report":
		r := instancetest.Report(*s).Draw(t, "report")
		if after, _, err := instancestate.ApplyReport(*s, r.VMM, r.Report); err == nil {
			*s = after
		}
		return op, &r
	case "update":
		w.update(t)
	case "request":
		// Starts and migrations come first: they insert the VMMs the other
		// steps act on.
		r := rapid.SampledFrom(append(instancestate.AllRequests(), instancestate.RequestStart, instancestate.RequestMigrate)).Draw(t, "request")
		w.request(t, r)
		return op + " " + r.String(), nil
	case "next":
		n, err := instancestate.Next(*s, w.now)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		switch n.Action {
		case instancestate.NextStart:
			w.start(t, failure.StartReasonAutoStart)
		case instancestate.NextReincarnate:
			w.start(t, failure.StartReasonAutoRestart)
		case instancestate.NextStop:
			w.request(t, instancestate.RequestStop)
		case instancestate.NextRunUpdate:
			w.update(t)
		case instancestate.NextWait:
			w.now = n.Until
		case instancestate.NextAbortMigration, instancestate.NextInspect:
			// D34: the stop of the target reaches the walk as that VMM's
			// reports, as any sled-agent's do.
			// D30: looking changes nothing either; what it proves arrives
			// as a report.
		}
		return op + " " + n.Action.String(), nil
	case "unwind start":
		// The start saga fails after inserting its VMM (§14): the VMM is
		// marked saga_unwound by the control plane, the start failure is
		// recorded (D13), and the instance goes back to no_vmm unless its
		// generation moved on, leaving the unwound VMM linked.
		if !s.HasActive() || s.Active.Runtime.State != vmmstate.Creating || s.HasMigration() {
			return op, nil
		}
		rt, _, err := s.Active.Runtime.Transition(vmmstate.SagaUnwound, w.now)
		if err != nil {
			t.Fatalf("mark saga_unwound: %v", err)
		}
		f := failure.NewStartFailure(rapid.SampledFrom(failure.AllCauses()).Draw(t, "cause"), failure.StartReasonUser, w.now)
		in, err := s.Instance.RecordStartFailure(f)
		if err != nil {
			t.Fatalf("RecordStartFailure: %v", err)
		}
		s.Instance, s.Active.Runtime = in, rt
		if rapid.Bool().Draw(t, "undo applies") {
			in, applied, err := instancestate.UnwindStart(s.Instance, s.Instance, w.now)
			if err != nil || !applied {
				t.Fatalf("UnwindStart: %v, %v", applied, err)
			}
			s.Instance, s.Active = in, vmmstate.VMM{}
		}
	case "lock":
		var err error
		if s.Instance.IsLocked() {
			s.Instance, _, err = s.Instance.Unlock(instancestate.Lock{Updater: s.Instance.UpdaterID, Gen: s.Instance.UpdaterGen})
		} else {
			s.Instance, _, err = s.Instance.Lock(instancestate.UpdaterIDFromUUID(w.newID()))
		}
		if err != nil {
			t.Fatalf("lock: %v", err)
		}
	case "tick":
		w.now = w.now.Add(time.Duration(rapid.IntRange(1, 900).Draw(t, "seconds")) * time.Second)
	}
	return op, nil
}

// update runs the instance-update saga: its plan, committed (§13.2) —
// unless another updater holds the lock, which then runs it.
func (w *walk) update(t *rapid.T) {
	if w.s.Instance.IsLocked() {
		return
	}
	p, required, err := instancestate.PlanUpdate(w.s, w.now)
	if err != nil {
		t.Fatalf("PlanUpdate: %v", err)
	}
	if required {
		if w.s, err = w.s.Apply(p); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
}

// request decides r and, if it is accepted, carries it out: writes its
// intent (D16), its runtime, or runs the saga's step.
func (w *walk) request(t *rapid.T, r instancestate.Request) {
	s := &w.s
	d, err := instancestate.Decide(*s, r, w.now)
	if err != nil {
		t.Fatalf("Decide(%v): %v", r, err)
	}
	if !d.Accepted() {
		return
	}
	if d.Intent != 0 {
		s.Instance.IntendedState = d.Intent
	}
	switch d.Action {
	case instancestate.ActionUpdateRuntime:
		s.Instance.Runtime = d.Runtime
	case instancestate.ActionStartSaga:
		w.start(t, failure.StartReasonUser)
	case instancestate.ActionMigrateSaga:
		mid, dst := migration.IDFromUUID(w.newID()), vmmstate.IDFromUUID(w.newID())
		in, err := instancestate.SetMigrationIDs(*s, s.Active.ID, mid, dst, w.now)
		if err != nil {
			if !errors.Is(err, instancestate.ErrConflict) {
				t.Fatalf("SetMigrationIDs: %v", err)
			}
			return
		}
		sled := vmmstate.SledIDFromUUID(uuid.UUID{0: 0x5d, 8: 0x80, 15: 9})
		s.Instance = in
		s.Migration = migration.New(mid, in.ID, s.Active.ID, dst, w.now)
		s.Target = vmmstate.New(dst, in.ID, sled, w.now)
	case instancestate.ActionDeleteSaga:
		in, err := instancestate.Delete(*s, w.now)
		if err != nil {
			t.Fatalf("Delete after an accepted delete: %v", err)
		}
		s.Instance = in
	}
}

// D18: only proof of death fails a VMM. In a walk of reports, update plans,
// requests and their sagas, start-saga unwinding, locking and Next's
// advice, a VMM becomes failed only through a sled-agent report saying
// failed about that VMM — never through anything else instancestate does.
// Every step also passes CheckStep, and every snapshot CheckSnapshotAt and
// CheckExplained.
func TestPropOnlyProofOfDeathFails(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := &walk{s: instancetest.Snapshot().Draw(t, "snapshot")}
		if rapid.Bool().Draw(t, "fresh") {
			// A stopped instance meant to run, nothing in the way: the
			// walk then goes through whole lives — start, run, migrate,
			// fail or stop — rather than only the middle of one.
			w.s = instancetest.SnapshotWithShape(instancetest.ShapeNoVMM).Draw(t, "fresh snapshot")
			w.s.Instance.IntendedState = instancestate.IntendRunning
			w.s.Instance.UpdaterID = instancestate.UpdaterID{}
			w.s.Instance = w.s.Instance.ClearStartFailure()
		}
		w.now = instancetest.Now(w.s).Draw(t, "now")
		for i := range rapid.IntRange(1, 40).Draw(t, "steps") {
			before := w.s
			op, r := w.step(t)
			if err := invariant.CheckSnapshotStep(before, w.s); err != nil {
				t.Fatalf("step %d (%s): %v", i, op, err)
			}
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
			if err := invariant.CheckSnapshotAt(w.s, w.now); err != nil {
				t.Fatalf("step %d (%s): %v", i, op, err)
			}
			if err := invariant.CheckExplained(w.s, w.now); err != nil {
				t.Fatalf("step %d (%s): %v", i, op, err)
			}
		}
	})
}

// rawID draws one of three ids, or the nil one. Every kind of id draws from
// the same few UUIDs, so records sometimes agree by chance.
func rawID(t *rapid.T, label string) uuid.UUID {
	n := rapid.IntRange(0, 3).Draw(t, label)
	if n == 0 {
		return uuid.Nil
	}
	return uuid.UUID{0: 0xaa, 8: 0x80, 15: byte(n)}
}

// rawGen draws any generation, the edges most often.
func rawGen(t *rapid.T, label string) generation.Generation {
	n := rapid.OneOf(
		rapid.Uint64Range(0, 3),
		rapid.Uint64Range(generation.Max-1, generation.Max),
		rapid.Uint64Max(generation.Max),
	).Draw(t, label)
	g, err := generation.FromUint64(n)
	if err != nil {
		t.Fatalf("FromUint64(%d): %v", n, err)
	}
	return g
}

// rawTime draws the zero time, a time near Reference, or one far from any
// year RFC 3339 can write.
func rawTime(t *rapid.T, label string) time.Time {
	switch rapid.IntRange(0, 2).Draw(t, label) {
	case 0:
		return time.Time{}
	case 1:
		return instancetest.Reference.Add(time.Duration(rapid.Int64Range(-int64(24*time.Hour), int64(24*time.Hour)).Draw(t, label+".offset")))
	}
	return time.Unix(rapid.Int64Range(-1<<40, 1<<40).Draw(t, label+".unix"), 0)
}

func rawVMM(t *rapid.T, label string) vmmstate.VMM {
	return vmmstate.VMM{
		ID:         vmmstate.IDFromUUID(rawID(t, label+".id")),
		InstanceID: vmmstate.InstanceIDFromUUID(rawID(t, label+".instance_id")),
		SledID:     vmmstate.SledIDFromUUID(rawID(t, label+".sled_id")),
		Runtime: vmmstate.Runtime{
			State:       vmmstate.State(rapid.Uint8().Draw(t, label+".state")),
			Generation:  rawGen(t, label+".gen"),
			TimeUpdated: rawTime(t, label+".time"),
		},
	}
}

func rawSide(t *rapid.T, label string) migration.Side {
	return migration.Side{
		VMM:         vmmstate.IDFromUUID(rawID(t, label+".vmm")),
		State:       migration.State(rapid.Uint8Max(6).Draw(t, label+".state")),
		Generation:  rawGen(t, label+".gen"),
		TimeUpdated: rawTime(t, label+".time"),
	}
}

func rawRuntime(t *rapid.T, label string) instancestate.Runtime {
	return instancestate.Runtime{
		State:                 instancestate.NexusState(rapid.Uint8Max(7).Draw(t, label+".state")),
		Generation:            rawGen(t, label+".gen"),
		TimeUpdated:           rawTime(t, label+".time"),
		ActiveVMM:             vmmstate.IDFromUUID(rawID(t, label+".active")),
		TargetVMM:             vmmstate.IDFromUUID(rawID(t, label+".target")),
		MigrationID:           migration.IDFromUUID(rawID(t, label+".migration")),
		TimeLastAutoRestarted: rawTime(t, label+".last_auto_restart"),
	}
}

func rawInstance(t *rapid.T, label string) instancestate.Instance {
	return instancestate.Instance{
		ID:            vmmstate.InstanceIDFromUUID(rawID(t, label+".id")),
		Runtime:       rawRuntime(t, label+".runtime"),
		IntendedState: instancestate.IntendedState(rapid.Uint8Max(6).Draw(t, label+".intent")),
		AutoRestart: instancestate.AutoRestart{
			Policy:   instancestate.AutoRestartPolicy(rapid.Uint8Max(4).Draw(t, label+".policy")),
			Cooldown: time.Duration(rapid.Int64().Draw(t, label+".cooldown")),
		},
		UpdaterID:  instancestate.UpdaterIDFromUUID(rawID(t, label+".updater")),
		UpdaterGen: rawGen(t, label+".updater_gen"),
		StartFailure: failure.StartFailure{
			Cause:     failure.Cause(rapid.Uint8Max(9).Draw(t, label+".cause")),
			Transient: rapid.Bool().Draw(t, label+".transient"),
			Reason:    failure.StartReason(rapid.Uint8Max(5).Draw(t, label+".reason")),
			Time:      rawTime(t, label+".failed_at"),
		},
	}
}

// rawSnapshot draws a snapshot from raw field values: any enum byte, ids
// that may be nil or disagree, any generation, any time. Half the time it
// starts from a valid snapshot and breaks a few of its fields, so that
// snapshots a single rule away from valid are common too.
func rawSnapshot(t *rapid.T) instancestate.Snapshot {
	if rapid.Bool().Draw(t, "from valid") {
		s := instancetest.Snapshot().Draw(t, "valid")
		for range rapid.IntRange(1, 3).Draw(t, "breaks") {
			switch rapid.IntRange(0, 6).Draw(t, "break") {
			case 0:
				s.Instance.Runtime = rawRuntime(t, "runtime")
			case 1:
				s.Active = rawVMM(t, "active")
			case 2:
				s.Target = rawVMM(t, "target")
			case 3:
				s.Migration.Source = rawSide(t, "source")
			case 4:
				s.Migration.Target = rawSide(t, "target side")
			case 5:
				in := rawInstance(t, "instance")
				s.Instance.IntendedState, s.Instance.AutoRestart, s.Instance.StartFailure = in.IntendedState, in.AutoRestart, in.StartFailure
			case 6:
				s.Instance.ID = vmmstate.InstanceIDFromUUID(rawID(t, "instance id"))
			}
		}
		return s
	}
	return instancestate.Snapshot{
		Instance: rawInstance(t, "instance"),
		Active:   rawVMM(t, "active"),
		Target:   rawVMM(t, "target"),
		Migration: migration.Record{
			ID:          migration.IDFromUUID(rawID(t, "migration.id")),
			InstanceID:  vmmstate.InstanceIDFromUUID(rawID(t, "migration.instance_id")),
			Source:      rawSide(t, "migration.source"),
			Target:      rawSide(t, "migration.target"),
			TimeCreated: rawTime(t, "migration.time_created"),
		},
		SledUnreachableSince: rawTime(t, "sled_unreachable_since"),
	}
}

func rawReport(t *rapid.T) instancestate.Report {
	side := func(label string) *migration.Report {
		if rapid.Bool().Draw(t, label+".null") {
			return nil
		}
		return &migration.Report{
			MigrationID: migration.IDFromUUID(rawID(t, label+".id")),
			State:       migration.State(rapid.Uint8Max(6).Draw(t, label+".state")),
			Generation:  rawGen(t, label+".gen"),
			TimeUpdated: rawTime(t, label+".time"),
		}
	}
	return instancestate.Report{
		VMM: vmmstate.SledAgentRuntime{
			State:       vmmstate.SledAgentState(rapid.Uint8Max(10).Draw(t, "report.state")),
			Generation:  rawGen(t, "report.gen"),
			TimeUpdated: rawTime(t, "report.time"),
		},
		MigrationIn:  side("migration_in"),
		MigrationOut: side("migration_out"),
	}
}

// invalidRecord fails unless err reports the broken D17 rule as a
// *RuleError matching ErrInvalidRecord.
func invalidRecord(t *rapid.T, what string, err error) {
	var re *instancestate.RuleError
	if !errors.Is(err, instancestate.ErrInvalidRecord) || !errors.As(err, &re) {
		t.Fatalf("%s on an invalid snapshot: %v (%T), want a *RuleError matching ErrInvalidRecord", what, err, err)
	}
}

// D3, D17: no function panics on any generated snapshot, nor on one built
// from arbitrary field values. On a snapshot that does not validate, every
// function that validates returns a *RuleError matching ErrInvalidRecord and
// a zero result or its input unchanged, never a guess; on one that
// validates, CheckSnapshotAt holds. Refused operations return their input
// unchanged.
func TestPropNoPanic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s instancestate.Snapshot
		if rapid.Bool().Draw(t, "generated") {
			s = instancetest.Snapshot().Draw(t, "snapshot")
		} else {
			s = rawSnapshot(t)
		}
		now := rawTime(t, "now")
		valid := s.Validate() == nil
		vmm := vmmstate.IDFromUUID(rawID(t, "vmm"))
		rep := rawReport(t)

		e, err := instancestate.EffectiveState(s)
		if !valid {
			invalidRecord(t, "EffectiveState", err)
			if e != 0 {
				t.Fatalf("EffectiveState guessed %v", e)
			}
		}
		for _, r := range append(instancestate.AllRequests(), 0, instancestate.Request(rapid.Uint8().Draw(t, "request"))) {
			d, err := instancestate.Decide(s, r, now)
			if !r.IsValid() && err == nil {
				t.Fatalf("Decide(%v) accepted an invalid request: %+v", r, d)
			}
			if !valid && r.IsValid() {
				invalidRecord(t, "Decide", err)
			}
			if err != nil && d != (instancestate.Decision{}) {
				t.Fatalf("Decide(%v) erred (%v) with decision %+v", r, err, d)
			}
		}
		if _, err := instancestate.DecideMigrate(s, vmmstate.SledIDFromUUID(rawID(t, "sled"))); !valid {
			invalidRecord(t, "DecideMigrate", err)
		}
		p, required, err := instancestate.PlanUpdate(s, now)
		if !valid {
			invalidRecord(t, "PlanUpdate", err)
		}
		if err != nil && (required || p != (instancestate.Plan{})) {
			t.Fatalf("PlanUpdate erred (%v) with plan %+v", err, p)
		}
		for _, plan := range []instancestate.Plan{p, {Runtime: rawRuntime(t, "plan"), Intent: instancestate.IntendedState(rapid.Uint8Max(6).Draw(t, "plan.intent"))}} {
			after, err := s.Apply(plan)
			switch {
			case err != nil && after != s:
				t.Fatalf("Apply refused (%v), yet changed the snapshot", err)
			case err == nil && after.Validate() != nil:
				t.Fatalf("Apply returned an invalid snapshot: %v", after.Validate())
			}
		}
		after, res, err := instancestate.ApplyReport(s, vmm, rep)
		if !valid {
			invalidRecord(t, "ApplyReport", err)
		}
		if err != nil && (after != s || res != (instancestate.ReportResult{})) {
			t.Fatalf("ApplyReport refused (%v), yet changed the snapshot or returned %+v", err, res)
		}
		if err == nil {
			if err := invariant.CheckSnapshotStep(s, after); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := instancestate.Reincarnate(s, now); !valid {
			invalidRecord(t, "Reincarnate", err)
		}
		if c, err := instancestate.Conditions(s, now); !valid {
			invalidRecord(t, "Conditions", err)
			if c != nil {
				t.Fatalf("Conditions guessed %+v", c)
			}
		}
		if n, err := instancestate.Next(s, now); !valid {
			invalidRecord(t, "Next", err)
			if n != (instancestate.NextAction{}) {
				t.Fatalf("Next guessed %+v", n)
			}
		}
		in := s.Instance
		for what, f := range map[string]func() (instancestate.Instance, error){
			"MarkAsStarting": func() (instancestate.Instance, error) {
				rec := vmmstate.New(vmm, s.Instance.ID, vmmstate.SledIDFromUUID(rawID(t, "sled")), now)
				return instancestate.MarkAsStarting(s, rec, failure.StartReason(rapid.Uint8Max(4).Draw(t, "reason")), now)
			},
			"SetMigrationIDs": func() (instancestate.Instance, error) {
				return instancestate.SetMigrationIDs(s, s.Active.ID, migration.IDFromUUID(rawID(t, "new migration")), vmm, now)
			},
			"Delete": func() (instancestate.Instance, error) { return instancestate.Delete(s, now) },
		} {
			got, err := f()
			if !valid {
				invalidRecord(t, what, err)
			}
			if err != nil && got != in {
				t.Fatalf("%s refused (%v), yet changed the instance", what, err)
			}
		}
		other := rawInstance(t, "other")
		if got, applied, err := instancestate.UnwindStart(in, other, now); (err != nil || !applied) && got != in {
			t.Fatalf("UnwindStart did not apply (%v), yet changed the instance", err)
		}
		upd := instancestate.UpdaterIDFromUUID(rawID(t, "updater"))
		lock := instancestate.Lock{Updater: instancestate.UpdaterIDFromUUID(rawID(t, "lock.updater")), Gen: rawGen(t, "lock.gen")}
		for what, f := range map[string]func() (instancestate.Instance, error){
			"Lock":        func() (instancestate.Instance, error) { i, _, err := in.Lock(upd); return i, err },
			"InheritLock": func() (instancestate.Instance, error) { i, _, err := in.InheritLock(lock, upd); return i, err },
			"Unlock":      func() (instancestate.Instance, error) { i, _, err := in.Unlock(lock); return i, err },
			"Commit":      func() (instancestate.Instance, error) { i, _, err := in.Commit(lock, p); return i, err },
			"RecordStartFailure": func() (instancestate.Instance, error) {
				return in.RecordStartFailure(other.StartFailure)
			},
		} {
			if got, err := f(); err != nil && got != in {
				t.Fatalf("%s refused (%v), yet changed the instance", what, err)
			}
		}
		in.Reincarnatability(now)
		_ = in.ClearStartFailure()
		_ = instancestate.CanMove(in.Runtime.State, other.Runtime.State)
		_ = instancetest.ShapeOf(s)
		for _, str := range []fmt.Stringer{in.Runtime.State, in.IntendedState, in.AutoRestart.Policy, s.Active.Runtime.State,
			s.Migration.Source.State, rep.VMM.State, instancestate.Request(rapid.Uint8().Draw(t, "any request"))} {
			_ = str.String()
		}
		_ = invariant.CheckExplained(s, now)
		_ = invariant.CheckSnapshotStep(s, rawSnapshot(t))
		if valid {
			if err := invariant.CheckSnapshotAt(s, now); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestPropD22OnlyThePolicyRestarts: over generated snapshots and every
// policy, following instancestate.Next — and the update plans it asks for — never
// restarts an instance whose policy is never, never before the cooldown
// ends, and answers a plain start only for the user's own start that never
// ran: an instance that was already at rest with no VMM, meant to run,
// with nothing failed or lost, before any plan ran (a plan that only
// clears a stale link, D21, takes no VMM away).
func TestPropD22OnlyThePolicyRestarts(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := instancetest.Snapshot().Draw(rt, "snapshot")
		now := instancetest.Reference.Add(time.Duration(rapid.IntRange(0, 3600).Draw(rt, "seconds")) * time.Second)
		in := s.Instance
		atRestAtFirst := in.Runtime.State == instancestate.NexusNoVMM && in.IntendedState == instancestate.IntendRunning && !in.HasStartFailure() && !in.VMMLost.IsSet()
		planned := false
		for range 4 {
			n, err := instancestate.Next(s, now)
			if err != nil {
				rt.Fatal(err)
			}
			switch n.Action {
			case instancestate.NextRunUpdate:
				p, ok, err := instancestate.PlanUpdate(s, now)
				if err != nil || !ok {
					rt.Fatalf("run_update without a plan: %v, %v", ok, err)
				}
				if s, err = s.Apply(p); err != nil {
					rt.Fatal(err)
				}
				planned = true
				continue
			case instancestate.NextStart:
				if !atRestAtFirst {
					rt.Fatalf("a plain start for an instance the control plane left without a VMM (plans applied: %v): %+v", planned, s.Instance)
				}
			case instancestate.NextReincarnate:
				k, _ := s.Instance.Reincarnatability(now)
				if s.Instance.AutoRestart.EffectivePolicy() == instancestate.PolicyNever || k != instancestate.WillReincarnate {
					rt.Fatalf("reincarnate under policy %v with reincarnatability %v", s.Instance.AutoRestart.EffectivePolicy(), k)
				}
			}
			return
		}
	})
}

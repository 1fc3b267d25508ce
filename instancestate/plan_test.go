package instancestate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// planBase is where every plan starts (§13.3): the instance's runtime at
// generation+1, stamped now (t1), nothing else changed.
func planBase(s Snapshot) Plan {
	rt := s.Instance.Runtime
	g, err := rt.Generation.Next()
	if err != nil {
		panic(err)
	}
	rt.Generation, rt.TimeUpdated = g, t1
	return Plan{Runtime: rt}
}

// noVMM is §13.3 step 4 with D17: the instance keeps no VMM and no
// migration, reads failed if its VMM failed and no_vmm otherwise, and its
// network and resources go.
func noVMM(p Plan, failed bool) Plan {
	p.Runtime.ActiveVMM, p.Runtime.TargetVMM, p.Runtime.MigrationID = vmmstate.ID{}, vmmstate.ID{}, migration.ID{}
	p.Runtime.State = NexusNoVMM
	if failed {
		p.Runtime.State = NexusFailed
	}
	p.Network = Network{Action: NetworkDelete}
	p.Deprovision = true
	return p
}

// gone reports whether the update plan unlinks a VMM in st: destroyed or
// failed (§13.3), or saga_unwound (D11).
func gone(st vmmstate.State) bool {
	return st == vmmstate.Destroyed || st.IsFailed() || st == vmmstate.SagaUnwound
}

// planRow is one case of §13.3: a snapshot and the plan it needs (nil: no
// update).
type planRow struct {
	name string
	s    Snapshot
	want *Plan
}

func some(p Plan) *Plan { return &p }

// withLiveness adds to a wanted plan what D33 and D37 add, restated here
// as the rules read: an instance meant to run that had a VMM and is left
// failed or lost counts a failed restart (one more than before, or one
// after a stable run or with no automatic restart behind it), unless a
// start found no room; and a target VMM the plan unlinks while it still
// lives, neither destroyed nor made active, is to be stopped. Rows that
// want either already say so.
func withLiveness(s Snapshot, want Plan) Plan {
	in := s.Instance
	noRoom := in.HasStartFailure() && in.StartFailure.Transient &&
		in.StartFailure.Cause != failure.CauseSledAgentError && in.StartFailure.Cause != failure.CauseVMMGone && in.StartFailure.Cause != failure.CauseInternal
	if want.RestartFailures == 0 && in.IntendedState == IntendRunning && in.Runtime.State == NexusVMM && !noRoom &&
		(want.Runtime.State == NexusFailed || want.Lost.IsSet()) {
		want.RestartFailures = 1
		last := in.Runtime.TimeLastAutoRestarted
		if at := s.Active.Runtime.TimeUpdated; !last.IsZero() && at.Sub(last) < DefaultStableAfter {
			want.RestartFailures = in.RestartFailures + 1
		}
	}
	if want.StopTargetVMM.IsZero() && s.HasTarget() && want.Runtime.TargetVMM.IsZero() &&
		want.Runtime.ActiveVMM != s.Target.ID && want.DestroyTargetVMM.IsZero() {
		switch s.Target.Runtime.State {
		case vmmstate.Creating, vmmstate.Starting, vmmstate.Running, vmmstate.Rebooting, vmmstate.Migrating:
			want.StopTargetVMM = s.Target.ID
		}
	}
	return want
}

// withLost adds to a wanted plan the loss D22 records, restated here as
// the rule reads: an instance that had a VMM and is meant to run, left
// no_vmm without a guest shutdown, records how — its unwound start, or a
// VMM lost in a migration. Rows that want a loss already say so.
func withLost(s Snapshot, want Plan) Plan {
	if want.Lost.IsSet() || want.Runtime.State != NexusNoVMM || s.Instance.Runtime.State != NexusVMM ||
		s.Instance.IntendedState != IntendRunning || want.Intent != 0 {
		return want
	}
	want.Lost = VMMLost{Cause: LostMidMigration, Time: t1}
	if s.Active.Runtime.State == vmmstate.SagaUnwound {
		want.Lost.Cause = LostStartUnwound
	}
	return want
}

// checkPlan runs one row: PlanUpdate gives exactly the plan wanted; the
// plan's generation is the instance's +1; Apply commits it into a valid
// snapshot along a nexus edge, with no unwound or dead VMM left linked
// (D11); and planning again finds nothing to do.
func checkPlan(t *testing.T, r planRow) {
	t.Helper()
	p, ok, err := PlanUpdate(r.s, t1)
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	if r.want == nil {
		if ok || p != (Plan{}) {
			t.Errorf("%s: got %v, %+v; want no update", r.name, ok, p)
		}
		return
	}
	want := withLiveness(r.s, withLost(r.s, *r.want))
	if !ok || p != want {
		t.Errorf("%s: got %v, differing from the plan wanted in %s", r.name, ok, planDiff(p, want))
		return
	}
	if g, _ := r.s.Instance.Runtime.Generation.Next(); p.Runtime.Generation != g || p.Runtime.TimeUpdated != t1 {
		t.Errorf("%s: plan at generation %v stamped %v, want %v stamped now", r.name, p.Runtime.Generation, p.Runtime.TimeUpdated, g)
	}
	after, err := r.s.Apply(p)
	if err != nil {
		t.Fatalf("%s: Apply: %v", r.name, err)
	}
	from, to := r.s.Instance.Runtime.State, after.Instance.Runtime.State
	if from != to && !CanMove(from, to) {
		t.Errorf("%s: the plan moves %v → %v, not a nexus edge", r.name, from, to)
	}
	wantIntent := r.s.Instance.IntendedState
	if p.Intent != 0 {
		wantIntent = p.Intent
	}
	if after.Instance.IntendedState != wantIntent || after.Instance.UpdaterID != r.s.Instance.UpdaterID || after.Instance.UpdaterGen != r.s.Instance.UpdaterGen {
		t.Errorf("%s: Apply wrote intent %v and lock %v@%v", r.name, after.Instance.IntendedState, after.Instance.UpdaterID, after.Instance.UpdaterGen)
	}
	for _, v := range []vmmstate.VMM{after.Active, after.Target} {
		if v.ID != (vmmstate.ID{}) && gone(v.Runtime.State) {
			t.Errorf("%s: after Apply, VMM %v stays linked (D11)", r.name, v)
		}
	}
	if p2, ok2, err := PlanUpdate(after, t1.Add(1)); err != nil || ok2 {
		t.Errorf("%s: planning again after Apply: %v, %+v, %v; want no update", r.name, ok2, p2, err)
	}
}

// TestPlanNoUpdate: nothing to do without a VMM, with a VMM that is not
// destroyed, failed or unwound, and with a migration in flight or folded
// in but not yet completed by the target.
func TestPlanNoUpdate(t *testing.T) {
	var rows []planRow
	for _, n := range []NexusState{NexusCreating, NexusNoVMM, NexusFailed, NexusDestroyed} {
		rows = append(rows, planRow{name: n.String(), s: snap().nexus(n).valid(t)})
	}
	for _, st := range allVMMStates {
		if gone(st) {
			continue
		}
		for _, i := range AllIntendedStates() {
			rows = append(rows, planRow{name: fmt.Sprintf("active %v, intent %v", st, i), s: snap().vmm(st).intent(i).valid(t)})
		}
		for _, src := range []migration.State{migration.Pending, migration.InProgress} {
			for _, tgt := range []migration.State{migration.Pending, migration.InProgress} {
				rows = append(rows, planRow{name: fmt.Sprintf("active %v, migration %v/%v, no target", st, src, tgt), s: snap().vmm(st).migration(src, tgt).valid(t)})
				for _, tst := range []vmmstate.State{vmmstate.Creating, vmmstate.Migrating, vmmstate.Running} {
					rows = append(rows, planRow{name: fmt.Sprintf("active %v, migration %v/%v, target %v", st, src, tgt, tst), s: snap().vmm(st).migration(src, tgt).target(tst).valid(t)})
				}
			}
		}
		for _, tgt := range []migration.State{migration.Pending, migration.InProgress} {
			rows = append(rows, planRow{name: fmt.Sprintf("folded into %v, migration completed/%v", st, tgt), s: snap().vmm(vmmstate.Destroyed).migration(migration.Completed, tgt).target(st).folded().valid(t)})
		}
	}
	for _, r := range rows {
		checkPlan(t, r)
	}
}

// TestPlanActiveTerminalNoMigration: §13.3 step 1 and D11 for every
// terminal or unwound active VMM and every intent, without a migration.
func TestPlanActiveTerminalNoMigration(t *testing.T) {
	for _, st := range allVMMStates {
		if !gone(st) {
			continue
		}
		for _, i := range AllIntendedStates() {
			s := snap().vmm(st).intent(i).valid(t)
			// D36: a VMM gone under the user's stop leaves it stopped.
			w := noVMM(planBase(s), st.IsFailed() && i != IntendStopped)
			w.DestroyActiveVMM = vmmA
			if st == vmmstate.Destroyed && i == IntendRunning {
				w.Intent = IntendGuestShutdown // the guest stopped itself
			}
			checkPlan(t, planRow{name: fmt.Sprintf("active %v, intent %v", st, i), s: s, want: some(w)})
		}
	}
}

// TestPlanGuestShutdown spells the §13.3 step 1 intent rule out: a
// destroyed active VMM with intent running and no migration is the guest
// shutting down; with a migration, or another intent, or a failed or unwound
// VMM (D11: not a shutdown), the intent is left alone.
func TestPlanGuestShutdown(t *testing.T) {
	cases := []struct {
		name string
		b    builder
		want IntendedState
	}{
		{"destroyed, running, no migration", snap().vmm(vmmstate.Destroyed), IntendGuestShutdown},
		{"destroyed, running, migration in flight", snap().vmm(vmmstate.Destroyed).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating), 0},
		{"destroyed, running, migration failed", snap().vmm(vmmstate.Destroyed).migration(migration.Failed, migration.Failed).target(vmmstate.SagaUnwound), 0},
		{"destroyed, running, migration completed", snap().vmm(vmmstate.Destroyed).migration(migration.Completed, migration.Completed).target(vmmstate.Running), 0},
		{"destroyed, stopped", snap().vmm(vmmstate.Destroyed).intent(IntendStopped), 0},
		{"failed, running", snap().vmm(vmmstate.Failed(failure.SledOff)), 0},
		{"saga_unwound, running", snap().vmm(vmmstate.SagaUnwound), 0},
	}
	for _, c := range cases {
		p, ok, err := PlanUpdate(c.b.valid(t), t1)
		if err != nil || !ok || p.Intent != c.want {
			t.Errorf("%s: got intent %v (%v, %v), want %v", c.name, p.Intent, ok, err, c.want)
		}
	}
}

// TestD11SagaUnwoundActiveIsUnlinked: an active VMM whose saga unwound is
// unlinked and destroyed like a destroyed one; the instance becomes no_vmm
// (never failed) and its intent is not rewritten (not a guest shutdown).
func TestD11SagaUnwoundActiveIsUnlinked(t *testing.T) {
	for _, i := range AllIntendedStates() {
		s := snap().vmm(vmmstate.SagaUnwound).intent(i).valid(t)
		want := planBase(s)
		want.Runtime.ActiveVMM, want.Runtime.State = vmmstate.ID{}, NexusNoVMM
		want.DestroyActiveVMM = vmmA
		want.Network, want.Deprovision = Network{Action: NetworkDelete}, true
		checkPlan(t, planRow{name: "intent " + i.String(), s: s, want: &want})
		after, _ := s.Apply(withLost(s, want))
		if e, _ := EffectiveState(after); e != Stopped || after.Instance.IntendedState != i {
			t.Errorf("intent %v: after the plan the instance reads %v with intent %v, want stopped and %v", i, e, after.Instance.IntendedState, i)
		}
	}
}

// TestD11SagaUnwoundTargetIsUnlinked: a target VMM whose saga unwound is
// unlinked and destroyed, and its migration is cleared with the network
// re-pointed at the source — both with §15's leftovers (both sides failed)
// and with a migration no side has finished, which can never complete
// without its target and would otherwise leave the instance reading
// migrating forever.
func TestD11SagaUnwoundTargetIsUnlinked(t *testing.T) {
	leftovers := snap().vmm(vmmstate.Running).migration(migration.Failed, migration.Failed).target(vmmstate.SagaUnwound).valid(t)
	w := planBase(leftovers)
	w.Runtime.TargetVMM, w.Runtime.MigrationID = vmmstate.ID{}, migration.ID{}
	w.DestroyTargetVMM = vmmB
	w.Network = Network{Action: NetworkUpdate, VMM: vmmA, Sled: sled1}
	checkPlan(t, planRow{name: "§15 leftovers", s: leftovers, want: &w})

	for _, src := range []migration.State{migration.Pending, migration.InProgress} {
		for _, tgt := range []migration.State{migration.Pending, migration.InProgress} {
			s := snap().vmm(vmmstate.Running).migration(src, tgt).target(vmmstate.SagaUnwound).valid(t)
			w := planBase(s)
			w.Runtime.TargetVMM, w.Runtime.MigrationID = vmmstate.ID{}, migration.ID{}
			w.DestroyTargetVMM = vmmB
			w.Network = Network{Action: NetworkUpdate, VMM: vmmA, Sled: sled1}
			checkPlan(t, planRow{name: fmt.Sprintf("migration %v/%v", src, tgt), s: s, want: &w})
			after, err := s.Apply(w)
			if e, _ := EffectiveState(after); err != nil || e != Running {
				t.Errorf("migration %v/%v: after the plan the instance reads %v (%v), want running", src, tgt, e, err)
			}
		}
	}
}

// The active VMMs a migration row is planned with: alive, and each way it
// can be gone.
var activeVariants = []vmmstate.State{vmmstate.Running, vmmstate.Stopping, vmmstate.Destroyed, vmmstate.Failed(failure.SledExpunged), vmmstate.SagaUnwound}

// The target VMMs a migration row is planned with (zero: none linked).
var targetStates = []vmmstate.State{0, vmmstate.Migrating, vmmstate.Running, vmmstate.Destroyed, vmmstate.Failed(failure.FromSledAgent), vmmstate.SagaUnwound}

// wantMigrationPlan is §13.3 steps 1–4 for an instance on vmmA (in state
// active) with migration migM (src/tgt) to vmmB (linked in state target, or
// not linked when target is zero). It is written from the spec's text:
//
//   - step 1/2: a destroyed, failed or unwound VMM is unlinked and destroyed;
//   - step 3: a failed side (first), or a target gone before any side
//     completed, clears the migration and re-points the network at a
//     surviving active VMM; else a completed side moves the instance to a
//     surviving target (network to the target's sled) or to no VMM — failed
//     if the target that took the guest over failed (D19) — and the
//     target's own completion clears the migration and swaps the
//     reservations when the instance ends on the target;
//   - step 4: no active VMM left → no VMM, no migration, network deleted,
//     resources released.
func wantMigrationPlan(s Snapshot, active, target vmmstate.State, src, tgt migration.State) *Plan {
	p := planBase(s)
	required := false
	activeGone := gone(active)
	if activeGone {
		p.Runtime.ActiveVMM, p.DestroyActiveVMM, required = vmmstate.ID{}, vmmA, true
	}
	targetAlive := target != 0 && !gone(target)
	if target != 0 && gone(target) {
		p.Runtime.TargetVMM, p.DestroyTargetVMM, required = vmmstate.ID{}, vmmB, true
	}
	completed := src == migration.Completed || tgt == migration.Completed
	failed := active.IsFailed()
	switch {
	case src == migration.Failed || tgt == migration.Failed, target != 0 && gone(target) && !completed:
		p.Runtime.MigrationID, p.Runtime.TargetVMM, required = migration.ID{}, vmmstate.ID{}, true
		if !activeGone {
			p.Network = Network{Action: NetworkUpdate, VMM: vmmA, Sled: sled1}
		}
	case completed:
		required = true
		if targetAlive {
			p.Runtime.ActiveVMM = vmmB
			p.Network = Network{Action: NetworkUpdate, VMM: vmmB, Sled: sled2}
		} else {
			p.Runtime.ActiveVMM = vmmstate.ID{}
			failed = failed || target.IsFailed()
		}
		if tgt == migration.Completed {
			p.Runtime.MigrationID, p.Runtime.TargetVMM = migration.ID{}, vmmstate.ID{}
			if targetAlive {
				p.Reservations = Reservations{Active: vmmA, Target: vmmB}
			}
		}
	}
	if !required {
		return nil
	}
	if p.Runtime.ActiveVMM == (vmmstate.ID{}) {
		p = noVMM(p, failed)
	}
	return &p
}

// TestPlanMigrationOutcomes walks every migration outcome of §13.3 — none
// (pending or in progress), a failed side, the source completed only, the
// target completed only, both completed — with every active VMM (alive,
// destroyed, failed, unwound) and every target (none, alive, destroyed,
// failed, unwound: the target being destroyed and §15's leftovers).
func TestPlanMigrationOutcomes(t *testing.T) {
	rows := 0
	for _, a := range activeVariants {
		for _, tv := range targetStates {
			for _, src := range allSideStates {
				for _, tgt := range allSideStates {
					b := snap().vmm(a).migration(src, tgt)
					if tv != 0 {
						b = b.target(tv)
					}
					s := b.valid(t)
					checkPlan(t, planRow{
						name: fmt.Sprintf("active %v, target %v, migration %v/%v", a, tv, src, tgt),
						s:    s,
						want: wantMigrationPlan(s, a, tv, src, tgt),
					})
					rows++
				}
			}
		}
	}
	if want := len(activeVariants) * len(targetStates) * 16; rows != want {
		t.Fatalf("walked %d rows, want %d", rows, want)
	}
}

// TestPlanMigrationNamedRows spells the main §13.3 rows out in full, so a
// reader can check them against the spec line by line.
func TestPlanMigrationNamedRows(t *testing.T) {
	// Source completed only: the instance moves to the target, the
	// migration stays until the target reports.
	s := snap().vmm(vmmstate.Stopping).migration(migration.Completed, migration.InProgress).target(vmmstate.Running).valid(t)
	w := planBase(s)
	w.Runtime.ActiveVMM = vmmB
	w.Network = Network{Action: NetworkUpdate, VMM: vmmB, Sled: sled2}
	checkPlan(t, planRow{"source completed only", s, &w})

	// Target completed only: moved, cleared, reservations swapped.
	s = snap().vmm(vmmstate.Migrating).migration(migration.InProgress, migration.Completed).target(vmmstate.Running).valid(t)
	w = planBase(s)
	w.Runtime.ActiveVMM, w.Runtime.TargetVMM, w.Runtime.MigrationID = vmmB, vmmstate.ID{}, migration.ID{}
	w.Network = Network{Action: NetworkUpdate, VMM: vmmB, Sled: sled2}
	w.Reservations = Reservations{Active: vmmA, Target: vmmB}
	checkPlan(t, planRow{"target completed only", s, &w})

	// Both completed after the move: only the clearing and the swap.
	s = snap().vmm(vmmstate.Destroyed).migration(migration.Completed, migration.Completed).target(vmmstate.Running).folded().valid(t)
	w = planBase(s)
	w.Runtime.TargetVMM, w.Runtime.MigrationID = vmmstate.ID{}, migration.ID{}
	w.Reservations = Reservations{Active: vmmA, Target: vmmB}
	checkPlan(t, planRow{"both completed, folded", s, &w})

	// Source destroyed after handing over, target completed.
	s = snap().vmm(vmmstate.Destroyed).migration(migration.Completed, migration.Completed).target(vmmstate.Running).valid(t)
	w = planBase(s)
	w.Runtime.ActiveVMM, w.Runtime.TargetVMM, w.Runtime.MigrationID = vmmB, vmmstate.ID{}, migration.ID{}
	w.DestroyActiveVMM = vmmA
	w.Network = Network{Action: NetworkUpdate, VMM: vmmB, Sled: sled2}
	w.Reservations = Reservations{Active: vmmA, Target: vmmB}
	checkPlan(t, planRow{"source destroyed, both completed", s, &w})

	// The target being destroyed after the source completed: nothing runs
	// the instance any more.
	s = snap().vmm(vmmstate.Stopping).migration(migration.Completed, migration.InProgress).target(vmmstate.Destroyed).valid(t)
	w = noVMM(planBase(s), false)
	w.DestroyTargetVMM = vmmB
	checkPlan(t, planRow{"target being destroyed", s, &w})

	// The folded-in target fails: unlinked as both active and target, and
	// the instance fails.
	s = snap().vmm(vmmstate.Destroyed).migration(migration.Completed, migration.InProgress).target(vmmstate.Failed(failure.SledOff)).folded().valid(t)
	w = noVMM(planBase(s), true)
	w.DestroyActiveVMM, w.DestroyTargetVMM = vmmB, vmmB
	checkPlan(t, planRow{"folded target failed", s, &w})

	// A side failed with the source alive: back on the source.
	s = snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Failed).target(vmmstate.Migrating).valid(t)
	w = planBase(s)
	w.Runtime.TargetVMM, w.Runtime.MigrationID = vmmstate.ID{}, migration.ID{}
	w.Network = Network{Action: NetworkUpdate, VMM: vmmA, Sled: sled1}
	checkPlan(t, planRow{"target side failed, source alive", s, &w})

	// Failed wins over completed (§13.3 step 3 checks failed first).
	s = snap().vmm(vmmstate.Running).migration(migration.Completed, migration.Failed).target(vmmstate.Running).valid(t)
	checkPlan(t, planRow{"completed and failed", s, some(w)})

	// The active VMM failed during a migration: the instance fails.
	s = snap().vmm(vmmstate.Failed(failure.NoSuchInstance)).migration(migration.Failed, migration.InProgress).target(vmmstate.Migrating).valid(t)
	w = noVMM(planBase(s), true)
	w.DestroyActiveVMM = vmmA
	checkPlan(t, planRow{"active failed, source side failed", s, &w})
}

// TestPlanGenerationOverflow: at the largest generation a plan that must
// write is an error naming state_generation, while a snapshot that needs
// nothing still says so — there is nothing to write.
func TestPlanGenerationOverflow(t *testing.T) {
	_, ok, err := PlanUpdate(snap().vmm(vmmstate.Destroyed).gen(maxGen()).valid(t), t1)
	if ok {
		t.Fatal("a plan came with the overflow")
	}
	checkRuleErr(t, "plan at max generation", err, "", "state_generation")

	// The same for the stale link of an instance without a VMM (D21),
	// which the plan answers before its steps.
	p, ok, err := PlanUpdate(snap().nexus(NexusFailed).migration(migration.Failed, migration.Failed).gen(maxGen()).valid(t), t1)
	if ok || p != (Plan{}) {
		t.Fatalf("a plan came with the overflow of a stale link: %v %+v", ok, p)
	}
	checkRuleErr(t, "stale link at max generation", err, "", "state_generation")

	p, ok, err = PlanUpdate(snap().vmm(vmmstate.Running).gen(maxGen()).valid(t), t1)
	if err != nil || ok || p != (Plan{}) {
		t.Fatalf("nothing to do at max generation: got %v, %+v, %v; want no update", ok, p, err)
	}
}

// TestPlanInvalidSnapshot: D17 — the plan validates first.
func TestPlanInvalidSnapshot(t *testing.T) {
	s := snap().vmm(vmmstate.Destroyed).build()
	s.Active.InstanceID = otherID
	p, ok, err := PlanUpdate(s, t1)
	checkRuleErr(t, "plan for another instance's VMM", err, RuleIDsAgree, "active_vmm.instance_id")
	if ok || p != (Plan{}) {
		t.Fatalf("a plan came with the error: %v %+v", ok, p)
	}
}

// TestApplyRefuses: Apply commits only a plan newer than the record, and
// only into a valid snapshot; otherwise the snapshot comes back unchanged.
func TestApplyRefuses(t *testing.T) {
	s := snap().vmm(vmmstate.Destroyed).valid(t)
	p, _, _ := PlanUpdate(s, t1)

	stale := p
	stale.Runtime.Generation = s.Instance.Runtime.Generation
	got, err := s.Apply(stale)
	checkConflict(t, "stale plan", err, ErrStaleGeneration, 409, "instance state has changed")
	if got != s {
		t.Fatal("a stale plan changed the snapshot")
	}

	// A plan linking a VMM the snapshot does not hold would leave an
	// invalid snapshot (D17).
	bad := p
	bad.Runtime.State, bad.Runtime.ActiveVMM = NexusVMM, vmmC
	got, err = s.Apply(bad)
	checkRuleErr(t, "plan linking an unknown VMM", err, RuleLinkedRecord, "active_vmm")
	if got != s {
		t.Fatal("a refused plan changed the snapshot")
	}
}

// planDiff names the fields in which two plans differ, one level into
// their structs, with both values.
func planDiff(got, want Plan) string {
	var out []string
	var walk func(prefix string, g, w reflect.Value)
	walk = func(prefix string, g, w reflect.Value) {
		for i := 0; i < g.NumField(); i++ {
			f := g.Type().Field(i)
			gv, wv := g.Field(i), w.Field(i)
			if gv.Kind() == reflect.Struct && f.Type.PkgPath() == g.Type().PkgPath() {
				walk(prefix+f.Name+".", gv, wv)
				continue
			}
			if gv.Interface() != wv.Interface() {
				out = append(out, fmt.Sprintf("%s%s: got %v, want %v", prefix, f.Name, gv.Interface(), wv.Interface()))
			}
		}
	}
	walk("", reflect.ValueOf(got), reflect.ValueOf(want))
	return strings.Join(out, "; ")
}

package instancestate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

var t2 = t1.Add(time.Minute)

const changedBeforeStart = "instance changed state before it could be started"

// TestMarkAsStartingLinks: §14's MARK_AS_STARTING with no active VMM (no_vmm
// and, as §14 observes, failed) or a saga_unwound one (replaced, D10):
// the instance becomes vmm on the new VMM at generation+1 stamped now, and
// only an auto_restart stamps time_last_auto_restarted (§10.3); nothing
// else changes.
func TestMarkAsStartingLinks(t *testing.T) {
	for name, b := range map[string]builder{
		"no_vmm":              snap(),
		"failed":              snap().nexus(NexusFailed),
		"saga_unwound active": snap().vmm(vmmstate.SagaUnwound),
		"start failure":       snap().startFailure(failure.CauseInsufficientCapacity, true),
	} {
		for _, reason := range failure.AllStartReasons() {
			s := b.lastAutoRestart(t0).valid(t)
			got, err := MarkAsStarting(s, newVMM(vmmD), reason, t1)
			if err != nil {
				t.Fatalf("%s, %v: %v", name, reason, err)
			}
			want := s.Instance
			want.Runtime.State, want.Runtime.ActiveVMM = NexusVMM, vmmD
			want.Runtime.Generation, want.Runtime.TimeUpdated = gen(instGen+1), t1
			if reason == failure.StartReasonAutoRestart {
				want.Runtime.TimeLastAutoRestarted = t1
			}
			if got != want {
				t.Errorf("%s, %v:\n got %+v\nwant %+v", name, reason, got, want)
			}
		}
	}
}

// TestMarkAsStartingRetryIsDone: the saga's own VMM already linked means
// the step ran before; the instance comes back unchanged, whatever state
// the VMM has reached since.
func TestMarkAsStartingRetryIsDone(t *testing.T) {
	for _, st := range allVMMStates {
		s := snap().vmm(st).valid(t)
		got, err := MarkAsStarting(s, s.Active, failure.StartReasonAutoRestart, t1)
		if err != nil || got != s.Instance {
			t.Errorf("retry with VMM %v: %v, changed: %v", st, err, got != s.Instance)
		}
	}
}

// TestMarkAsStartingConflicts: any other active VMM is a 409 conflict, and
// so is an instance that is being created or was deleted in the meantime
// (neither has a nexus edge into vmm).
func TestMarkAsStartingConflicts(t *testing.T) {
	cases := map[string]builder{
		"creating":  snap().nexus(NexusCreating),
		"destroyed": snap().nexus(NexusDestroyed),
	}
	for _, st := range allVMMStates {
		if st != vmmstate.SagaUnwound {
			cases["active "+st.String()] = snap().vmm(st)
		}
	}
	for name, b := range cases {
		s := b.valid(t)
		got, err := MarkAsStarting(s, newVMM(vmmD), failure.StartReasonUser, t1)
		checkConflict(t, name, err, ErrConflict, 409, changedBeforeStart)
		if got != s.Instance {
			t.Errorf("%s: the refused step changed the instance", name)
		}
	}
}

// TestMarkAsStartingStaleSaga: a replayed or raced start saga must not link
// a VMM that is no longer being created (it failed, was destroyed or its
// saga unwound meanwhile), nor bring back an instance whose intent moved
// away from running — a stop or a guest shutdown won the race.
func TestMarkAsStartingStaleSaga(t *testing.T) {
	s := snap().valid(t)
	for _, st := range allVMMStates {
		if st == vmmstate.Creating {
			continue
		}
		got, err := MarkAsStarting(s, vmmRecord(vmmD, sled3, st, 2), failure.StartReasonUser, t1)
		checkConflict(t, "VMM "+st.String(), err, ErrConflict, 409, "")
		if !strings.Contains(err.Error(), "only a VMM still being created can be started") {
			t.Errorf("VMM %v: %v does not say why", st, err)
		}
		if got != s.Instance {
			t.Errorf("VMM %v: the refused step changed the instance", st)
		}
	}
	for _, i := range AllIntendedStates() {
		if i == IntendRunning {
			continue
		}
		s := snap().intent(i).valid(t)
		got, err := MarkAsStarting(s, newVMM(vmmD), failure.StartReasonUser, t1)
		checkConflict(t, "intent "+i.String(), err, ErrConflict, 409, "")
		if !strings.Contains(err.Error(), "no longer intended to run") {
			t.Errorf("intent %v: %v does not say why", i, err)
		}
		if got != s.Instance {
			t.Errorf("intent %v: the refused step changed the instance", i)
		}
	}
}

// TestMarkAsStartingBadInput: a nil VMM id, an invalid reason, an invalid
// snapshot and the largest generation are errors naming the field.
func TestMarkAsStartingBadInput(t *testing.T) {
	s := snap().valid(t)
	_, err := MarkAsStarting(s, vmmstate.VMM{}, failure.StartReasonUser, t1)
	checkRuleErr(t, "nil VMM", err, RuleValidFields, "vmm")
	other := newVMM(vmmD)
	other.InstanceID = otherID
	_, err = MarkAsStarting(s, other, failure.StartReasonUser, t1)
	checkRuleErr(t, "another instance's VMM", err, RuleIDsAgree, "vmm.instance_id")
	_, err = MarkAsStarting(s, newVMM(vmmD), 0, t1)
	checkRuleErr(t, "reason 0", err, "", "reason")
	_, err = MarkAsStarting(snap().nexus(NexusVMM).build(), newVMM(vmmD), failure.StartReasonUser, t1)
	checkRuleErr(t, "invalid snapshot", err, RuleVMMIffActive, "active_propolis_id")
	_, err = MarkAsStarting(snap().gen(maxGen()).valid(t), newVMM(vmmD), failure.StartReasonUser, t1)
	checkRuleErr(t, "max generation", err, "", "state_generation")
}

// TestUnwindStart: the undo of MARK_AS_STARTING (§14) returns the instance
// to no_vmm at the next generation when nothing has written the instance
// since, keeping the auto-restart stamp (it feeds the cooldown, D15);
// after any other write it does not apply.
func TestUnwindStart(t *testing.T) {
	s := snap().nexus(NexusFailed).valid(t)
	started, err := MarkAsStarting(s, newVMM(vmmD), failure.StartReasonAutoRestart, t1)
	if err != nil {
		t.Fatal(err)
	}
	got, applied, err := UnwindStart(started, started, t2)
	want := started
	want.Runtime.State, want.Runtime.ActiveVMM = NexusNoVMM, vmmstate.ID{}
	want.Runtime.Generation, want.Runtime.TimeUpdated = gen(instGen+2), t2
	if err != nil || !applied || got != want {
		t.Fatalf("unwind: %v, %v,\n got %+v\nwant %+v", applied, err, got, want)
	}
	if got.Runtime.TimeLastAutoRestarted != t1 {
		t.Fatal("unwinding erased time_last_auto_restarted")
	}

	// The instance moved on (an update plan committed): the undo's
	// generation guard fails and the VMM stays linked, for the saga to mark
	// saga_unwound and the plan to unlink (D11).
	moved := started
	moved.Runtime.Generation, moved.Runtime.TimeUpdated = gen(instGen+2), t2
	got, applied, err = UnwindStart(moved, started, t2)
	if err != nil || applied || got != moved {
		t.Fatalf("unwind after a write: %v, %v, changed %v", applied, err, got != moved)
	}

	// At the largest generation the undo cannot be written.
	top := started
	top.Runtime.Generation = maxGen()
	got, applied, err = UnwindStart(top, top, t2)
	checkRuleErr(t, "unwind at max generation", err, "", "state_generation")
	if applied || got != top {
		t.Fatal("a failed unwind changed the instance")
	}
}

// TestUnwoundStartLeavesSagaUnwoundVMMForThePlan plays §14's "instance moved
// on" path end to end: the VMM stays linked, is marked saga_unwound, reads
// stopped (D10), and the update plan unlinks it without rewriting intent
// (D11).
func TestUnwoundStartLeavesSagaUnwoundVMMForThePlan(t *testing.T) {
	s := snap().vmm(vmmstate.SagaUnwound).valid(t)
	if e, _ := EffectiveState(s); e != Stopped {
		t.Fatalf("linked saga_unwound VMM reads %v, want stopped", e)
	}
	p, ok, err := PlanUpdate(s, t1)
	if err != nil || !ok {
		t.Fatalf("plan: %v %v", ok, err)
	}
	after, err := s.Apply(p)
	if err != nil || after.HasActive() || after.Instance.Runtime.State != NexusNoVMM || after.Instance.IntendedState != IntendRunning {
		t.Fatalf("after the plan: %+v, %v", after.Instance, err)
	}
}

const anotherMigration = "another migration is already in progress"

// TestSetMigrationIDs replays §21.2's test_instance_set_migration_ids and
// §8.1's conditions (a), (b) and (c).
func TestSetMigrationIDs(t *testing.T) {
	// Active VMM stopped: refused.
	stopped := snap().vmm(vmmstate.Stopped).valid(t)
	_, err := SetMigrationIDs(stopped, vmmA, migM, vmmB, t1)
	checkConflict(t, "source stopped", err, ErrConflict, 409, anotherMigration)

	// Running: (a) the ids are linked at generation+1, stamped now.
	running := snap().vmm(vmmstate.Running).valid(t)
	got, err := SetMigrationIDs(running, vmmA, migM, vmmB, t1)
	want := running.Instance
	want.Runtime.MigrationID, want.Runtime.TargetVMM = migM, vmmB
	want.Runtime.Generation, want.Runtime.TimeUpdated = gen(instGen+1), t1
	if err != nil || got != want {
		t.Fatalf("(a): %v\n got %+v\nwant %+v", err, got.Runtime, want.Runtime)
	}

	// The same ids again: (b), unchanged.
	linked := snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating).valid(t)
	if got, err := SetMigrationIDs(linked, vmmA, migM, vmmB, t2); err != nil || got != linked.Instance {
		t.Fatalf("(b): %v, changed %v", err, got != linked.Instance)
	}

	// A new migration while one is linked: refused.
	_, err = SetMigrationIDs(linked, vmmA, migN, vmmC, t2)
	checkConflict(t, "new migration over a live one", err, ErrConflict, 409, anotherMigration)

	// The old target's saga unwound but the migration did not fail: refused.
	unwound := snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.SagaUnwound).valid(t)
	_, err = SetMigrationIDs(unwound, vmmA, migN, vmmC, t2)
	checkConflict(t, "unwound target, migration not failed", err, ErrConflict, 409, anotherMigration)

	// Once the migration is marked failed: (c), the new ids replace the old.
	m, _, err := unwound.Migration.MarkFailed(t1)
	if err != nil {
		t.Fatal(err)
	}
	leftovers := unwound
	leftovers.Migration = m
	got, err = SetMigrationIDs(leftovers, vmmA, migN, vmmC, t2)
	want = leftovers.Instance
	want.Runtime.MigrationID, want.Runtime.TargetVMM = migN, vmmC
	want.Runtime.Generation, want.Runtime.TimeUpdated = gen(instGen+1), t2
	if err != nil || got != want {
		t.Fatalf("(c): %v\n got %+v\nwant %+v", err, got.Runtime, want.Runtime)
	}
}

// TestSetMigrationIDsConditions walks §8.1's other conditions: the source
// must be the active VMM and running or rebooting; (c) needs both sides
// failed and the linked target saga_unwound.
func TestSetMigrationIDsConditions(t *testing.T) {
	for _, st := range allVMMStates {
		s := snap().vmm(st).valid(t)
		_, err := SetMigrationIDs(s, vmmA, migM, vmmB, t1)
		if st == vmmstate.Running || st == vmmstate.Rebooting {
			if err != nil {
				t.Errorf("source %v: %v", st, err)
			}
		} else {
			checkConflict(t, "source "+st.String(), err, ErrConflict, 409, anotherMigration)
		}
	}
	running := snap().vmm(vmmstate.Running).valid(t)
	_, err := SetMigrationIDs(running, vmmC, migM, vmmB, t1)
	checkConflict(t, "source is not the active VMM", err, ErrConflict, 409, anotherMigration)
	_, err = SetMigrationIDs(snap().valid(t), vmmA, migM, vmmB, t1)
	checkConflict(t, "no active VMM", err, ErrConflict, 409, anotherMigration)

	for _, src := range allSideStates {
		for _, tgt := range allSideStates {
			for _, tst := range []vmmstate.State{vmmstate.SagaUnwound, vmmstate.Destroyed, vmmstate.Failed(failure.FromSledAgent), vmmstate.Migrating} {
				s := snap().vmm(vmmstate.Running).migration(src, tgt).target(tst).valid(t)
				_, err := SetMigrationIDs(s, vmmA, migN, vmmC, t1)
				name := fmt.Sprintf("migration %v/%v, target %v", src, tgt, tst)
				if src == migration.Failed && tgt == migration.Failed && tst == vmmstate.SagaUnwound {
					if err != nil {
						t.Errorf("%s: %v, want (c)", name, err)
					}
					continue
				}
				checkConflict(t, name, err, ErrConflict, 409, anotherMigration)
			}
			// No target linked: (c) needs one.
			s := snap().vmm(vmmstate.Running).migration(src, tgt).valid(t)
			_, err := SetMigrationIDs(s, vmmA, migN, vmmC, t1)
			checkConflict(t, fmt.Sprintf("migration %v/%v, no target", src, tgt), err, ErrConflict, 409, anotherMigration)
		}
	}

	_, err = SetMigrationIDs(running, vmmA, migration.ID{}, vmmB, t1)
	checkRuleErr(t, "nil migration id", err, "", "migration_id")
	_, err = SetMigrationIDs(running, vmmA, migM, vmmstate.ID{}, t1)
	checkRuleErr(t, "nil target", err, "", "migration_id")
	_, err = SetMigrationIDs(snap().vmm(vmmstate.Running).gen(maxGen()).valid(t), vmmA, migM, vmmB, t1)
	checkRuleErr(t, "max generation", err, "", "state_generation")
}

// TestDelete: the delete saga's record step (§8.1) — no_vmm and failed
// become destroyed at generation+1 with intent destroyed; destroyed is
// idempotent; a linked VMM or a creating instance is refused with the API's
// status and message.
func TestDelete(t *testing.T) {
	for _, n := range []NexusState{NexusNoVMM, NexusFailed} {
		s := snap().nexus(n).valid(t)
		got, err := Delete(s, t1)
		want := s.Instance
		want.Runtime.State, want.Runtime.Generation, want.Runtime.TimeUpdated = NexusDestroyed, gen(instGen+1), t1
		want.IntendedState = IntendDestroyed
		if err != nil || got != want {
			t.Errorf("%v: %v\n got %+v\nwant %+v", n, err, got, want)
		}
		// Deleting again is a no-op.
		again := snap().nexus(NexusDestroyed).valid(t)
		again.Instance = got
		if got2, err := Delete(again, t2); err != nil || got2 != got {
			t.Errorf("%v: deleting again: %v, changed %v", n, err, got2 != got)
		}
	}
	for _, st := range allVMMStates {
		s := snap().vmm(st).valid(t)
		got, err := Delete(s, t1)
		checkConflict(t, "active "+st.String(), err, ErrConflict, 400, "cannot delete instance: instance is running or has not yet fully stopped")
		if got != s.Instance {
			t.Errorf("active %v: refused delete changed the instance", st)
		}
	}
	_, err := Delete(snap().nexus(NexusCreating).valid(t), t1)
	checkConflict(t, "creating", err, ErrConflict, 400, `instance cannot be deleted in state "creating"`)
	_, err = Delete(snap().gen(maxGen()).valid(t), t1)
	checkRuleErr(t, "max generation", err, "", "state_generation")
	_, err = Delete(snap().nexus(NexusVMM).build(), t1)
	checkRuleErr(t, "invalid snapshot", err, RuleVMMIffActive, "active_propolis_id")
}

// TestNexusMovesFollowEdges sweeps the corpus through every operation that
// writes the state column — MarkAsStarting, UnwindStart, Decide's stop,
// PlanUpdate then Apply, Delete — and checks each change is an edge of
// NexusMoves, and that every edge these operations own is taken by some
// snapshot. (Creating's edges belong to the create saga, §16.)
func TestNexusMovesFollowEdges(t *testing.T) {
	taken := map[[2]NexusState]bool{}
	move := func(what string, from, to NexusState) {
		t.Helper()
		if from == to {
			return
		}
		e := [2]NexusState{from, to}
		if !CanMove(from, to) && !taken[e] {
			t.Errorf("%s moves %v → %v, which is not a nexus edge", what, from, to)
		}
		taken[e] = true
	}
	for _, s := range corpus(t) {
		from := s.Instance.Runtime.State
		for _, reason := range failure.AllStartReasons() {
			if in, err := MarkAsStarting(s, newVMM(vmmD), reason, t1); err == nil {
				move("MarkAsStarting", from, in.Runtime.State)
				if un, ok, err := UnwindStart(in, in, t2); err == nil && ok {
					move("UnwindStart", in.Runtime.State, un.Runtime.State)
				}
			}
		}
		if d, err := Decide(s, RequestStop, t1); err == nil && d.Action == ActionUpdateRuntime {
			move("stop", from, d.Runtime.State)
		}
		if p, ok, err := PlanUpdate(s, t1); err == nil && ok {
			move("PlanUpdate", from, p.Runtime.State)
		}
		if in, err := Delete(s, t1); err == nil {
			move("Delete", from, in.Runtime.State)
		}
	}
	for _, m := range NexusMoves() {
		if m.From == NexusCreating {
			continue
		}
		if !taken[[2]NexusState{m.From, m.To}] {
			t.Errorf("no operation took the edge %v → %v (%s)", m.From, m.To, m.By)
		}
	}
}

// TestNexusMovesTable: CanMove agrees with NexusMoves for every pair,
// staying put is not an edge, nothing leaves destroyed, and NexusMoves
// hands out a copy.
func TestNexusMovesTable(t *testing.T) {
	edges := map[[2]NexusState]bool{}
	for _, m := range NexusMoves() {
		if m.From == m.To || !m.From.IsValid() || !m.To.IsValid() || m.By == "" || m.Rule == "" {
			t.Errorf("bad edge %+v", m)
		}
		edges[[2]NexusState{m.From, m.To}] = true
	}
	states := append([]NexusState{0, NexusDestroyed + 1}, AllNexusStates()...)
	for _, from := range states {
		for _, to := range states {
			if got := CanMove(from, to); got != edges[[2]NexusState{from, to}] {
				t.Errorf("CanMove(%v, %v) = %v", from, to, got)
			}
		}
		if from == NexusDestroyed {
			for _, to := range states {
				if CanMove(from, to) {
					t.Errorf("destroyed → %v is an edge", to)
				}
			}
		}
	}
	ms := NexusMoves()
	ms[0].To = NexusDestroyed + 1
	if NexusMoves()[0] == ms[0] {
		t.Fatal("NexusMoves shares its table with the caller")
	}
}

package instancestate

import (
	"testing"

	"github.com/vmlife/vmlife/vmmstate"
)

// fixture is §21.2's fixture instance: created without start (creating,
// generation 1, intent stopped), updater generation 1, unlocked.
func fixture() Instance { return New(instID, false, AutoRestart{}, t0) }

func lock(t *testing.T, in Instance, u UpdaterID) (Instance, Lock) {
	t.Helper()
	out, l, err := in.Lock(u)
	if err != nil {
		t.Fatalf("lock by %v: %v", u, err)
	}
	return out, l
}

func unlock(t *testing.T, in Instance, l Lock) (Instance, bool) {
	t.Helper()
	out, ok, err := in.Unlock(l)
	if err != nil {
		t.Fatalf("unlock %+v: %v", l, err)
	}
	return out, ok
}

func checkLocked(t *testing.T, what string, in Instance, u UpdaterID, g uint32) {
	t.Helper()
	if in.UpdaterID != u || in.UpdaterGen != gen(g) || in.IsLocked() != !u.IsZero() {
		t.Fatalf("%s: updater %v@%v (locked %v), want %v@%d", what, in.UpdaterID, in.UpdaterGen, in.IsLocked(), u, g)
	}
}

// TestNewInstance: §6.9's Instance::new.
func TestNewInstance(t *testing.T) {
	auto := AutoRestart{Policy: PolicyNever}
	for start, intent := range map[bool]IntendedState{true: IntendRunning, false: IntendStopped} {
		in := New(instID, start, auto, t0)
		want := Instance{
			ID:            instID,
			Runtime:       Runtime{State: NexusCreating, Generation: gen(1), TimeUpdated: t0},
			IntendedState: intent,
			AutoRestart:   auto,
			UpdaterGen:    gen(1),
		}
		if in != want {
			t.Errorf("New(start=%v) = %+v, want %+v", start, in, want)
		}
	}
}

// TestLockAcquires replays test_instance_updater_acquires_lock.
func TestLockAcquires(t *testing.T) {
	in := fixture()
	in, l1 := lock(t, in, upd1)
	if l1 != (Lock{Updater: upd1, Gen: gen(2)}) {
		t.Fatalf("first lock %+v, want upd1@2 (updater_gen+1)", l1)
	}
	got, l, err := in.Lock(upd2)
	checkConflict(t, "saga2 while saga1 holds it", err, ErrAlreadyLocked, 409, "")
	if got != in || l != (Lock{}) {
		t.Fatal("a refused lock changed the instance or returned a lock")
	}
	in, ok := unlock(t, in, l1)
	if !ok {
		t.Fatal("saga1's unlock released nothing")
	}
	in, l2 := lock(t, in, upd2)
	checkLocked(t, "saga2 holds it", in, upd2, 4)
	_, _, err = in.Lock(upd1)
	checkConflict(t, "saga1 while saga2 holds it", err, ErrAlreadyLocked, 409, "")
	in, ok = unlock(t, in, l2)
	if !ok {
		t.Fatal("saga2's unlock released nothing")
	}
	checkLocked(t, "released", in, UpdaterID{}, 5)
}

// TestLockIsIdempotent replays test_instance_updater_lock_is_idempotent.
func TestLockIsIdempotent(t *testing.T) {
	in, l1 := lock(t, fixture(), upd1)
	in, l2 := lock(t, in, upd1)
	if l1 != l2 {
		t.Fatalf("locking twice: %+v then %+v, want the same generation", l1, l2)
	}
	in, ok := unlock(t, in, l1)
	if !ok {
		t.Fatal("first unlock released nothing")
	}
	after, ok := unlock(t, in, l1)
	if ok || after != in {
		t.Fatal("second unlock of the same lock released something")
	}
}

// TestCantUnlockSomeoneElses replays
// test_instance_updater_cant_unlock_someone_elses_instance_.
func TestCantUnlockSomeoneElses(t *testing.T) {
	in, l := lock(t, fixture(), upd1)
	got, ok := unlock(t, in, Lock{Updater: upd2, Gen: l.Gen})
	if ok || got != in {
		t.Fatal("saga2 released saga1's lock")
	}
	checkLocked(t, "still saga1's", got, upd1, 2)
	in, ok = unlock(t, in, l)
	if !ok {
		t.Fatal("proper unlock released nothing")
	}
	checkLocked(t, "released", in, UpdaterID{}, 3)
	if got, ok := unlock(t, in, Lock{Updater: upd1, Gen: gen(3)}); ok || got != in {
		t.Fatal("unlocking an unlocked instance released something")
	}
}

// TestUnlockAtAnotherGeneration: the same updater holding the lock at a
// different generation is an internal error (§9), not a release.
func TestUnlockAtAnotherGeneration(t *testing.T) {
	in, _ := lock(t, fixture(), upd1)
	got, ok, err := in.Unlock(Lock{Updater: upd1, Gen: gen(7)})
	checkConflict(t, "wrong generation", err, ErrNotLocked, 500, "instance is locked by this saga, but at a different generation")
	if ok || got != in {
		t.Fatal("a refused unlock changed the instance")
	}
}

// TestInheritLock: §9's inherit — the child holds the lock at the parent's
// generation+1; inheriting again is a no-op; a parent that no longer holds
// it is refused.
func TestInheritLock(t *testing.T) {
	in, parent := lock(t, fixture(), upd1)
	child, l, err := in.InheritLock(parent, upd2)
	if err != nil || l != (Lock{Updater: upd2, Gen: gen(3)}) {
		t.Fatalf("inherit: %+v, %v", l, err)
	}
	checkLocked(t, "child holds it", child, upd2, 3)
	again, l2, err := child.InheritLock(parent, upd2)
	if err != nil || l2 != l || again != child {
		t.Fatalf("inheriting again: %+v, %v", l2, err)
	}
	_, _, err = child.InheritLock(parent, upd3)
	checkConflict(t, "stale parent", err, ErrAlreadyLocked, 409, "")
	_, _, err = fixture().InheritLock(parent, upd2)
	checkConflict(t, "parent never held it", err, ErrAlreadyLocked, 409, "")
	_, _, err = in.InheritLock(parent, UpdaterID{})
	checkRuleErr(t, "nil child", err, "", "updater_id")
	top := in
	top.UpdaterGen = maxGen()
	_, _, err = top.InheritLock(Lock{Updater: upd1, Gen: maxGen()}, upd2)
	checkRuleErr(t, "inherit at max generation", err, "", "updater_gen")
}

// TestLockBadInput: a nil updater and the largest updater generation.
func TestLockBadInput(t *testing.T) {
	_, _, err := fixture().Lock(UpdaterID{})
	checkRuleErr(t, "nil updater", err, "", "updater_id")
	top := fixture()
	top.UpdaterGen = maxGen()
	got, _, err := top.Lock(upd1)
	checkRuleErr(t, "lock at max generation", err, "", "updater_gen")
	if got != top {
		t.Fatal("a refused lock changed the instance")
	}
	held, l := lock(t, fixture(), upd1)
	held.UpdaterGen, l.Gen = maxGen(), maxGen()
	_, _, err = held.Unlock(l)
	checkRuleErr(t, "unlock at max generation", err, "", "updater_gen")
}

// plan2 is the commit of test_instance_commit_update_is_idempotent: the
// instance moves to vmm on VMM active, at generation 2.
func plan2(active vmmstate.ID) Plan {
	return Plan{Runtime: Runtime{State: NexusVMM, Generation: gen(2), TimeUpdated: t1, ActiveVMM: active}}
}

// TestCommitIsIdempotent replays test_instance_commit_update_is_idempotent.
func TestCommitIsIdempotent(t *testing.T) {
	in, l := lock(t, fixture(), upd1)
	in, ok, err := in.Commit(l, plan2(vmmA))
	if err != nil || !ok {
		t.Fatalf("commit: %v, %v", ok, err)
	}
	if in.Runtime != plan2(vmmA).Runtime {
		t.Fatalf("committed runtime %+v", in.Runtime)
	}
	checkLocked(t, "commit releases the lock", in, UpdaterID{}, 3)
	again, ok, err := in.Commit(l, plan2(vmmA))
	if err != nil || ok || again != in {
		t.Fatalf("committing again: %v, %v, changed %v; want false", ok, err, again != in)
	}
	other := plan2(vmmB)
	other.Runtime.TargetVMM, other.Runtime.MigrationID = vmmC, migM
	again, ok, err = in.Commit(l, other)
	if err != nil || ok || again != in {
		t.Fatalf("committing other ids at the same generation: %v, %v", ok, err)
	}
	if again.Runtime.ActiveVMM != vmmA || !again.Runtime.TargetVMM.IsZero() || !again.Runtime.MigrationID.IsZero() || again.Runtime.Generation != gen(2) {
		t.Fatalf("the row changed: %+v", again.Runtime)
	}
}

// TestCommitWritesIntent: a plan's intent is written with its runtime
// (§13.4); no intent leaves the stored one.
func TestCommitWritesIntent(t *testing.T) {
	for _, intent := range append([]IntendedState{0}, AllIntendedStates()...) {
		in, l := lock(t, fixture(), upd1)
		p := plan2(vmmA)
		p.Intent = intent
		got, ok, err := in.Commit(l, p)
		want := IntendStopped
		if intent != 0 {
			want = intent
		}
		if err != nil || !ok || got.IntendedState != want {
			t.Errorf("intent %v: %v %v, stored %v, want %v", intent, ok, err, got.IntendedState, want)
		}
	}
}

// TestUpdateInvalidatedWhileLocked replays
// test_instance_update_invalidated_while_locked: a guarded runtime write
// lands while the lock is held; the commit at the same generation is a
// conflict and the row keeps what that write put there.
func TestUpdateInvalidatedWhileLocked(t *testing.T) {
	in, l := lock(t, fixture(), upd1)
	in.Runtime = Runtime{State: NexusVMM, Generation: gen(2), TimeUpdated: t1, ActiveVMM: vmmA, TargetVMM: vmmB, MigrationID: migM}
	p := Plan{Runtime: Runtime{State: NexusNoVMM, Generation: gen(2), TimeUpdated: t2}}
	got, ok, err := in.Commit(l, p)
	checkConflict(t, "commit over a newer write", err, ErrStaleGeneration, 409, "instance state has changed")
	if ok || got != in {
		t.Fatal("the refused commit changed the instance")
	}
}

// TestCommitNotLocked: a newer plan committed without holding the lock is
// an internal error (§9: "not locked" or "locked by another saga").
func TestCommitNotLocked(t *testing.T) {
	for name, in := range map[string]Instance{
		"unlocked":            fixture(),
		"locked by another":   func() Instance { in, _ := lock(t, fixture(), upd2); return in }(),
		"held at another gen": func() Instance { in, _ := lock(t, fixture(), upd1); in.UpdaterGen = gen(9); return in }(),
	} {
		got, ok, err := in.Commit(Lock{Updater: upd1, Gen: gen(2)}, plan2(vmmA))
		checkConflict(t, name, err, ErrNotLocked, 500, "")
		if ok || got != in {
			t.Errorf("%s: the refused commit changed the instance", name)
		}
	}
	held, l := lock(t, fixture(), upd1)
	held.UpdaterGen, l.Gen = maxGen(), maxGen()
	_, _, err := held.Commit(l, plan2(vmmA))
	checkRuleErr(t, "commit at max updater generation", err, "", "updater_gen")
}

// TestLockAndPlanRoundTrip is §13.2 end to end: lock, plan, commit (which
// releases), then the next plan finds nothing and Next no longer waits on
// the lock.
func TestLockAndPlanRoundTrip(t *testing.T) {
	s := snap().vmm(vmmstate.Destroyed).valid(t)
	in, l := lock(t, s.Instance, upd1)
	s.Instance = in
	if n, _ := Next(s, t1); n.Action != NextNone {
		t.Fatalf("Next while locked = %v, want none", n.Action)
	}
	p, ok, err := PlanUpdate(s, t1)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	committed, ok, err := s.Instance.Commit(l, p)
	if err != nil || !ok || committed.IsLocked() || committed.IntendedState != IntendGuestShutdown {
		t.Fatalf("commit: %v %v %+v", ok, err, committed)
	}
	after, err := s.Apply(p)
	if err != nil {
		t.Fatal(err)
	}
	after.Instance = committed
	if _, ok, _ := PlanUpdate(after, t2); ok {
		t.Fatal("a plan is still needed after the commit")
	}
}

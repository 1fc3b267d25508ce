package sagas_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// failCall makes the agent answer call c with o.
func (f *fixture) failCall(c memsled.Call, o failure.Outcome) {
	f.w.Agent.Fail = func(got memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if got == c {
			return &o
		}
		return nil
	}
}

func (f *fixture) instance() instancestate.Instance {
	f.t.Helper()
	s, err := f.st.InstanceFetchAll(f.ctx, instID)
	f.must(err)
	return s.Instance
}

// TestStartFailures: why a start failed is what its record says (D13),
// and a sled-agent's answer means what D18 says it means.
func TestStartFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   func(f *fixture)
		cause   failure.Cause
		vmm     vmmstate.State // the new VMM's state after the unwind
		outcome sagas.Outcome
	}{
		{"no room", func(f *fixture) { f.w.Sleds = memsled.NewSleds(0, sledA); f.w.Env.Sleds = f.w.Sleds },
			failure.CauseInsufficientCapacity, 0, sagas.Unwound},
		{"register 500", func(f *fixture) { f.failCall(memsled.CallRegister, failure.Outcome{Status: 500}) },
			failure.CauseSledAgentError, vmmstate.SagaUnwound, sagas.Unwound},
		{"register timeout", func(f *fixture) {
			f.failCall(memsled.CallRegister, failure.Outcome{Communication: failure.CommTimeout})
		}, failure.CauseSledAgentError, vmmstate.SagaUnwound, sagas.Unwound},
		// §11: registration's "no such instance" is the start's vmm_gone;
		// it proves nothing about a VMM still creating, never registered
		// (D18: MarkFailed leaves it), so the unwind marks it unwound.
		{"register gone", func(f *fixture) {
			f.failCall(memsled.CallRegister, failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance})
		}, failure.CauseVMMGone, vmmstate.SagaUnwound, sagas.Unwound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.stopped()
			tc.fault(f)
			s := &sagas.Start{Instance: instID, Reason: failure.StartReasonAutoRestart}
			r := f.run(s, sagas.Options{})
			if r.Outcome != tc.outcome {
				t.Fatalf("outcome %+v", r)
			}
			in := f.instance()
			if in.StartFailure.Cause != tc.cause || in.StartFailure.Reason != failure.StartReasonAutoRestart || !s.Recorded {
				t.Errorf("recorded %+v (recorded %v), want cause %v", in.StartFailure, s.Recorded, tc.cause)
			}
			if in.Runtime.State != instancestate.NexusNoVMM || !in.Runtime.ActiveVMM.IsZero() {
				t.Errorf("instance %+v", in.Runtime)
			}
			row, err := f.st.VMMFetch(f.ctx, s.VMM)
			switch {
			case tc.vmm == 0 && !errors.Is(err, datastore.ErrNotFound):
				t.Errorf("a VMM was inserted: %+v %v", row, err)
			case tc.vmm != 0 && (err != nil || row.VMM.Runtime.State != tc.vmm):
				t.Errorf("VMM %+v, %v; want %v", row.VMM.Runtime, err, tc.vmm)
			}
		})
	}
}

// TestStartAfterAFailureClearsIt: D13, a start that succeeds clears the
// recorded failure.
func TestStartAfterAFailureClearsIt(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	f.failCall(memsled.CallRegister, failure.Outcome{Status: 500})
	f.run(&sagas.Start{Instance: instID, Reason: failure.StartReasonUser}, sagas.Options{})
	if f.instance().StartFailure.Cause == 0 {
		t.Fatal("no failure recorded")
	}
	f.w.Agent.Fail = nil
	if r := f.run(&sagas.Start{Instance: instID, Reason: failure.StartReasonUser}, sagas.Options{}); r.Outcome != sagas.Completed {
		t.Fatalf("%+v", r)
	}
	if sf := f.instance().StartFailure; sf.Cause != 0 {
		t.Errorf("still recorded: %+v", sf)
	}
}

// TestStartConflictIsNoFailure: a start that finds another start's VMM
// active unwinds with §14's 409 and records nothing.
func TestStartConflictIsNoFailure(t *testing.T) {
	f := newFixture(t)
	f.running()
	s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
	r := f.run(s, sagas.Options{})
	if r.Outcome != sagas.Unwound || !errors.Is(r.Err, datastore.ErrConflict) || !s.Conflict {
		t.Fatalf("%+v, conflict %v", r, s.Conflict)
	}
	in := f.instance()
	if in.StartFailure.Cause != 0 || in.Runtime.ActiveVMM != srcID {
		t.Errorf("instance %+v, failure %+v", in.Runtime, in.StartFailure)
	}
}

// TestUnregisterGoneStopsTheUnwind: §14, a VMM the sled-agent proves gone
// at unregister is marked failed, an update saga is asked for, and the
// unwind stops there.
func TestUnregisterGoneStopsTheUnwind(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	f.failCall(memsled.CallUnregister, failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance})
	s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
	r := f.run(s, sagas.Options{FailAt: sagas.StepClearStartFailure})
	if r.Outcome != sagas.Stuck || len(r.Undone) != 1 || r.Undone[0] != sagas.StepRegister {
		t.Fatalf("%+v", r)
	}
	row, err := f.st.VMMFetch(f.ctx, s.VMM)
	f.must(err)
	if row.VMM.Runtime.State != vmmstate.Failed(failure.NoSuchInstance) {
		t.Errorf("VMM %v", row.VMM.Runtime.State)
	}
	if len(f.w.Update) == 0 || f.w.Update[len(f.w.Update)-1] != instID {
		t.Errorf("no update saga asked for: %v", f.w.Update)
	}
	// What the stuck saga left, the fleet queries find: the update plan
	// unlinks the failed VMM.
	u := &sagas.Update{Instance: instID}
	if r := f.run(u, sagas.Options{}); r.Outcome != sagas.Completed || !u.Committed {
		t.Fatalf("update: %+v", r)
	}
	if in := f.instance(); !in.Runtime.ActiveVMM.IsZero() {
		t.Errorf("still linked: %+v", in.Runtime)
	}
}

// TestUnregisterOtherErrorIsUnregistered: §14, another sled-agent error at
// unregister is taken as "already unregistered": the unwind goes on.
func TestUnregisterOtherErrorIsUnregistered(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	f.failCall(memsled.CallUnregister, failure.Outcome{Status: 503})
	r := f.run(&sagas.Start{Instance: instID, Reason: failure.StartReasonUser}, sagas.Options{FailAt: sagas.StepClearStartFailure})
	if r.Outcome != sagas.Unwound {
		t.Fatalf("%+v", r)
	}
}

// TestUpdateLockedEndsIt: an update saga that finds the lock held ends,
// doing nothing (§13.2), and the holder's commit is not disturbed.
func TestUpdateLockedEndsIt(t *testing.T) {
	f := newFixture(t)
	f.running()
	f.report(srcID, vmmstate.SledAgentDestroyed, 3)
	holder := instancestate.UpdaterIDFromUUID(id('u', 9))
	l, err := f.st.InstanceUpdaterLock(f.ctx, instID, holder)
	f.must(err)
	r := f.run(&sagas.Update{Instance: instID}, sagas.Options{})
	if r.Outcome != sagas.Completed || r.Ended != sagas.EndedLocked {
		t.Fatalf("%+v", r)
	}
	if in := f.instance(); in.UpdaterID != holder || in.UpdaterGen != l.Gen {
		t.Errorf("lock %v@%v, want %v", in.UpdaterID, in.UpdaterGen, l)
	}
}

// TestUpdateThenRestart: §13.4, an update that leaves an instance failed
// under best_effort says a restart comes next (D15: after the cooldown).
func TestUpdateThenRestart(t *testing.T) {
	f := newFixture(t)
	f.running()
	_, err := f.st.VMMMarkFailed(f.ctx, srcID, failure.SledExpunged, f.now)
	f.must(err)
	u := &sagas.Update{Instance: instID}
	f.run(u, sagas.Options{})
	if !u.Committed || u.Then != sagas.ThenRestart || f.instance().Runtime.State != instancestate.NexusFailed {
		t.Fatalf("committed %v, then %v, instance %+v", u.Committed, u.Then, f.instance().Runtime)
	}
}

// TestUpdateNothing: no work, the saga unlocks and ends.
func TestUpdateNothing(t *testing.T) {
	f := newFixture(t)
	f.running()
	u := &sagas.Update{Instance: instID}
	r := f.run(u, sagas.Options{})
	if r.Ended != sagas.EndedNothing || u.Committed || !f.instance().UpdaterID.IsZero() || u.Then != sagas.ThenNothing {
		t.Fatalf("%+v %+v", r, u)
	}
}

// TestMigrateTargetRefused: a destination sled-agent error unwinds the
// migration without touching the active VMM (§15).
func TestMigrateTargetRefused(t *testing.T) {
	f := newFixture(t)
	f.running()
	f.failCall(memsled.CallMigrate, failure.Outcome{Status: 500})
	m := &sagas.Migrate{Instance: instID, Source: srcID, Destination: sledB}
	r := f.run(m, sagas.Options{})
	if r.Outcome != sagas.Unwound {
		t.Fatalf("%+v", r)
	}
	in := f.instance()
	if in.Runtime.ActiveVMM != srcID || in.Runtime.MigrationID != m.Migration {
		t.Errorf("instance %+v", in.Runtime)
	}
	// The update saga clears the leftovers (D11).
	u := &sagas.Update{Instance: instID}
	f.run(u, sagas.Options{})
	if in := f.instance(); !u.Committed || !in.Runtime.MigrationID.IsZero() || !in.Runtime.TargetVMM.IsZero() || in.Runtime.ActiveVMM != srcID {
		t.Errorf("after the update: %+v", in.Runtime)
	}
}

// TestDeleteRefused: deleting an instance with a VMM is refused (§8.1) and
// the saga unwinds.
func TestDeleteRefused(t *testing.T) {
	f := newFixture(t)
	f.running()
	r := f.run(&sagas.Delete{Instance: instID}, sagas.Options{})
	if r.Outcome != sagas.Unwound || !errors.Is(r.Err, datastore.ErrInvalidRequest) {
		t.Fatalf("%+v", r)
	}
}

// TestRunRefusesBadOptions: a step the saga does not have, or an Env
// missing a part, is the caller's error, with nothing run.
func TestRunRefusesBadOptions(t *testing.T) {
	f := newFixture(t)
	if _, err := sagas.Run(f.ctx, f.w.Env, &sagas.Delete{Instance: instID}, sagas.Options{FailAt: "nope"}); err == nil {
		t.Error("unknown fail_at accepted")
	}
	for _, env := range []*sagas.Env{nil, {}, {Store: f.st}} {
		if _, err := sagas.Run(context.Background(), env, &sagas.Delete{Instance: instID}, sagas.Options{}); err == nil {
			t.Errorf("Env %+v accepted", env)
		}
	}
}

// startTo runs a start saga's steps up to and including step, and returns
// its executor.
func (f *fixture) startTo(s *sagas.Start, step string) *sagas.Exec {
	f.t.Helper()
	x := sagas.NewExec(f.w.Env, s)
	for !x.Done() {
		name, _ := x.NextNode()
		x.Next(f.ctx)
		if name == step {
			return x
		}
	}
	f.t.Fatalf("no step %s", step)
	return nil
}

// TestStartUndoFindsTheInstanceMovedOn: §14, the mark-as-starting undo
// writes under the generation guard; an instance that moved on keeps its
// VMM (which the unwind marks saga_unwound, D11), and no start failure is
// recorded when the user has since stopped it (D13).
func TestStartUndoFindsTheInstanceMovedOn(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
	x := f.startTo(s, sagas.StepRegister)
	// The instance moves on: a runtime at the next generation, and the
	// user's stop.
	in := f.instance()
	rt := in.Runtime
	g, err := rt.Generation.Next()
	f.must(err)
	rt.Generation = g
	if r, err := f.st.InstanceUpdateRuntime(f.ctx, instID, rt, instancestate.IntendStopped); err != nil || !r.Applied {
		t.Fatal(r, err)
	}
	x.Fail(f.ctx)
	for !x.Done() {
		x.Next(f.ctx)
	}
	if x.Outcome() != sagas.Unwound || !s.UnwindSkipped || s.Recorded {
		t.Fatalf("outcome %v, skipped %v, recorded %v", x.Outcome(), s.UnwindSkipped, s.Recorded)
	}
	in = f.instance()
	if in.Runtime.ActiveVMM != s.VMM || in.StartFailure.Cause != 0 {
		t.Errorf("instance %+v, failure %+v", in.Runtime, in.StartFailure)
	}
}

// TestStartUndoReplayedIsNoSkip: the undo run again finds its own write,
// which is not the instance moving on.
func TestStartUndoReplayedIsNoSkip(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
	x := f.startTo(s, sagas.StepMarkAsStarting)
	x.Fail(f.ctx) // at ensure_registered
	x.Next(f.ctx) // undo mark_as_starting
	if err := x.Again(f.ctx); err != nil || s.UnwindSkipped {
		t.Fatalf("again: %v, skipped %v", err, s.UnwindSkipped)
	}
}

// TestUnclassifiableAnswerIsInternal: a sled-agent answer failure cannot
// classify is the start's internal cause, never proof of death (D18).
func TestUnclassifiableAnswerIsInternal(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	f.failCall(memsled.CallRegister, failure.Outcome{Status: 200})
	s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
	f.run(s, sagas.Options{})
	if s.Cause != failure.CauseInternal {
		t.Errorf("cause %v", s.Cause)
	}
}

func TestAgentErrorSays(t *testing.T) {
	for o, want := range map[failure.Outcome]string{
		{Status: 500}: "sled-agent: 500",
		{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}: "sled-agent: 404 NO_SUCH_INSTANCE",
		{Communication: failure.CommTimeout}:                      "sled-agent: no response (timeout)",
	} {
		if got := (&sagas.AgentError{Outcome: o}).Error(); got != want {
			t.Errorf("%+v: %q, want %q", o, got, want)
		}
	}
	if got := (&sagas.PlacementError{Cause: failure.CauseInsufficientCapacity}).Error(); got != "no sled has room: insufficient_capacity" {
		t.Error(got)
	}
}

// TestDeleteSaysWhoDeleted: the saga whose write deleted the instance says
// so, run again or not; a second saga finds it deleted already.
func TestDeleteSaysWhoDeleted(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	d := &sagas.Delete{Instance: instID}
	f.run(d, sagas.Options{Replay: true})
	again := &sagas.Delete{Instance: instID}
	r := f.run(again, sagas.Options{})
	if !d.Deleted || again.Deleted || r.Outcome != sagas.Completed {
		t.Errorf("first %v, second %v (%+v)", d.Deleted, again.Deleted, r)
	}
}

// TestUnregisterAfterTheMigrationWentAway: the target's last report names
// a migration deleted meanwhile (§8.2: gone); its own state is recorded
// all the same, so the unregister undo, run again, finds it halted.
func TestUnregisterAfterTheMigrationWentAway(t *testing.T) {
	f := newFixture(t)
	f.running()
	m := &sagas.Migrate{Instance: instID, Source: srcID, Destination: sledB}
	x := sagas.NewExec(f.w.Env, m)
	for name := ""; name != sagas.StepRegisterTarget; {
		name, _ = x.NextNode()
		x.Next(f.ctx)
	}
	if _, err := f.st.MigrationMarkDeleted(f.ctx, m.Migration, f.now); err != nil {
		t.Fatal(err)
	}
	x.Fail(f.ctx) // at migrate
	x.Next(f.ctx) // undo ensure_target_registered
	if err := x.Again(f.ctx); err != nil {
		t.Fatalf("the undo run again: %v", err)
	}
	row, err := f.st.VMMFetch(f.ctx, m.Target)
	f.must(err)
	if row.VMM.Runtime.State != vmmstate.Destroyed {
		t.Errorf("target %v", row.VMM.Runtime.State)
	}
	for !x.Done() {
		x.Next(f.ctx)
	}
	if x.Outcome() != sagas.Unwound {
		t.Errorf("%v: %v", x.Outcome(), x.Err())
	}
}

// TestUpdateChainsAndRestarts: §13.4 as Omicron's PR #9691 has it — an
// update that leaves the instance needing another update and qualifying
// for a restart says both, so that the restart is not lost behind the
// chained update. Here a report of the stale migration link the watcher
// left (D21) arrives while the saga runs: the instance failed under
// best_effort, and the link still has to be cleared.
func TestUpdateChainsAndRestarts(t *testing.T) {
	f := newFixture(t)
	f.running()
	_, err := f.st.VMMMarkFailed(f.ctx, srcID, failure.SledExpunged, f.now)
	f.must(err)
	u := &sagas.Update{Instance: instID}
	x := sagas.NewExec(f.w.Env, u)
	for !x.Done() {
		if name, _ := x.NextNode(); name == sagas.StepChain {
			// Between the commit and the chain step, a migration id is
			// written beside the failed instance (D21's row (a)).
			in := f.instance()
			m := migration.New(migration.IDFromUUID(id('m', 1)), instID, srcID, vmmstate.IDFromUUID(id('v', 9)), f.now)
			_, err := f.st.MigrationInsert(f.ctx, m)
			f.must(err)
			rt := in.Runtime
			rt.MigrationID, rt.Generation = m.ID, generation.Of(uint32(rt.Generation.Uint64())+1)
			_, err = f.st.InstanceUpdateRuntime(f.ctx, instID, rt, instancestate.IntentUnchanged)
			f.must(err)
		}
		x.Next(f.ctx)
	}
	if x.Outcome() != sagas.Completed || !u.Committed || u.Then != sagas.ThenUpdateAndRestart ||
		!u.Then.Has(sagas.ThenUpdate) || !u.Then.Has(sagas.ThenRestart) {
		t.Fatalf("outcome %v, committed %v, then %v; want update_and_restart", x.Outcome(), u.Committed, u.Then)
	}
	if u.Then.String() != "update_and_restart" || sagas.ThenRestart.Has(sagas.ThenUpdate) || sagas.ThenNothing.Has(sagas.ThenNothing) {
		t.Fatalf("Then: %q, restart has update %v", u.Then, sagas.ThenRestart.Has(sagas.ThenUpdate))
	}
}

// TestStartOfADeletedInstanceIsNoFailure: an instance deleted before the
// start could mark it is §14's refusal too (not found, taken as the 409):
// the saga unwinds as a conflict, with no cause of its own.
func TestStartOfADeletedInstanceIsNoFailure(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
	x := f.startTo(s, sagas.StepCreateVMM)
	if _, err := f.st.InstanceDelete(f.ctx, instID, f.now); err != nil {
		t.Fatal(err)
	}
	for !x.Done() {
		x.Next(f.ctx)
	}
	if x.Outcome() != sagas.Unwound || !errors.Is(x.Err(), datastore.ErrNotFound) || !s.Conflict || s.Cause != 0 || s.Recorded {
		t.Errorf("outcome %v (%v), conflict %v, cause %v, recorded %v; want unwound as a conflict, no cause", x.Outcome(), x.Err(), s.Conflict, s.Cause, s.Recorded)
	}
}

// TestStartFailureNotRecordedWhenNoLongerNeeded: D13, the unwind records
// why the start failed only while a start is what the instance needs — not
// once the user stopped it, nor once another start won.
func TestStartFailureNotRecordedWhenNoLongerNeeded(t *testing.T) {
	for _, tc := range []struct {
		name string
		// meanwhile changes the instance while the saga has run its first
		// step.
		meanwhile func(f *fixture)
	}{
		{"the user stopped it", func(f *fixture) {
			in := f.instance()
			rt := in.Runtime
			g, err := rt.Generation.Next()
			f.must(err)
			rt.Generation = g
			if r, err := f.st.InstanceUpdateRuntime(f.ctx, instID, rt, instancestate.IntendStopped); err != nil || !r.Applied {
				f.t.Fatal(r, err)
			}
		}},
		{"another start won", func(f *fixture) {
			if r := f.run(&sagas.Start{Instance: instID, Reason: failure.StartReasonUser}, sagas.Options{}); r.Outcome != sagas.Completed {
				f.t.Fatalf("the other start: %+v", r)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.stopped()
			s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
			x := f.startTo(s, sagas.StepChooseVMMID)
			tc.meanwhile(f)
			before := f.instance()
			x.Fail(f.ctx) // at alloc_server
			for !x.Done() {
				x.Next(f.ctx)
			}
			if x.Outcome() != sagas.Unwound || s.Recorded || s.Conflict {
				t.Errorf("outcome %v (%v), recorded %v, conflict %v; want unwound, nothing recorded", x.Outcome(), x.Err(), s.Recorded, s.Conflict)
			}
			if d := cmp.Diff(before, f.instance(), allFields); d != "" {
				t.Errorf("the unwind changed the instance (-before +after):\n%s", d)
			}
		})
	}
}

// TestRegisterGoneAndTheMarkFails: §11, registration's proof of death
// fails the VMM; when that write fails, the saga's error carries both the
// sled-agent's answer and the store's, and the start is still vmm_gone.
func TestRegisterGoneAndTheMarkFails(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	f.failCall(memsled.CallRegister, failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance})
	f.w.Env.Store = &faultyStore{Store: f.st, failOp: "vmm_mark_failed"}
	s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
	r := f.run(s, sagas.Options{})
	var ae *sagas.AgentError
	if r.Outcome != sagas.Unwound || !errors.Is(r.Err, errStore) || !errors.As(r.Err, &ae) || s.Cause != failure.CauseVMMGone {
		t.Errorf("%+v, cause %v; want unwound with both errors, vmm_gone", r, s.Cause)
	}
}

// unlockAnswers is a store whose updater unlock answers err.
type unlockAnswers struct {
	datastore.Store
	err error
}

func (s unlockAnswers) InstanceUpdaterUnlock(context.Context, instancestate.ID, instancestate.Lock) (datastore.Result, error) {
	return datastore.Result{}, s.err
}

// TestUpdateUnlockFindsNothingToRelease: an update saga's unlock that
// finds the instance gone or the lock no longer this saga's has nothing
// to release, and the unwind goes on; any other refusal stops it.
func TestUpdateUnlockFindsNothingToRelease(t *testing.T) {
	for _, tc := range []struct {
		answer  error
		outcome sagas.Outcome
	}{
		{datastore.ErrNotFound, sagas.Unwound},
		{datastore.ErrNotLocked, sagas.Unwound},
		{errStore, sagas.Stuck},
	} {
		f := newFixture(t)
		f.running()
		f.report(srcID, vmmstate.SledAgentDestroyed, 3)
		f.w.Env.Store = unlockAnswers{Store: f.st, err: tc.answer}
		r := f.run(&sagas.Update{Instance: instID}, sagas.Options{FailAt: sagas.StepPlan})
		if r.Outcome != tc.outcome || tc.outcome == sagas.Stuck && !errors.Is(r.Err, errStore) {
			t.Errorf("unlock answering %v: %+v; want %v", tc.answer, r, tc.outcome)
		}
	}
}

// TestDestroyVMMsRunAgain: destroy_vmms run again after its first run
// marked the VMM deleted and died before releasing its room (a node whose
// completion was not recorded runs again) releases the room.
func TestDestroyVMMsRunAgain(t *testing.T) {
	f := newFixture(t)
	f.running()
	f.report(srcID, vmmstate.SledAgentDestroyed, 3)
	u := &sagas.Update{Instance: instID}
	x := sagas.NewExec(f.w.Env, u)
	for name := ""; name != sagas.StepCommit; {
		name, _ = x.NextNode()
		x.Next(f.ctx)
	}
	if r, err := f.st.VMMMarkDeleted(f.ctx, srcID, f.now); err != nil || !r.Applied {
		t.Fatal(r, err)
	}
	if name, _ := x.NextNode(); name != sagas.StepDestroyVMMs {
		t.Fatalf("next %s", name)
	}
	x.Next(f.ctx)
	if held := f.w.Sleds.Reserved(); len(held) != 0 || x.Err() != nil {
		t.Errorf("room held for %v, err %v; want none", held, x.Err())
	}
}

// TestFinishCreateLeavesAFinishedInstance: §16, finish_create on an
// instance no longer creating — its first run finished it — leaves it as
// it is, without a write: a store refusing every runtime write does not
// fail it.
func TestFinishCreateLeavesAFinishedInstance(t *testing.T) {
	f := newFixture(t)
	x := sagas.NewExec(f.w.Env, &sagas.Create{Instance: instancestate.New(instID, true, instancestate.AutoRestart{}, f.now)})
	for !x.Done() {
		x.Next(f.ctx)
	}
	before := f.instance()
	f.w.Env.Store = &faultyStore{Store: f.st, failOp: "instance_update_runtime"}
	if err := x.Again(f.ctx); err != nil || x.Outcome() != sagas.Completed {
		t.Fatalf("finish_create run again: %v (%v)", err, x.Outcome())
	}
	if d := cmp.Diff(before, f.instance(), allFields); d != "" {
		t.Errorf("changed (-before +after):\n%s", d)
	}
}

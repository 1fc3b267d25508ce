// Package storetest is the conformance suite of datastore.Store: every
// implementation runs it with one call, as raft's users run rafttest.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) datastore.Store { return open(t) })
//	}
//
// open must return an empty store for each call. The suite covers every
// guard of every operation (table-driven), Omicron's own datastore tests
// (§21.2, §21.3), the updater lock of §9, the fleet queries, a user's
// request (InstanceRequest) and package sagas' instance-update saga through
// the store, and concurrency: goroutines racing one guarded write — every guarded write of
// the interface — of which exactly one applies, no generation ever
// decreasing, and the end state that of a sequential replay. A rapid model test (Model)
// checks random sequences of operations against a plain sequential model,
// and another (ModelWithDeletes) that no sequence with deletes
// leaves an instance that cannot be read or repaired.
//
// Rules are cited by id: §… names a section of the reference behaviour
// (docs/reference.md in the repository), D… a decision where vmlife
// differs from it or goes further (docs/decisions.md).
package storetest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// Open returns an empty store for one test.
type Open func(t *testing.T) datastore.Store

// Run runs the whole suite against the stores open makes.
func Run(t *testing.T, open Open) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					if u, ok := r.(unexpectedErr); ok {
						t.Fatalf("unexpected error: %v", u.err)
					}
					panic(r)
				}
			}()
			c.run(&fixture{t: t, st: open(t), ctx: context.Background()})
		})
	}
}

// cases is the suite, one named case each.
var cases = []struct {
	name string
	run  func(*fixture)
}{
	{"D29/InsertIsIdempotentAndAnIDNamesOneRecord", testInsertIsIdempotent},
	{"InsertRefusesInvalidRows", testInsertRefusesInvalidRows},
	{"§8.3/MigrationInsertNeedsTimeCreated", testMigrationInsertNeedsTimeCreated},
	{"TimesAreMicroseconds", testTimesAreMicroseconds},
	{"D22/WritesKeepWhatTheyWereNotGiven", testWritesKeepWhatTheyWereNotGiven},
	{"D33/RestartFailuresKept", testRestartFailuresKept},
	{"FetchAllReadsDeletedRecordsAbsent", testFetchAllReadsDeletedAbsent},
	{"§21.2/UpdaterAcquiresLock", testUpdaterAcquiresLock},
	{"§21.2/UpdaterLockIsIdempotent", testUpdaterLockIsIdempotent},
	{"§21.2/LockingADeletedInstanceFails", testLockingDeletedFails},
	{"§21.2/CannotUnlockSomeoneElsesInstance", testCannotUnlockSomeoneElses},
	{"§21.2/DeletionIsIdempotent", testDeletionIsIdempotent},
	{"§21.2/UpdatingADeletedInstanceFails", testUpdatingDeletedFails},
	{"§21.2/UnlockingADeletedInstanceIsOkay", testUnlockingDeletedIsOkay},
	{"§21.2/CommitUpdateIsIdempotent", testCommitIsIdempotent},
	{"§21.2/UpdateInvalidatedWhileLocked", testUpdateInvalidatedWhileLocked},
	{"§21.2/FetchAll", testFetchAll},
	{"§21.2/SetMigrationIDs", testSetMigrationIDs},
	{"§21.2/ListBySled", testListBySled},
	{"§21.3/VMMAndMigrationUpdateRuntime", testVMMAndMigrationUpdateRuntime},
	{"§21.3/MigrationQueryByInstance", testMigrationQueryByInstance},
	{"§14/MarkAsStarting", testMarkAsStarting},
	{"D13/RecordStartFailure", testRecordStartFailure},
	{"§9/InheritLock", testInheritLock},
	{"§9/UnlockAtAnotherGeneration", testUnlockAtAnotherGeneration},
	{"§8.1/InstanceUpdateRuntimeGuards", testInstanceUpdateRuntimeGuards},
	{"§8.1/DeleteGuards", testDeleteGuards},
	{"§8.2/VMMUpdateRuntimeGuards", testVMMUpdateRuntimeGuards},
	{"§8.2/VMMMarks", testVMMMarks},
	{"§8.2/SledReportGuards", testSledReportGuards},
	{"§8.3/MigrationMarks", testMigrationMarks},
	{"§8.2/ListAbandoned", testListAbandoned},
	{"FindInstancesNeedingUpdate", testFindNeedingUpdate},
	{"FindReincarnatableInstances", testFindReincarnatable},
	{"FleetQueriesAreTheDecisions", testFleetQueriesAreTheDecisions},
	{"InstanceRequest", testInstanceRequest},
	{"§13/UpdateSaga", testUpdateSaga},
	{"Model", testModel},
	{"ModelWithDeletes/NoInstanceIsBricked", testNoInstanceIsBricked},
	{"Concurrency/OneOfManyGuardedWritesApplies", testRacingVMMWrites},
	{"Concurrency/OneLockHolder", testRacingLocks},
	{"Concurrency/UpdateSagasAndReports", testRacingSagasAndReports},
	{"Concurrency/EveryGuardedWriteAppliesOnce", testRacingGuardedWrites},
}

// fixture is one test's store and the records it builds.
type fixture struct {
	t   *testing.T
	st  datastore.Store
	ctx context.Context
	n   uint32 // ids made so far
}

// The time every record is written at; later steps add to it.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func gen(n uint32) generation.Generation { return generation.Of(n) }

// uid makes the next id of a kind: distinct, readable, stable per test.
func (f *fixture) uid(kind byte) uuid.UUID {
	f.n++
	var u uuid.UUID
	u[0] = kind
	binary.BigEndian.PutUint32(u[12:], f.n)
	u[6], u[8] = 0x40, 0x80
	return u
}

func (f *fixture) fatal(format string, args ...any) {
	f.t.Helper()
	f.t.Fatalf(format, args...)
}

// must returns v, or ends the test on an error: Run turns the panic of an
// unexpectedErr into t.Fatal, so a call reads must(f.st.Op(…)).
func must[T any](v T, err error) T {
	if err != nil {
		panic(unexpectedErr{err})
	}
	return v
}

// unexpectedErr is the panic must raises.
type unexpectedErr struct{ err error }

// wantKind asserts err is a refusal of kind.
func (f *fixture) wantKind(what string, err error, kind datastore.ErrorKind) {
	f.t.Helper()
	var e *datastore.Error
	if !errors.As(err, &e) || e.Kind != kind {
		f.t.Fatalf("%s: %v; want a %v refusal", what, err, kind)
	}
}

// wantResult asserts a write's answer.
func (f *fixture) wantResult(what string, got datastore.Result, err error, applied bool, reason datastore.Reason) {
	f.t.Helper()
	if err != nil || got.Applied != applied || got.Reason != reason {
		f.t.Fatalf("%s: %+v, %v; want applied %v, reason %q", what, got, err, applied, reason)
	}
}

// instance inserts an instance created not to start, at generation 1, as
// §21.2's fixture is: creating, intent stopped.
func (f *fixture) instance() instancestate.Instance {
	f.t.Helper()
	id := vmmstate.InstanceIDFromUUID(f.uid('i'))
	return must(f.st.InstanceInsert(f.ctx, instancestate.New(id, false, instancestate.AutoRestart{}, t0)))
}

// noVMM moves a fresh instance to no_vmm at generation 2, as §21.2's tests
// do first.
func (f *fixture) noVMM(in instancestate.Instance) instancestate.Instance {
	f.t.Helper()
	rt := in.Runtime
	rt.State, rt.Generation, rt.TimeUpdated = instancestate.NexusNoVMM, gen(2), at(1)
	f.expect("to no_vmm", true, 0)(f.st.InstanceUpdateRuntime(f.ctx, in.ID, rt, instancestate.IntentUnchanged))
	in.Runtime = rt
	return in
}

// expect returns a check of a write's answer, to call with the write:
// f.expect("what", true, 0)(f.st.Write(…)).
func (f *fixture) expect(what string, applied bool, reason datastore.Reason) func(datastore.Result, error) {
	return func(got datastore.Result, err error) {
		f.t.Helper()
		f.wantResult(what, got, err, applied, reason)
	}
}

// vmm inserts a VMM of instance on sled in state st at generation g.
func (f *fixture) vmm(in instancestate.ID, sled vmmstate.SledID, st vmmstate.State, g uint32) vmmstate.VMM {
	f.t.Helper()
	v := vmmstate.VMM{ID: vmmstate.IDFromUUID(f.uid('v')), InstanceID: in, SledID: sled,
		Runtime: vmmstate.Runtime{State: st, Generation: gen(g), TimeUpdated: t0}}
	return must(f.st.VMMInsert(f.ctx, v))
}

// migration inserts a migration of instance from src to dst, both sides
// pending.
func (f *fixture) migration(in instancestate.ID, src, dst vmmstate.ID) migration.Record {
	f.t.Helper()
	return must(f.st.MigrationInsert(f.ctx, migration.New(migration.IDFromUUID(f.uid('m')), in, src, dst, t0)))
}

func (f *fixture) sled() vmmstate.SledID { return vmmstate.SledIDFromUUID(f.uid('s')) }

func (f *fixture) updater() instancestate.UpdaterID {
	return instancestate.UpdaterIDFromUUID(f.uid('u'))
}

// link writes a runtime with vmm active (state vmm) at generation g.
func (f *fixture) link(in instancestate.Instance, vmm vmmstate.ID, g uint32) instancestate.Instance {
	f.t.Helper()
	rt := in.Runtime
	rt.State, rt.ActiveVMM, rt.Generation, rt.TimeUpdated = instancestate.NexusVMM, vmm, gen(g), at(int(g))
	res, err := f.st.InstanceUpdateRuntime(f.ctx, in.ID, rt, instancestate.IntentUnchanged)
	f.wantResult("link", res, err, true, 0)
	in.Runtime = rt
	return in
}

// running returns an instance running on a fresh VMM.
func (f *fixture) running() (instancestate.Instance, vmmstate.VMM) {
	f.t.Helper()
	in := f.noVMM(f.instance())
	v := f.vmm(in.ID, f.sled(), vmmstate.Running, 3)
	return f.link(in, v.ID, 3), v
}

func (f *fixture) fetch(id instancestate.ID) instancestate.Snapshot {
	f.t.Helper()
	return must(f.st.InstanceFetchAll(f.ctx, id))
}

func (f *fixture) lockedBy(id instancestate.ID) (instancestate.UpdaterID, generation.Generation) {
	f.t.Helper()
	s := f.fetch(id)
	return s.Instance.UpdaterID, s.Instance.UpdaterGen
}

// testInsertIsIdempotent: D29 — an identical retry of an insert answers
// the record as stored; a different record under a used id is a conflict,
// and the stored record is left as it was.
func testInsertIsIdempotent(f *fixture) {
	in := f.instance()
	if got := must(f.st.InstanceInsert(f.ctx, in)); got != in {
		f.fatal("a retry of the same instance returned %+v, want the stored %+v", got, in)
	}
	again := in
	again.IntendedState = instancestate.IntendRunning
	_, err := f.st.InstanceInsert(f.ctx, again)
	f.wantKind("another instance under a used id (D29)", err, datastore.KindConflict)
	if got := f.fetch(in.ID).Instance; got != in {
		f.fatal("a refused insert changed the stored instance: %+v", got)
	}

	v := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
	if got := must(f.st.VMMInsert(f.ctx, v)); got != v {
		f.fatal("a retry of the same VMM returned %+v", got)
	}
	// Another instance's VMM under the same id: the start saga that sent it
	// must not take the stored one for its own.
	other := v
	other.InstanceID = vmmstate.InstanceIDFromUUID(f.uid('i'))
	_, err = f.st.VMMInsert(f.ctx, other)
	f.wantKind("another instance's VMM under a used id (D29)", err, datastore.KindConflict)
	other = v
	other.Runtime.State = vmmstate.Running
	_, err = f.st.VMMInsert(f.ctx, other)
	f.wantKind("another state under a used VMM id (D29)", err, datastore.KindConflict)
	if got := must(f.st.VMMFetch(f.ctx, v.ID)); got.VMM != v || !got.TimeDeleted.IsZero() {
		f.fatal("a refused insert changed the stored VMM: %+v", got)
	}

	m := migration.New(migration.IDFromUUID(f.uid('m')), in.ID, v.ID, vmmstate.IDFromUUID(f.uid('v')), t0)
	must(f.st.MigrationInsert(f.ctx, m))
	if got := must(f.st.MigrationInsert(f.ctx, m)); got != m {
		f.fatal("a retry of the same migration returned %+v", got)
	}
	m2 := m
	m2.Source.State = migration.Failed
	_, err = f.st.MigrationInsert(f.ctx, m2)
	f.wantKind("another migration under a used id (D29)", err, datastore.KindConflict)
	if got := must(f.st.MigrationFetch(f.ctx, m.ID)).Migration; got != m {
		f.fatal("a refused insert changed the stored migration: %+v", got)
	}
}

func testInsertRefusesInvalidRows(f *fixture) {
	in := instancestate.New(vmmstate.InstanceIDFromUUID(f.uid('i')), true, instancestate.AutoRestart{}, t0)
	in.Runtime.State = instancestate.NexusVMM // no active VMM: breaks the CHECK (§5.2)
	_, err := f.st.InstanceInsert(f.ctx, in)
	f.wantKind("vmm without an active VMM", err, datastore.KindInvalidRequest)
	if _, err := f.st.InstanceFetchAll(f.ctx, in.ID); !errors.Is(err, datastore.ErrNotFound) {
		f.fatal("a refused insert wrote the row: %v", err)
	}
	_, err = f.st.VMMInsert(f.ctx, vmmstate.VMM{ID: vmmstate.IDFromUUID(f.uid('v'))})
	f.wantKind("VMM without instance, sled or state", err, datastore.KindInvalidRequest)
	v := vmmstate.IDFromUUID(f.uid('v'))
	_, err = f.st.MigrationInsert(f.ctx, migration.New(migration.IDFromUUID(f.uid('m')), in.ID, v, v, t0))
	f.wantKind("migration from a VMM to itself", err, datastore.KindInvalidRequest)
}

func testFetchAllReadsDeletedAbsent(f *fixture) {
	in, v := f.running()
	// A destroyed VMM the instance still links is not deleted (it would
	// read absent, and leave the instance naming a record it cannot read):
	// the update saga unlinks it, and deletes it after.
	f.expect("destroy", true, 0)(f.st.VMMUpdateRuntime(f.ctx, v.ID, vmmstate.Runtime{State: vmmstate.Destroyed, Generation: gen(4), TimeUpdated: at(4)}))
	f.expect("delete while linked", false, datastore.ReasonLinked)(f.st.VMMMarkDeleted(f.ctx, v.ID, at(5)))
	if s := f.fetch(in.ID); s.Active != must(f.st.VMMFetch(f.ctx, v.ID)).VMM || s.Validate() != nil {
		f.fatal("a refused delete left %+v", s)
	}
	if u, r := f.updateSaga(in.ID, at(6)); !u.Committed {
		f.fatal("update saga: %+v", r)
	}
	f.expect("delete once unlinked", false, datastore.ReasonDeleted)(f.st.VMMMarkDeleted(f.ctx, v.ID, at(7)))
	// A deleted record reads absent: the snapshot of an instance that no
	// longer links it does not carry it.
	if s := f.fetch(in.ID); s.HasActive() || !s.Instance.Runtime.ActiveVMM.IsZero() || s.Validate() != nil {
		f.fatal("after the unlink: %+v", s)
	}
	_, err := f.st.InstanceFetchAll(f.ctx, vmmstate.InstanceIDFromUUID(f.uid('i')))
	f.wantKind("no such instance", err, datastore.KindNotFound)

	// Nor does a runtime write link a record the instance could not read:
	// ids with no rows, a deleted record, another instance's.
	orphan := f.noVMM(f.instance())
	rt := orphan.Runtime
	rt.Generation, rt.MigrationID, rt.TargetVMM = gen(3), migration.IDFromUUID(f.uid('m')), f.vmmID()
	_, err = f.st.InstanceUpdateRuntime(f.ctx, orphan.ID, rt, instancestate.IntentUnchanged)
	f.wantKind("link ids with no rows", err, datastore.KindInvalidRequest)
	rt = orphan.Runtime
	rt.Generation, rt.State, rt.ActiveVMM = gen(3), instancestate.NexusVMM, f.vmm(in.ID, f.sled(), vmmstate.Creating, 1).ID
	_, err = f.st.InstanceUpdateRuntime(f.ctx, orphan.ID, rt, instancestate.IntentUnchanged)
	f.wantKind("link another instance's VMM", err, datastore.KindInvalidRequest)
	reaped := f.vmm(orphan.ID, f.sled(), vmmstate.Destroyed, 2)
	f.expect("reap an unlinked VMM", true, 0)(f.st.VMMMarkDeleted(f.ctx, reaped.ID, at(6)))
	rt.ActiveVMM = reaped.ID
	_, err = f.st.InstanceUpdateRuntime(f.ctx, orphan.ID, rt, instancestate.IntentUnchanged)
	f.wantKind("link a deleted VMM", err, datastore.KindInvalidRequest)
	if s := f.fetch(orphan.ID); s.Instance != orphan || s.Validate() != nil {
		f.fatal("refused links wrote: %+v", s.Instance)
	}
}

func testUpdaterAcquiresLock(f *fixture) {
	in := f.instance()
	s1, s2 := f.updater(), f.updater()
	l1 := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, s1))
	if l1.Updater != s1 {
		f.fatal("lock %+v", l1)
	}
	_, err := f.st.InstanceUpdaterLock(f.ctx, in.ID, s2)
	f.wantKind("saga 2 while saga 1 holds it", err, datastore.KindAlreadyLocked)
	f.expect("saga 1 unlocks", true, 0)(f.st.InstanceUpdaterUnlock(f.ctx, in.ID, l1))
	l2 := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, s2))
	_, err = f.st.InstanceUpdaterLock(f.ctx, in.ID, s1)
	f.wantKind("saga 1 while saga 2 holds it", err, datastore.KindAlreadyLocked)
	f.expect("saga 2 unlocks", true, 0)(f.st.InstanceUpdaterUnlock(f.ctx, in.ID, l2))
}

func testUpdaterLockIsIdempotent(f *fixture) {
	in := f.instance()
	s := f.updater()
	a := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, s))
	b := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, s))
	if a != b {
		f.fatal("re-lock moved the generation: %+v then %+v", a, b)
	}
	f.expect("first unlock", true, 0)(f.st.InstanceUpdaterUnlock(f.ctx, in.ID, a))
	f.expect("second unlock", false, datastore.ReasonUnchanged)(f.st.InstanceUpdaterUnlock(f.ctx, in.ID, a))
}

func testLockingDeletedFails(f *fixture) {
	in := f.noVMM(f.instance())
	s := f.updater()
	must(f.st.InstanceUpdaterLock(f.ctx, in.ID, s))
	f.expect("delete", true, 0)(f.st.InstanceDelete(f.ctx, in.ID, at(2)))
	_, err := f.st.InstanceUpdaterLock(f.ctx, in.ID, s)
	f.wantKind("lock after delete", err, datastore.KindNotFound)

	// Deleted while unlocked: the free lock of a deleted instance is not
	// taken either, by anyone.
	free := f.noVMM(f.instance())
	f.expect("delete", true, 0)(f.st.InstanceDelete(f.ctx, free.ID, at(2)))
	_, err = f.st.InstanceUpdaterLock(f.ctx, free.ID, f.updater())
	f.wantKind("lock of a deleted, unlocked instance", err, datastore.KindNotFound)
}

func testCannotUnlockSomeoneElses(f *fixture) {
	in := f.instance()
	s1, s2 := f.updater(), f.updater()
	l := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, s1))
	f.expect("unlock by another saga", false, datastore.ReasonUnchanged)(f.st.InstanceUpdaterUnlock(f.ctx, in.ID, instancestate.Lock{Updater: s2, Gen: l.Gen}))
	if u, g := f.lockedBy(in.ID); u != s1 || g != l.Gen {
		f.fatal("held by %v at %v after a foreign unlock", u, g)
	}
	f.expect("proper unlock", true, 0)(f.st.InstanceUpdaterUnlock(f.ctx, in.ID, l))
	next, _ := l.Gen.Next()
	if u, g := f.lockedBy(in.ID); !u.IsZero() || g != next {
		f.fatal("after unlock: held by %v at %v, want nobody at %v", u, g, next)
	}
	f.expect("unlock at the next generation", false, datastore.ReasonUnchanged)(f.st.InstanceUpdaterUnlock(f.ctx, in.ID, instancestate.Lock{Updater: s1, Gen: next}))
}

func testDeletionIsIdempotent(f *fixture) {
	in := f.noVMM(f.instance())
	f.expect("delete", true, 0)(f.st.InstanceDelete(f.ctx, in.ID, at(2)))
	f.expect("delete again", false, datastore.ReasonDeleted)(f.st.InstanceDelete(f.ctx, in.ID, at(3)))
	_, err := f.st.InstanceFetchAll(f.ctx, in.ID)
	f.wantKind("fetch a deleted instance", err, datastore.KindNotFound)
}

func testUpdatingDeletedFails(f *fixture) {
	in := f.noVMM(f.instance())
	l := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, f.updater()))
	f.expect("delete", true, 0)(f.st.InstanceDelete(f.ctx, in.ID, at(2)))
	_, err := f.st.InstanceSetIntendedState(f.ctx, in.ID, instancestate.IntendRunning)
	f.wantKind("set intent on a deleted instance", err, datastore.KindNotFound)
	_, err = f.st.InstanceUpdaterInheritLock(f.ctx, in.ID, l, f.updater())
	f.wantKind("inherit on a deleted instance", err, datastore.KindNotFound)
}

func testUnlockingDeletedIsOkay(f *fixture) {
	in := f.noVMM(f.instance())
	l := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, f.updater()))
	f.expect("delete", true, 0)(f.st.InstanceDelete(f.ctx, in.ID, at(2)))
	if _, err := f.st.InstanceUpdaterUnlock(f.ctx, in.ID, l); err != nil {
		f.fatal("unlock after delete: %v", err)
	}
}

// commitTo is a plan that moves the instance to vmm on VMM active at g.
func commitTo(in instancestate.Instance, active vmmstate.ID, g uint32) instancestate.Plan {
	rt := in.Runtime
	rt.State, rt.ActiveVMM, rt.Generation, rt.TimeUpdated = instancestate.NexusVMM, active, gen(g), at(int(g))
	return instancestate.Plan{Runtime: rt}
}

func testCommitIsIdempotent(f *fixture) {
	in := f.instance()
	l := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, f.updater()))
	v := f.vmm(in.ID, f.sled(), vmmstate.Running, 2)
	p := commitTo(in, v.ID, 2)
	f.expect("commit", true, 0)(f.st.InstanceCommitUpdate(f.ctx, in.ID, l, p))
	f.expect("commit again", false, datastore.ReasonStale)(f.st.InstanceCommitUpdate(f.ctx, in.ID, l, p))
	other := commitTo(in, f.vmm(in.ID, f.sled(), vmmstate.Running, 2).ID, 2)
	f.expect("another commit at generation 2", false, datastore.ReasonStale)(f.st.InstanceCommitUpdate(f.ctx, in.ID, l, other))
	if got := f.fetch(in.ID).Instance.Runtime; got != p.Runtime {
		f.fatal("row %+v, want the first commit's %+v", got, p.Runtime)
	}
	if u, _ := f.lockedBy(in.ID); !u.IsZero() {
		f.fatal("commit did not release the lock: held by %v", u)
	}
}

func testUpdateInvalidatedWhileLocked(f *fixture) {
	in := f.instance()
	l := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, f.updater()))
	v := f.vmm(in.ID, f.sled(), vmmstate.Running, 2)
	written := commitTo(in, v.ID, 2).Runtime
	f.expect("update runtime while locked", true, 0)(f.st.InstanceUpdateRuntime(f.ctx, in.ID, written, instancestate.IntentUnchanged))
	stale := in.Runtime
	stale.State, stale.Generation = instancestate.NexusNoVMM, gen(2)
	_, err := f.st.InstanceCommitUpdate(f.ctx, in.ID, l, instancestate.Plan{Runtime: stale})
	f.wantKind("commit after the state moved", err, datastore.KindConflict)
	if got := f.fetch(in.ID).Instance.Runtime; got != written {
		f.fatal("row %+v, want the runtime update's %+v", got, written)
	}
}

func testFetchAll(f *fixture) {
	in := f.instance()
	if s := f.fetch(in.ID); s.HasActive() || s.HasTarget() || s.HasMigration() || s.Instance != in {
		f.fatal("fresh instance: %+v", s)
	}
	in = f.noVMM(in)
	src := f.vmm(in.ID, f.sled(), vmmstate.Running, 2)
	in = f.link(in, src.ID, 3)
	if s := f.fetch(in.ID); s.Active != src || s.HasTarget() || s.HasMigration() {
		f.fatal("with an active VMM: %+v", s)
	}
	dst := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
	m := f.migration(in.ID, src.ID, dst.ID)
	after := must(f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: dst.ID, Now: at(4)}))
	s := f.fetch(in.ID)
	if s.Active != src || s.Target != dst || s.Migration != m || s.Instance != after {
		f.fatal("with a migration: %+v", s)
	}
}

func testSetMigrationIDs(f *fixture) {
	in := f.noVMM(f.instance())
	// Omicron's test starts from a stopped source and moves it to running;
	// no D7 edge leads back out of stopped, so vmlife's starts from
	// starting, which is as far from running or rebooting for §8.1.
	src := f.vmm(in.ID, f.sled(), vmmstate.Starting, 2)
	in = f.link(in, src.ID, 3)
	dst := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
	m := f.migration(in.ID, src.ID, dst.ID)
	_, err := f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: dst.ID, Now: at(4)})
	f.wantKind("source starting", err, datastore.KindConflict)
	f.expect("source running", true, 0)(f.st.VMMUpdateRuntime(f.ctx, src.ID, vmmstate.Runtime{State: vmmstate.Running, Generation: gen(3), TimeUpdated: at(4)}))
	linked := must(f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: dst.ID, Now: at(4)}))
	if linked.Runtime.MigrationID != m.ID || linked.Runtime.TargetVMM != dst.ID || linked.Runtime.Generation != gen(4) {
		f.fatal("linked %+v", linked.Runtime)
	}
	if again := must(f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: dst.ID, Now: at(5)})); again != linked {
		f.fatal("retry with the same ids changed the row (D5): %+v", again.Runtime)
	}
	dst2 := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
	m2 := f.migration(in.ID, src.ID, dst2.ID)
	_, err = f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m2.ID, Target: dst2.ID, Now: at(5)})
	f.wantKind("a new migration while one is linked", err, datastore.KindConflict)
	f.expect("old target unwound", true, 0)(f.st.VMMMarkSagaUnwound(f.ctx, dst.ID, at(5)))
	_, err = f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m2.ID, Target: dst2.ID, Now: at(5)})
	f.wantKind("old target unwound, migration not failed", err, datastore.KindConflict)
	f.expect("old migration failed", true, 0)(f.st.MigrationMarkFailed(f.ctx, m.ID, at(6)))
	// The leftovers are still linked, so no reaper deletes them (an
	// instance never names a record it cannot read); (c) replaces them.
	f.expect("old target deleted while linked", false, datastore.ReasonLinked)(f.st.VMMMarkDeleted(f.ctx, dst.ID, at(6)))
	f.expect("old migration deleted while linked", false, datastore.ReasonLinked)(f.st.MigrationMarkDeleted(f.ctx, m.ID, at(6)))
	clobbered := must(f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m2.ID, Target: dst2.ID, Now: at(6)}))
	if clobbered.Runtime.MigrationID != m2.ID || clobbered.Runtime.TargetVMM != dst2.ID {
		f.fatal("(c) did not replace the leftovers: %+v", clobbered.Runtime)
	}

	// Unset clears both ids only when both are the ones given (§8.1).
	f.expect("unset with another target", false, datastore.ReasonUnchanged)(f.st.InstanceUnsetMigrationIDs(f.ctx, in.ID, datastore.UnsetMigrationIDsArgs{Migration: m2.ID, Target: dst.ID, Now: at(7)}))
	f.expect("unset with another migration", false, datastore.ReasonUnchanged)(f.st.InstanceUnsetMigrationIDs(f.ctx, in.ID, datastore.UnsetMigrationIDsArgs{Migration: m.ID, Target: dst2.ID, Now: at(7)}))
	f.expect("unset", true, 0)(f.st.InstanceUnsetMigrationIDs(f.ctx, in.ID, datastore.UnsetMigrationIDsArgs{Migration: m2.ID, Target: dst2.ID, Now: at(7)}))
	if rt, next := f.fetch(in.ID).Instance.Runtime, must(clobbered.Runtime.Generation.Next()); !rt.MigrationID.IsZero() || !rt.TargetVMM.IsZero() || rt.Generation != next {
		f.fatal("after unset: %+v, want no ids at generation %v+1", rt, clobbered.Runtime.Generation)
	}
	f.expect("unset again", false, datastore.ReasonUnchanged)(f.st.InstanceUnsetMigrationIDs(f.ctx, in.ID, datastore.UnsetMigrationIDsArgs{Migration: m2.ID, Target: dst2.ID, Now: at(8)}))
}

func testListBySled(f *fixture) {
	sleds := []vmmstate.SledID{f.sled(), f.sled()}
	want := map[vmmstate.SledID][]vmmstate.ID{}
	for _, sl := range sleds {
		for range 6 {
			in := f.noVMM(f.instance())
			v := f.vmm(in.ID, sl, vmmstate.Running, 2)
			f.link(in, v.ID, 3)
			want[sl] = append(want[sl], v.ID)
		}
	}
	for range 6 {
		f.noVMM(f.instance()) // no VMM anywhere
	}
	// A VMM that no longer exists on its sled is not listed (§4.2).
	in := f.noVMM(f.instance())
	f.vmm(in.ID, sleds[0], vmmstate.Destroyed, 2)
	// Nor one already failed, or of a deleted instance, or of no instance
	// at all: the watcher has nothing to learn from them (§18).
	failed, fv := f.running()
	f.expect("fail", true, 0)(f.st.VMMMarkFailed(f.ctx, fv.ID, failure.SledOff, at(4)))
	if got := must(f.st.VMMListBySled(f.ctx, fv.SledID)); len(got) != 0 {
		f.fatal("a failed VMM of %v is listed: %v", failed.ID, got)
	}
	gone := f.noVMM(f.instance())
	f.vmm(gone.ID, sleds[0], vmmstate.Running, 2)
	f.expect("delete the instance", true, 0)(f.st.InstanceDelete(f.ctx, gone.ID, at(4)))
	f.vmm(vmmstate.InstanceIDFromUUID(f.uid('i')), sleds[0], vmmstate.Running, 2)
	// A migration's target is listed by the same rules as an active VMM:
	// while it may run, and not once it failed.
	migrating, src := f.running()
	target := f.vmm(migrating.ID, sleds[1], vmmstate.Migrating, 2)
	m := f.migration(migrating.ID, src.ID, target.ID)
	must(f.st.InstanceSetMigrationIDs(f.ctx, migrating.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: target.ID, Now: at(4)}))
	want[sleds[1]] = append(want[sleds[1]], target.ID)
	deadTarget := f.vmm(migrating.ID, sleds[1], vmmstate.Migrating, 2)
	f.expect("fail the other target", true, 0)(f.st.VMMMarkFailed(f.ctx, deadTarget.ID, failure.NoSuchInstance, at(4)))
	for _, sl := range sleds {
		got := must(f.st.VMMListBySled(f.ctx, sl))
		w := sortedVMMs(want[sl])
		if !slices.Equal(got, w) {
			f.fatal("sled %v: %v, want %v", sl, got, w)
		}
	}
}

func sortedVMMs(ids []vmmstate.ID) []vmmstate.ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b vmmstate.ID) int {
		ua, ub := a.UUID(), b.UUID()
		return slices.Compare(ua[:], ub[:])
	})
	return out
}

func sideReport(id migration.ID, st migration.State, g uint32, at time.Time) *migration.Report {
	return &migration.Report{MigrationID: id, State: st, Generation: gen(g), TimeUpdated: at}
}

func report(st vmmstate.SledAgentState, g uint32, at time.Time) instancestate.Report {
	return instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: st, Generation: gen(g), TimeUpdated: at}}
}

func testVMMAndMigrationUpdateRuntime(f *fixture) {
	in := f.noVMM(f.instance())
	v1 := f.vmm(in.ID, f.sled(), vmmstate.Running, 1)
	v2 := f.vmm(in.ID, f.sled(), vmmstate.Running, 1)
	m1 := f.migration(in.ID, v1.ID, v2.ID)

	r := report(vmmstate.SledAgentStopping, 2, at(1))
	r.MigrationOut = sideReport(m1.ID, migration.Completed, 2, at(1))
	res := must(f.st.SledReport(f.ctx, v1.ID, r))
	if !res.VMM.Applied || !res.MigrationOut.Applied || !res.UpdateSagaNeeded {
		f.fatal("vmm1 report: %+v", res)
	}
	r = report(vmmstate.SledAgentRunning, 1, at(1)) // unchanged: same generation
	r.MigrationIn = sideReport(m1.ID, migration.Completed, 2, at(1))
	res = must(f.st.SledReport(f.ctx, v2.ID, r))
	if res.VMM.Applied || res.VMM.Reason != datastore.ReasonStale || !res.MigrationIn.Applied {
		f.fatal("vmm2 report: %+v", res)
	}
	got := must(f.st.MigrationFetch(f.ctx, m1.ID)).Migration
	if got.Source.State != migration.Completed || got.Target.State != migration.Completed || got.Source.Generation != gen(2) || got.Target.Generation != gen(2) {
		f.fatal("migration 1: %v", got)
	}

	v3 := f.vmm(in.ID, f.sled(), vmmstate.Running, 1)
	m2 := f.migration(in.ID, v2.ID, v3.ID)
	r = report(vmmstate.SledAgentDestroyed, 2, at(2))
	r.MigrationIn = sideReport(m1.ID, migration.Completed, 2, at(1)) // not newer
	r.MigrationOut = sideReport(m2.ID, migration.Completed, 2, at(2))
	must(f.st.SledReport(f.ctx, v2.ID, r))
	r = report(vmmstate.SledAgentRunning, 2, at(2))
	r.MigrationIn = sideReport(m2.ID, migration.Failed, 2, at(2))
	must(f.st.SledReport(f.ctx, v3.ID, r))
	if again := must(f.st.MigrationFetch(f.ctx, m1.ID)).Migration; again != got {
		f.fatal("migration 1 changed: %v → %v", got, again)
	}
	got2 := must(f.st.MigrationFetch(f.ctx, m2.ID)).Migration
	if got2.Source.State != migration.Completed || got2.Target.State != migration.Failed || got2.Source.Generation != gen(2) || got2.Target.Generation != gen(2) {
		f.fatal("migration 2: %v", got2)
	}
}

func testMigrationQueryByInstance(f *fixture) {
	in := f.instance()
	var ids []migration.ID
	for range 3 {
		m := migration.New(migration.IDFromUUID(f.uid('m')), in.ID, vmmstate.IDFromUUID(f.uid('v')), vmmstate.IDFromUUID(f.uid('v')), t0)
		ids = append(ids, must(f.st.MigrationInsert(f.ctx, m)).ID)
	}
	if got := must(f.st.InstanceListMigrations(f.ctx, in.ID)); len(got) != 3 {
		f.fatal("listed %v", got)
	}
	f.expect("delete the third", true, 0)(f.st.MigrationMarkDeleted(f.ctx, ids[2], at(1)))
	if got := must(f.st.InstanceListMigrations(f.ctx, in.ID)); len(got) != 2 || slices.Contains(got, ids[2]) {
		f.fatal("after deleting one: %v", got)
	}
	// Another instance's migration is not this one's.
	other := f.instance()
	others := f.migration(other.ID, vmmstate.IDFromUUID(f.uid('v')), vmmstate.IDFromUUID(f.uid('v')))
	if got := must(f.st.InstanceListMigrations(f.ctx, in.ID)); len(got) != 2 || slices.Contains(got, ids[2]) {
		f.fatal("with another instance's migration: %v", got)
	}
	in = f.noVMM(in)
	f.expect("deleting the instance deletes its migrations", true, 0)(f.st.InstanceDelete(f.ctx, in.ID, at(2)))
	if got := must(f.st.InstanceListMigrations(f.ctx, in.ID)); len(got) != 0 {
		f.fatal("after deleting the instance: %v", got)
	}
	// Only its own: another instance's migration stays, and one deleted
	// before keeps the time it was deleted at.
	if got := must(f.st.InstanceListMigrations(f.ctx, other.ID)); !slices.Equal(got, []migration.ID{others.ID}) {
		f.fatal("deleting one instance touched another's migrations: %v", got)
	}
	if row := must(f.st.MigrationFetch(f.ctx, ids[2])); !row.TimeDeleted.Equal(at(1)) {
		f.fatal("a migration deleted at %v was deleted again at %v", at(1), row.TimeDeleted)
	}
}

func testInheritLock(f *fixture) {
	in := f.instance()
	parent := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, f.updater()))
	child := f.updater()
	l := must(f.st.InstanceUpdaterInheritLock(f.ctx, in.ID, parent, child))
	next, _ := parent.Gen.Next()
	if l != (instancestate.Lock{Updater: child, Gen: next}) {
		f.fatal("inherited %+v", l)
	}
	if again := must(f.st.InstanceUpdaterInheritLock(f.ctx, in.ID, parent, child)); again != l {
		f.fatal("inheriting again: %+v", again)
	}
	_, err := f.st.InstanceUpdaterInheritLock(f.ctx, in.ID, parent, f.updater())
	f.wantKind("a stale parent", err, datastore.KindAlreadyLocked)
}

func testUnlockAtAnotherGeneration(f *fixture) {
	in := f.instance()
	s := f.updater()
	l := must(f.st.InstanceUpdaterLock(f.ctx, in.ID, s))
	_, err := f.st.InstanceUpdaterUnlock(f.ctx, in.ID, instancestate.Lock{Updater: s, Gen: gen(99)})
	f.wantKind("held by this saga at another generation", err, datastore.KindInternal)
	if u, g := f.lockedBy(in.ID); u != s || g != l.Gen {
		f.fatal("a refused unlock changed the lock: %v at %v", u, g)
	}
}

func testInstanceUpdateRuntimeGuards(f *fixture) {
	in := f.noVMM(f.instance())
	rt := in.Runtime
	for _, c := range []struct {
		name    string
		g       uint32
		applied bool
		reason  datastore.Reason
	}{{"same generation", 2, false, datastore.ReasonStale}, {"older generation", 1, false, datastore.ReasonStale}, {"newer generation", 3, true, 0}} {
		w := rt
		w.Generation, w.TimeUpdated = gen(c.g), at(int(c.g))
		res, err := f.st.InstanceUpdateRuntime(f.ctx, in.ID, w, instancestate.IntentUnchanged)
		f.wantResult(c.name, res, err, c.applied, c.reason)
	}
	// The intent goes with the runtime, in the same write (D25).
	w := rt
	w.Generation = gen(4)
	f.expect("with intent", true, 0)(f.st.InstanceUpdateRuntime(f.ctx, in.ID, w, instancestate.IntendRunning))
	if got := f.fetch(in.ID).Instance.IntendedState; got != instancestate.IntendRunning {
		f.fatal("intent %v", got)
	}
	bad := w
	bad.Generation, bad.State = gen(5), instancestate.NexusVMM // no active VMM
	_, err := f.st.InstanceUpdateRuntime(f.ctx, in.ID, bad, instancestate.IntentUnchanged)
	f.wantKind("a runtime breaking the CHECK", err, datastore.KindInvalidRequest)
	f.expect("same intent", false, datastore.ReasonUnchanged)(f.st.InstanceSetIntendedState(f.ctx, in.ID, instancestate.IntendRunning))
	f.expect("new intent", true, 0)(f.st.InstanceSetIntendedState(f.ctx, in.ID, instancestate.IntendStopped))
	f.expect("delete", true, 0)(f.st.InstanceDelete(f.ctx, in.ID, at(9)))
	w.Generation = gen(9)
	f.expect("runtime of a deleted instance", false, datastore.ReasonDeleted)(f.st.InstanceUpdateRuntime(f.ctx, in.ID, w, instancestate.IntentUnchanged))
	_, err = f.st.InstanceUpdateRuntime(f.ctx, vmmstate.InstanceIDFromUUID(f.uid('i')), w, instancestate.IntentUnchanged)
	f.wantKind("no such instance", err, datastore.KindNotFound)
}

func testDeleteGuards(f *fixture) {
	in, _ := f.running()
	_, err := f.st.InstanceDelete(f.ctx, in.ID, at(9))
	f.wantKind("delete with an active VMM", err, datastore.KindInvalidRequest)
	fresh := f.instance()
	_, err = f.st.InstanceDelete(f.ctx, fresh.ID, at(9))
	f.wantKind("delete while creating", err, datastore.KindInvalidRequest)
	if s := f.fetch(in.ID); s.Instance.Runtime.State != instancestate.NexusVMM {
		f.fatal("a refused delete wrote: %+v", s.Instance.Runtime)
	}
}

func testVMMUpdateRuntimeGuards(f *fixture) {
	in := f.noVMM(f.instance())
	v := f.vmm(in.ID, f.sled(), vmmstate.Running, 5)
	for _, c := range []struct {
		name    string
		st      vmmstate.State
		g       uint32
		applied bool
		reason  datastore.Reason
		kind    datastore.ErrorKind
	}{
		{"stale", vmmstate.Stopping, 5, false, datastore.ReasonStale, 0},
		{"back to creating", vmmstate.Creating, 6, false, 0, datastore.KindIllegalTransition},
		{"forward", vmmstate.Stopping, 6, true, 0, 0},
		{"backward out of stopping", vmmstate.Running, 7, false, 0, datastore.KindIllegalTransition},
		{"failed", vmmstate.Failed(failure.FromSledAgent), 7, true, 0, 0},
		{"failed again, another reason (D6)", vmmstate.Failed(failure.SledOff), 8, false, datastore.ReasonUnchanged, 0},
		{"out of failed", vmmstate.Destroyed, 9, false, 0, datastore.KindTerminal},
	} {
		res, err := f.st.VMMUpdateRuntime(f.ctx, v.ID, vmmstate.Runtime{State: c.st, Generation: gen(c.g), TimeUpdated: at(int(c.g))})
		if c.kind != 0 {
			f.wantKind(c.name, err, c.kind)
			continue
		}
		f.wantResult(c.name, res, err, c.applied, c.reason)
	}
	got := must(f.st.VMMFetch(f.ctx, v.ID)).VMM.Runtime
	if got.State != vmmstate.Failed(failure.FromSledAgent) || got.Generation != gen(7) {
		f.fatal("row %v, want failed(from_sled_agent)@7", got)
	}
	_, err := f.st.VMMUpdateRuntime(f.ctx, vmmstate.IDFromUUID(f.uid('v')), got)
	f.wantKind("no such VMM", err, datastore.KindNotFound)
}

func testVMMMarks(f *fixture) {
	in := f.noVMM(f.instance())
	v := f.vmm(in.ID, f.sled(), vmmstate.Running, 3)
	f.expect("not destroyable", false, datastore.ReasonNotDestroyable)(f.st.VMMMarkDeleted(f.ctx, v.ID, at(1)))
	f.expect("mark failed", true, 0)(f.st.VMMMarkFailed(f.ctx, v.ID, failure.SledExpunged, at(1)))
	f.expect("mark failed again (D6)", false, datastore.ReasonUnchanged)(f.st.VMMMarkFailed(f.ctx, v.ID, failure.SledOff, at(2)))
	_, err := f.st.VMMMarkSagaUnwound(f.ctx, v.ID, at(2))
	if !errors.Is(err, datastore.ErrTerminal) && !errors.Is(err, datastore.ErrIllegalTransition) {
		f.fatal("marking a failed VMM saga_unwound (D7): %v", err)
	}
	f.expect("delete a failed VMM", true, 0)(f.st.VMMMarkDeleted(f.ctx, v.ID, at(3)))
	f.expect("delete again", false, datastore.ReasonDeleted)(f.st.VMMMarkDeleted(f.ctx, v.ID, at(4)))
	f.expect("mark a deleted VMM failed", false, datastore.ReasonDeleted)(f.st.VMMMarkFailed(f.ctx, v.ID, failure.SledOff, at(4)))
	if row := must(f.st.VMMFetch(f.ctx, v.ID)); !row.TimeDeleted.Equal(at(3)) {
		f.fatal("deleted at %v", row.TimeDeleted)
	}
	u := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
	f.expect("unwind", true, 0)(f.st.VMMMarkSagaUnwound(f.ctx, u.ID, at(5)))
	if got := must(f.st.VMMFetch(f.ctx, u.ID)).VMM.Runtime; got.State != vmmstate.SagaUnwound || got.Generation != gen(2) {
		f.fatal("unwound %v", got)
	}
}

func testSledReportGuards(f *fixture) {
	in := f.noVMM(f.instance())
	src := f.vmm(in.ID, f.sled(), vmmstate.Running, 3)
	dst := f.vmm(in.ID, f.sled(), vmmstate.Migrating, 2)
	m := f.migration(in.ID, src.ID, dst.ID)

	r := report(vmmstate.SledAgentMigrating, 4, at(1))
	r.MigrationIn, r.MigrationOut = sideReport(m.ID, migration.InProgress, 2, at(1)), sideReport(m.ID, migration.InProgress, 2, at(1))
	_, err := f.st.SledReport(f.ctx, src.ID, r)
	f.wantKind("the same migration in and out", err, datastore.KindConflict)

	r = report(vmmstate.SledAgentMigrating, 4, at(1))
	r.MigrationIn = sideReport(m.ID, migration.InProgress, 2, at(1)) // src is the source, not the target
	_, err = f.st.SledReport(f.ctx, src.ID, r)
	f.wantKind("not that side's VMM", err, datastore.KindInvalidRequest)
	if got := must(f.st.VMMFetch(f.ctx, src.ID)).VMM.Runtime.Generation; got != gen(3) {
		f.fatal("a refused report wrote the VMM: generation %v", got)
	}

	stopping := f.vmm(in.ID, f.sled(), vmmstate.Stopping, 3)
	_, err = f.st.SledReport(f.ctx, stopping.ID, report(vmmstate.SledAgentRunning, 4, at(1)))
	f.wantKind("stopping back to running (D7)", err, datastore.KindIllegalTransition)

	f.expect("delete the migration", true, 0)(f.st.MigrationMarkDeleted(f.ctx, m.ID, at(2)))
	r = report(vmmstate.SledAgentMigrating, 4, at(1))
	r.MigrationOut = sideReport(m.ID, migration.InProgress, 2, at(1))
	_, err = f.st.SledReport(f.ctx, src.ID, r)
	f.wantKind("a deleted migration", err, datastore.KindGone)

	// A report for a VMM no instance links is applied to its own row.
	lone := f.vmm(in.ID, f.sled(), vmmstate.Stopping, 5)
	res := must(f.st.SledReport(f.ctx, lone.ID, report(vmmstate.SledAgentDestroyed, 6, at(3))))
	if !res.VMM.Applied || !res.UpdateSagaNeeded {
		f.fatal("unlinked VMM: %+v", res)
	}
	_, err = f.st.SledReport(f.ctx, vmmstate.IDFromUUID(f.uid('v')), report(vmmstate.SledAgentRunning, 2, at(3)))
	f.wantKind("no such VMM", err, datastore.KindNotFound)
}

func testMigrationMarks(f *fixture) {
	in := f.instance()
	m := f.migration(in.ID, vmmstate.IDFromUUID(f.uid('v')), vmmstate.IDFromUUID(f.uid('v')))
	f.expect("mark failed", true, 0)(f.st.MigrationMarkFailed(f.ctx, m.ID, at(1)))
	f.expect("mark failed again", false, datastore.ReasonUnchanged)(f.st.MigrationMarkFailed(f.ctx, m.ID, at(2)))
	got := must(f.st.MigrationFetch(f.ctx, m.ID)).Migration
	if got.Source.State != migration.Failed || got.Target.State != migration.Failed || got.Source.Generation != gen(2) {
		f.fatal("after mark failed: %v", got)
	}
	f.expect("mark deleted", true, 0)(f.st.MigrationMarkDeleted(f.ctx, m.ID, at(3)))
	f.expect("mark deleted again", false, datastore.ReasonDeleted)(f.st.MigrationMarkDeleted(f.ctx, m.ID, at(4)))
	_, err := f.st.MigrationMarkFailed(f.ctx, migration.IDFromUUID(f.uid('m')), at(5))
	f.wantKind("no such migration", err, datastore.KindNotFound)
}

func testListAbandoned(f *fixture) {
	in, _ := f.running()
	unwound := f.vmm(in.ID, f.sled(), vmmstate.SagaUnwound, 2)
	destroyed := f.vmm(in.ID, f.sled(), vmmstate.Destroyed, 2)
	f.vmm(in.ID, f.sled(), vmmstate.Running, 2) // not destroyable
	deleted := f.vmm(in.ID, f.sled(), vmmstate.Destroyed, 2)
	_, _ = f.st.VMMMarkDeleted(f.ctx, deleted.ID, at(1))
	// A destroyable VMM still linked as a migration target is not
	// abandoned: the update saga unlinks it first (§8.2).
	migrating, src := f.running()
	target := f.vmm(migrating.ID, f.sled(), vmmstate.SagaUnwound, 2)
	m := f.migration(migrating.ID, src.ID, target.ID)
	must(f.st.InstanceSetMigrationIDs(f.ctx, migrating.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: target.ID, Now: at(1)}))
	got := must(f.st.VMMListAbandoned(f.ctx))
	if want := sortedVMMs([]vmmstate.ID{unwound.ID, destroyed.ID}); !slices.Equal(got, want) {
		f.fatal("abandoned %v, want %v", got, want)
	}
}

func testFindNeedingUpdate(f *fixture) {
	healthy, _ := f.running()
	dying, v := f.running()
	f.expect("destroyed", true, 0)(f.st.VMMUpdateRuntime(f.ctx, v.ID, vmmstate.Runtime{State: vmmstate.Destroyed, Generation: gen(4), TimeUpdated: at(4)}))
	locked, lv := f.running()
	_, _ = f.st.VMMUpdateRuntime(f.ctx, lv.ID, vmmstate.Runtime{State: vmmstate.Destroyed, Generation: gen(4), TimeUpdated: at(4)})
	must(f.st.InstanceUpdaterLock(f.ctx, locked.ID, f.updater()))
	got := must(f.st.FindInstancesNeedingUpdate(f.ctx, at(5)))
	if !slices.Equal(got, []instancestate.ID{dying.ID}) {
		f.fatal("needing update: %v, want only %v (not %v, healthy, nor %v, locked)", got, dying.ID, healthy.ID, locked.ID)
	}
}

func testFindReincarnatable(f *fixture) {
	mk := func(p instancestate.AutoRestartPolicy, last time.Time) instancestate.Instance {
		id := vmmstate.InstanceIDFromUUID(f.uid('i'))
		in := instancestate.New(id, true, instancestate.AutoRestart{Policy: p}, t0)
		in.Runtime.State, in.Runtime.TimeLastAutoRestarted = instancestate.NexusFailed, last
		return must(f.st.InstanceInsert(f.ctx, in))
	}
	ready := mk(instancestate.PolicyBestEffort, time.Time{})
	unset := mk(0, at(-10))
	cooling := mk(instancestate.PolicyBestEffort, at(-1))
	mk(instancestate.PolicyNever, time.Time{})
	lockedIn := mk(0, time.Time{})
	must(f.st.InstanceUpdaterLock(f.ctx, lockedIn.ID, f.updater()))
	got := must(f.st.FindReincarnatableInstances(f.ctx, t0))
	want := []instancestate.ID{ready.ID, unset.ID}
	slices.SortFunc(want, func(a, b instancestate.ID) int { ua, ub := a.UUID(), b.UUID(); return slices.Compare(ua[:], ub[:]) })
	if !slices.Equal(got, want) {
		f.fatal("reincarnatable at t0: %v, want %v", got, want)
	}
	later := must(f.st.FindReincarnatableInstances(f.ctx, at(10)))
	if !slices.Contains(later, cooling.ID) {
		f.fatal("after the cooldown: %v, want %v among them", later, cooling.ID)
	}
}

func testInstanceRequest(f *fixture) {
	in, _ := f.running()
	res := must(datastore.InstanceRequest(f.ctx, f.st, in.ID, instancestate.RequestStop, at(9)))
	if res.Decision.Action != instancestate.ActionSendToSled || res.Intent != instancestate.IntendStopped {
		f.fatal("stop: %+v", res)
	}
	if got := f.fetch(in.ID).Instance.IntendedState; got != instancestate.IntendStopped {
		f.fatal("intent after stop: %v", got)
	}
	// A rejected request writes no intent (D16).
	fresh := f.instance()
	res = must(datastore.InstanceRequest(f.ctx, f.st, fresh.ID, instancestate.RequestReboot, at(9)))
	if res.Decision.Accepted() || f.fetch(fresh.ID).Instance.IntendedState != instancestate.IntendStopped {
		f.fatal("rejected reboot: %+v, intent %v", res, f.fetch(fresh.ID).Instance.IntendedState)
	}
	// Stopping a failed instance writes its runtime and intent together.
	failed := instancestate.New(vmmstate.InstanceIDFromUUID(f.uid('i')), true, instancestate.AutoRestart{}, t0)
	failed.Runtime.State = instancestate.NexusFailed
	must(f.st.InstanceInsert(f.ctx, failed))
	res = must(datastore.InstanceRequest(f.ctx, f.st, failed.ID, instancestate.RequestStop, at(9)))
	s := f.fetch(failed.ID).Instance
	if res.Decision.Action != instancestate.ActionUpdateRuntime || s.Runtime.State != instancestate.NexusNoVMM || s.IntendedState != instancestate.IntendStopped {
		f.fatal("stop of a failed instance: %+v, row %+v", res, s)
	}
	// An absent or deleted instance is 404 (D23).
	for _, id := range []instancestate.ID{vmmstate.InstanceIDFromUUID(f.uid('i'))} {
		res = must(datastore.InstanceRequest(f.ctx, f.st, id, instancestate.RequestStart, at(9)))
		if res.Decision.Status != 404 {
			f.fatal("request on a missing instance: %+v", res)
		}
	}
}

func testUpdateSaga(f *fixture) {
	in, v := f.running()
	u, r := f.updateSaga(in.ID, at(9))
	if r.Ended != sagas.EndedNothing || u.Committed {
		f.fatal("healthy instance: %+v, committed %v", r, u.Committed)
	}
	_, _ = f.st.VMMUpdateRuntime(f.ctx, v.ID, vmmstate.Runtime{State: vmmstate.Destroyed, Generation: gen(4), TimeUpdated: at(4)})
	before := f.fetch(in.ID).Instance.UpdaterGen
	u, r = f.updateSaga(in.ID, at(9))
	if r.Outcome != sagas.Completed || r.Ended != "" || !u.Committed || u.Then.Has(sagas.ThenUpdate) {
		f.fatal("destroyed VMM: %+v, committed %v, then %v", r, u.Committed, u.Then)
	}
	s := f.fetch(in.ID)
	if s.Instance.Runtime.State != instancestate.NexusNoVMM || s.HasActive() || s.Instance.IsLocked() {
		f.fatal("after the saga: %+v", s.Instance)
	}
	// §13.2: taken, handed to the child, released by the commit.
	if want := must(must(must(before.Next()).Next()).Next()); s.Instance.UpdaterGen != want {
		f.fatal("updater_gen %v after the saga, want %v", s.Instance.UpdaterGen, want)
	}
	if row := must(f.st.VMMFetch(f.ctx, v.ID)); row.TimeDeleted.IsZero() {
		f.fatal("the destroyed VMM was not marked deleted (§13.2)")
	}
	other, ov := f.running()
	_, _ = f.st.VMMUpdateRuntime(f.ctx, ov.ID, vmmstate.Runtime{State: vmmstate.Destroyed, Generation: gen(4), TimeUpdated: at(4)})
	must(f.st.InstanceUpdaterLock(f.ctx, other.ID, f.updater()))
	if _, r := f.updateSaga(other.ID, at(9)); r.Ended != sagas.EndedLocked {
		f.fatal("locked by another: %+v", r)
	}
	if _, r := f.updateSaga(vmmstate.InstanceIDFromUUID(f.uid('i')), at(9)); r.Ended != sagas.EndedNotFound {
		f.fatal("missing instance: %+v", r)
	}
}

// newUpdate returns an instance-update saga (sagas.Update, §13, D11) for
// instance id with updater ids of its own: the lock's first holder and the
// child it hands the lock to (§13.2).
func (f *fixture) newUpdate(id instancestate.ID) *sagas.Update {
	return &sagas.Update{Instance: id, Updater: f.updater(), Child: f.updater()}
}

// runUpdate runs u to its end at now through sagas.Run, over the store
// alone (updateRoom); its error is a saga that did not end on the store's
// answer (sagaFailure). Safe for concurrent use.
func (f *fixture) runUpdate(u *sagas.Update, now time.Time) (sagas.Result, error) {
	env := &sagas.Env{Store: f.st, Agent: noAgent{}, Sleds: updateRoom{f.st}, Now: func() time.Time { return now }, NewID: uuid.New}
	r, err := sagas.Run(f.ctx, env, u, sagas.Options{})
	if err != nil {
		return r, err
	}
	return r, sagaFailure(r)
}

// updateRoom is the sled room the update saga needs: it only releases
// the room of the VMMs its plan destroys — the reservation record, in a
// store that keeps them. storetest imports no sled-agent or sled model,
// so that it sits next to the store it checks.
type updateRoom struct{ st datastore.Store }

func (r updateRoom) Reserve(context.Context, instancestate.ID, vmmstate.ID) (vmmstate.SledID, error) {
	return vmmstate.SledID{}, errors.New("storetest: the update saga reserves no room")
}

func (r updateRoom) ReserveOn(context.Context, instancestate.ID, vmmstate.SledID, vmmstate.ID) error {
	return errors.New("storetest: the update saga reserves no room")
}

func (r updateRoom) Release(ctx context.Context, vmm vmmstate.ID) error {
	if rs, ok := r.st.(datastore.SledReservations); ok {
		_, err := rs.ReservationDelete(ctx, vmm)
		return err
	}
	return nil
}

// noAgent is the sled-agent of a saga that calls none.
type noAgent struct{}

func (noAgent) Register(context.Context, vmmstate.VMM, migration.ID) (instancestate.Report, error) {
	return instancestate.Report{}, errors.New("storetest: the update saga calls no sled-agent")
}

func (noAgent) Migrate(context.Context, vmmstate.VMM, vmmstate.VMM, migration.ID) error {
	return errors.New("storetest: the update saga calls no sled-agent")
}

func (noAgent) Unregister(context.Context, vmmstate.VMM) (instancestate.Report, error) {
	return instancestate.Report{}, errors.New("storetest: the update saga calls no sled-agent")
}

// updateSaga runs one instance-update saga on instance id at now, failing
// the test on anything but the store's answers.
func (f *fixture) updateSaga(id instancestate.ID, now time.Time) (*sagas.Update, sagas.Result) {
	f.t.Helper()
	u := f.newUpdate(id)
	r, err := f.runUpdate(u, now)
	if err != nil {
		f.fatal("update saga: %v", err)
	}
	return u, r
}

// updateToRest runs update sagas on instance id at now as the instance
// updater would, each after the last while it says another is needed
// (§13.4), and returns the last; it fails the test if that takes more
// than a few.
func (f *fixture) updateToRest(id instancestate.ID, now time.Time) sagas.Result {
	f.t.Helper()
	for range 8 {
		u, r := f.updateSaga(id, now)
		if r.Outcome != sagas.Completed || !u.Then.Has(sagas.ThenUpdate) {
			return r
		}
	}
	f.fatal("%v: update sagas chained without end", id)
	return sagas.Result{}
}

// sagaFailure returns why a saga that ran did not end on the store's
// answers, or nil: stuck (an undo failed, the lock left held), or unwound
// on something other than a *datastore.Error — a store failing, not
// answering. A saga that unwound on a refusal (a lost race, D25) ended as
// it should.
func sagaFailure(r sagas.Result) error {
	var e *datastore.Error
	switch {
	case r.Outcome == sagas.Stuck:
		return fmt.Errorf("the saga is stuck: %w", r.Err)
	case r.Err != nil && !errors.As(r.Err, &e):
		return fmt.Errorf("the saga %v on a store failure: %w", r.Outcome, r.Err)
	}
	return nil
}

// testRacingVMMWrites: 16 goroutines write the same VMM at generations
// 2..17 in a shuffled order; exactly the writes that were newest when they
// ran apply, the generation never decreases, and the end state is the
// newest write — what a sequential replay in generation order gives.
func testRacingVMMWrites(f *fixture) {
	in := f.noVMM(f.instance())
	v := f.vmm(in.ID, f.sled(), vmmstate.Running, 1)
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	appliedGens := []uint64{}
	for i := range n {
		wg.Add(1)
		go func(g uint32) {
			defer wg.Done()
			res, err := f.st.VMMUpdateRuntime(f.ctx, v.ID, vmmstate.Runtime{State: vmmstate.Running, Generation: gen(g), TimeUpdated: at(int(g))})
			if err != nil {
				f.t.Errorf("write %d: %v", g, err)
				return
			}
			if res.Applied {
				mu.Lock()
				appliedGens = append(appliedGens, uint64(g))
				mu.Unlock()
			}
		}(uint32(2 + (i*7)%n))
	}
	wg.Wait()
	got := must(f.st.VMMFetch(f.ctx, v.ID)).VMM.Runtime
	if got.Generation != gen(n+1) || !got.TimeUpdated.Equal(at(n+1)) {
		f.fatal("end state %v; want the newest write, generation %d", got, n+1)
	}
	if !slices.Contains(appliedGens, n+1) {
		f.fatal("the newest write did not apply: applied %v", appliedGens)
	}
}

// testRacingLocks: 16 sagas race for one instance's lock; exactly one gets
// it, the rest are refused as already locked.
func testRacingLocks(f *fixture) {
	in := f.instance()
	const n = 16
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func(i int, saga instancestate.UpdaterID) {
			defer wg.Done()
			_, results[i] = f.st.InstanceUpdaterLock(f.ctx, in.ID, saga)
		}(i, f.updater())
	}
	wg.Wait()
	held := 0
	for _, err := range results {
		switch {
		case err == nil:
			held++
		case !errors.Is(err, datastore.ErrAlreadyLocked):
			f.fatal("lock: %v", err)
		}
	}
	if held != 1 {
		f.fatal("%d sagas hold the lock", held)
	}
}

// testRacingSagasAndReports: update sagas and sled reports race over a few
// instances whose VMMs die; afterwards no lock is left held, every
// instance validates, and none still needs an update.
func testRacingSagasAndReports(f *fixture) {
	type pair struct {
		in instancestate.Instance
		v  vmmstate.VMM
	}
	var pairs []pair
	for range 6 {
		in, v := f.running()
		pairs = append(pairs, pair{in, v})
	}
	var wg sync.WaitGroup
	for _, p := range pairs {
		for w := range 4 {
			wg.Add(2)
			go func(g uint32) {
				defer wg.Done()
				st := vmmstate.SledAgentStopping
				if g == 7 {
					st = vmmstate.SledAgentDestroyed
				}
				_, _ = f.st.SledReport(f.ctx, p.v.ID, report(st, g, at(int(g))))
			}(uint32(4 + w))
			go func(u *sagas.Update) {
				defer wg.Done()
				if _, err := f.runUpdate(u, at(20)); err != nil {
					f.t.Errorf("update saga: %v", err)
				}
			}(f.newUpdate(p.in.ID))
		}
	}
	wg.Wait()
	for _, p := range pairs {
		// The last sagas, as the background updater would run them,
		// converge it.
		f.updateToRest(p.in.ID, at(21))
		s := f.fetch(p.in.ID)
		if err := s.Validate(); err != nil || s.Instance.IsLocked() {
			f.fatal("%v: %v, locked %v", p.in.ID, err, s.Instance.IsLocked())
		}
		if s.Instance.Runtime.State != instancestate.NexusNoVMM {
			f.fatal("%v: %v, want no_vmm after its VMM was destroyed", p.in.ID, s.Instance.Runtime.State)
		}
	}
	if got := must(f.st.FindInstancesNeedingUpdate(f.ctx, at(22))); len(got) != 0 {
		f.fatal("still needing update: %v", got)
	}
}

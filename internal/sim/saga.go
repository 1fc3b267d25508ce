package sim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// SagaKind names a kind of saga.
type SagaKind uint8

// The sagas the world runs.
const (
	SagaCreate  SagaKind = iota + 1 // §16: creating → no_vmm, then maybe a start
	SagaStart                       // §14
	SagaMigrate                     // §15
	SagaUpdate                      // §13
	SagaDelete                      // §10.6
	numSagaKinds
)

var sagaNames = [...]string{SagaCreate: "create", SagaStart: "start", SagaMigrate: "migrate", SagaUpdate: "update", SagaDelete: "delete"}

// String returns the saga's name.
func (k SagaKind) String() string {
	if k == 0 || k >= numSagaKinds {
		return "sim.SagaKind(" + strconv.Itoa(int(k)) + ")"
	}
	return sagaNames[k]
}

// saga is one saga in flight. Each call of step runs one node, forward or
// (once it fails) its undo, so that other actions interleave with it as
// they do with Steno's sagas. step reports whether the saga finished.
type saga interface {
	kind() SagaKind
	step(w *World) bool
	String() string // for traces: kind, instance, next node
}

func (w *World) launch(s saga) {
	w.sagas = append(w.sagas, s)
	w.stats.Sagas[s.kind()].Started++
}

// stepSaga runs one node of one saga in flight.
func (w *World) stepSaga() {
	if len(w.sagas) == 0 {
		return
	}
	i := w.intn(len(w.sagas))
	if w.cfg.Trace {
		w.tracef("saga %s", w.sagas[i])
	}
	if w.sagas[i].step(w) {
		w.sagas = slices.Delete(w.sagas, i, i+1)
	}
}

// replay reports whether FaultSagaReplay runs the node that just ran once
// more: Steno re-runs a node when it cannot tell whether the node finished
// (§13.1), so every node must be idempotent. again marks the second run;
// the caller checks that it changed nothing.
func (w *World) replay(again *bool) bool {
	if *again {
		*again = false
		return false
	}
	if w.fault(FaultSagaReplay) && w.chance(8) {
		w.stats.Faults[FaultSagaReplay]++
		*again = true
		return true
	}
	return false
}

// idempotent checks that a replayed node left the instance as it was.
func (w *World) idempotent(node string, in *instRow, before, after instancestate.Instance) {
	if before != after {
		w.violate("saga nodes are idempotent", in.name, node+" run again changed the instance: "+fmt.Sprintf("%+v → %+v", before.Runtime, after.Runtime))
	}
}

// injected reports whether FaultSagaUnwind fails the node about to run.
func (w *World) injected() bool {
	if w.fault(FaultSagaUnwind) && w.chance(30) {
		w.stats.Faults[FaultSagaUnwind]++
		return true
	}
	return false
}

// createSaga finishes creating an instance (§16).
type createSaga struct{ in *instRow }

func (s *createSaga) kind() SagaKind { return SagaCreate }

func (s *createSaga) String() string { return "create " + s.in.name }

func (s *createSaga) step(w *World) bool {
	if w.injected() {
		// §16: the create saga's undo deletes the record straight from
		// creating, never through a restartable failed.
		rec, applied, err := instancestate.UnwindCreate(s.in.rec, w.now)
		if err != nil || !applied {
			w.unexpected("UnwindCreate", s.in.name, fmt.Errorf("applied %v: %v", applied, err))
			return true
		}
		w.stats.Sagas[SagaCreate].Unwound++
		w.writeRuntime(s.in, "UnwindCreate", rec.Runtime, rec.IntendedState)
		last := w.snapshot(s.in)
		if res, err := w.st.InstanceDelete(w.ctx, s.in.rec.ID, w.now); err != nil || !res.Applied {
			w.unexpected("instance_delete", s.in.name, fmt.Errorf("%+v: %v", res, err))
		}
		s.in.final = last
		w.removeInstance(s.in)
		w.tracef("create of %s unwound", s.in.name)
		return true
	}
	w.stats.Sagas[SagaCreate].Completed++
	w.finishCreate(s.in)
	return true
}

// ---- start (§14) ----

type startNode uint8

const (
	stAlloc startNode = iota
	stCreateVMM
	stMark
	stRegister
	stSucceed
)

type startSaga struct {
	in     *instRow
	reason failure.StartReason
	next   startNode

	unwinding bool
	cause     failure.Cause // zero: unwinding for a reason that is no start failure (a conflict)
	sled      *sled
	vmm       vmmstate.ID
	started   instancestate.Instance

	reserved, created, marked, registered bool
	again                                 bool // the node runs a second time (FaultSagaReplay)
}

func (s *startSaga) kind() SagaKind { return SagaStart }

func (s *startSaga) String() string {
	return fmt.Sprintf("start %s node %d unwinding=%v again=%v vmm=%v", s.in.name, s.next, s.unwinding, s.again, s.vmm)
}

// startStart launches a start saga for an instance.
func (w *World) startStart(in *instRow, reason failure.StartReason) {
	in.starts++
	w.stats.StartsByReason[reason]++
	w.tracef("start saga %s (%v)", in.name, reason)
	w.launch(&startSaga{in: in, reason: reason})
}

func (s *startSaga) fail(w *World, cause failure.Cause, why string) bool {
	s.unwinding, s.cause = true, cause
	w.tracef("start saga %s fails at node %d: %s", s.in.name, s.next, why)
	return false
}

func (s *startSaga) step(w *World) bool {
	if s.unwinding {
		return s.undo(w)
	}
	in := s.in
	if in.deleted {
		return s.fail(w, 0, "instance deleted")
	}
	if s.next != stSucceed && !s.again && w.injected() {
		return s.fail(w, failure.CauseInternal, "injected")
	}
	switch s.next {
	case stAlloc:
		// ALLOC_SERVER: any in-service sled with room that the
		// instance's placement constraint allows.
		cands, cause := w.place(in.placement)
		if cause != 0 {
			return s.fail(w, cause, "placement: "+cause.String())
		}
		s.sled = cands[w.intn(len(cands))]
		s.sled.reserve(vmmstate.ID{}) // placeholder until the VMM has an id
		s.reserved = true
	case stCreateVMM:
		r := w.insertVMM(in, s.sled)
		s.sled.release(vmmstate.ID{})
		s.sled.reserve(r.vmm.ID)
		s.vmm, s.created = r.vmm.ID, true
	case stMark:
		// instance_mark_as_starting: MarkAsStarting on the store's rows,
		// in one write (§14).
		before := in.rec
		rec, err := w.st.InstanceMarkAsStarting(w.ctx, in.rec.ID, s.vmm, s.reason, w.now)
		if err != nil {
			if !errors.Is(err, datastore.ErrConflict) {
				w.unexpected("instance_mark_as_starting", in.name, err)
			}
			w.stats.StartConflicts++
			return s.fail(w, 0, "conflict: "+err.Error())
		}
		w.reload(in)
		if s.again {
			w.idempotent("MarkAsStarting", in, before, rec)
		} else {
			s.started, s.marked = rec, true
			if in.rec.IntendedState != instancestate.IntendRunning {
				// A stale saga: the intent changed since the start was
				// asked for, and MarkAsStarting does not look at it.
				w.stats.StartedAgainstIntent++
			}
		}
		if w.replay(&s.again) {
			return false
		}
	case stRegister:
		// ENSURE_REGISTERED (and ENSURE_RUNNING): the sled-agent starts
		// the VMM, or the call fails and the saga unwinds (§11).
		var out *failure.Outcome
		switch {
		case !s.sled.answers():
			out = w.commError()
		case w.fault(FaultStartTransient) && w.chance(10):
			w.stats.Faults[FaultStartTransient]++
			out = &failure.Outcome{Status: 500}
			if w.chance(4) {
				out = &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}
			}
		}
		if out != nil {
			cl, err := failure.Classify(*out)
			if err != nil {
				w.unexpected("Classify", in.name, err)
				return s.fail(w, failure.CauseInternal, "classify")
			}
			if cl.VMMGone {
				// §11: instance_ensure_registered marks the new VMM failed.
				w.markFailed(s.vmm, cl.Reason)
				return s.fail(w, failure.CauseVMMGone, "vmm gone at registration")
			}
			return s.fail(w, failure.CauseSledAgentError, "registration failed")
		}
		row := w.vmms[s.vmm]
		if row == nil {
			return s.fail(w, failure.CauseInternal, "VMM row gone")
		}
		a := w.register(s.sled, row, pStarting, migration.ID{})
		s.registered = true
		w.applyReport(s.vmm, a.report())
	case stSucceed:
		// D13: a successful start clears the recorded failure.
		in.starts--
		if _, err := w.st.InstanceRecordStartFailure(w.ctx, in.rec.ID, failure.StartFailure{}); err != nil {
			w.unexpected("instance_record_start_failure", in.name, err)
		}
		w.reload(in)
		w.stats.Sagas[SagaStart].Completed++
		w.tracef("start saga %s succeeded: %s on %s", in.name, w.vmmName(s.vmm), s.sled.name)
		return true
	}
	s.next++
	return false
}

// undo runs the next undo node, in reverse order (§14): unregister, move
// the instance back, mark the VMM saga_unwound, release the reservation,
// and record why the start failed (D13).
func (s *startSaga) undo(w *World) bool {
	in := s.in
	switch {
	case s.registered:
		s.registered = false
		if !unregister(w, s.sled, s.vmm) {
			// §14: a VMM gone at unregister is marked failed and the
			// unwind stops there ("bail on unwinding").
			return s.finishUnwind(w)
		}
	case s.marked:
		s.marked = false
		if in.deleted {
			break
		}
		if w.fault(FaultSagaUnwind) && w.chance(3) {
			// §14: the undo's guarded write can lose ("did not return
			// instance to Stopped: old generation number"); the instance
			// keeps its VMM, which the next node marks saga_unwound — the
			// state D10, D11 and D15 are about.
			w.stats.Faults[FaultSagaUnwind]++
			w.stats.MarkUndoLost++
			break
		}
		// The undo is the runtime UnwindStart makes of the one the saga
		// wrote, with the generation guard: it applies exactly while the
		// stored runtime is still that one (§14).
		before := in.rec
		undone, _, err := instancestate.UnwindStart(s.started, s.started, w.now)
		if err != nil {
			w.unexpected("UnwindStart", in.name, err)
			break
		}
		applied := w.writeRuntime(in, "UnwindStart", undone.Runtime, instancestate.IntentUnchanged)
		switch {
		case s.again:
			w.idempotent("UnwindStart", in, before, in.rec)
		case !applied:
			w.stats.UnwindStartSkipped++
		}
		if w.replay(&s.again) {
			s.marked = true
		}
	case s.created:
		s.created = false
		unwound(w, s.vmm)
	case s.reserved:
		// Before CREATE_VMM_RECORD the reservation is a placeholder.
		s.reserved = false
		s.sled.release(s.vmm)
	default:
		return s.finishUnwind(w)
	}
	return false
}

func (s *startSaga) finishUnwind(w *World) bool {
	in := s.in
	in.starts--
	w.stats.Sagas[SagaStart].Unwound++
	if s.cause == 0 || in.deleted {
		return true
	}
	w.stats.StartFailures[s.cause]++
	// D13: record why, unless the instance no longer needs starting (a
	// concurrent start won, or the user stopped it): only an instance
	// a start would still be run for is waiting on this one.
	d, err := instancestate.Decide(w.snapshot(in), instancestate.RequestStart, w.now)
	if err != nil {
		w.unexpected("Decide(start)", in.name, err)
		return true
	}
	if d.Action != instancestate.ActionStartSaga || in.rec.IntendedState != instancestate.IntendRunning {
		return true
	}
	if _, err := w.st.InstanceRecordStartFailure(w.ctx, in.rec.ID, failure.NewStartFailure(s.cause, s.reason, w.now)); err != nil {
		w.unexpected("instance_record_start_failure", in.name, err)
		return true
	}
	w.reload(in)
	w.tracef("start of %s failed: %v", in.name, s.cause)
	return true
}

// unregister asks a sled-agent to forget a VMM (§14, §15 undo). It
// reports false when the sled-agent proves the VMM gone (§11: the VMM is
// marked failed and the undo fails); an unanswering sled-agent counts as
// "already unregistered".
func unregister(w *World, sl *sled, id vmmstate.ID) bool {
	if !sl.answers() {
		return true
	}
	a := sl.find(id)
	if a == nil {
		cl, err := failure.Classify(failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance})
		if err != nil || !cl.VMMGone {
			w.unexpected("Classify", w.vmmName(id), err)
			return true
		}
		w.markFailed(id, cl.Reason)
		return false
	}
	if !a.p.halted() {
		w.observe(a, pDestroyed)
	}
	sl.forget(id)
	// VmmUnregisterResponse carries the updated runtime (§3.2).
	w.applyReport(id, a.report())
	return true
}

// unwound marks a saga's VMM saga_unwound (§14, §15: vmm_mark_saga_unwound).
// A VMM already terminal stays as it is (D7: a failed VMM cannot be
// marked unwound).
func unwound(w *World, id vmmstate.ID) {
	row := w.vmms[id]
	if row == nil {
		return
	}
	_, err := w.st.VMMMarkSagaUnwound(w.ctx, id, w.now)
	switch {
	case errors.Is(err, datastore.ErrTerminal):
		w.stats.UnwoundAlreadyTerminal++
	case err != nil:
		w.unexpected("vmm_mark_saga_unwound", row.name, err)
	}
	w.reloadVMM(row)
}

// ---- migrate (§15) ----

type migrateNode uint8

const (
	mReserve migrateNode = iota
	mCreateVMM
	mCreateMigration
	mSetIDs
	mRegister
	mMigrate
)

type migrateSaga struct {
	in   *instRow
	src  vmmstate.ID
	dest *sled
	next migrateNode

	unwinding bool
	target    vmmstate.ID
	mig       migration.ID

	reserved, created, migCreated, registered bool
	again                                     bool
}

func (s *migrateSaga) kind() SagaKind { return SagaMigrate }

func (s *migrateSaga) String() string {
	return fmt.Sprintf("migrate %s node %d unwinding=%v again=%v", s.in.name, s.next, s.unwinding, s.again)
}

func (s *migrateSaga) fail(w *World, why string) bool {
	s.unwinding = true
	w.tracef("migrate saga %s fails at node %d: %s", s.in.name, s.next, why)
	return false
}

func (s *migrateSaga) step(w *World) bool {
	if s.unwinding {
		return s.undo(w)
	}
	in := s.in
	if in.deleted {
		return s.fail(w, "instance deleted")
	}
	if !s.again && w.injected() {
		return s.fail(w, "injected")
	}
	switch s.next {
	case mReserve:
		if !s.dest.inService() || s.dest.free() <= 0 {
			w.stats.MigrateNoCapacity++
			return s.fail(w, "destination full or down")
		}
		s.dest.reserve(vmmstate.ID{})
		s.reserved = true
	case mCreateVMM:
		r := w.insertVMM(in, s.dest)
		s.dest.release(vmmstate.ID{})
		s.dest.reserve(r.vmm.ID)
		s.target, s.created = r.vmm.ID, true
	case mCreateMigration:
		s.mig = migration.IDFromUUID(w.newUUID('m'))
		rec, err := w.st.MigrationInsert(w.ctx, migration.New(s.mig, in.rec.ID, s.src, s.target, w.now))
		if err != nil {
			w.unexpected("migration_insert", in.name, err)
			return s.fail(w, "migration record")
		}
		m := &migRow{rec: rec}
		m.lastSrc, m.lastDst = m.rec.Source.Generation, m.rec.Target.Generation
		w.migs[s.mig] = m
		w.migOrder = append(w.migOrder, m)
		s.migCreated = true
	case mSetIDs:
		before := in.rec
		rec, err := w.st.InstanceSetMigrationIDs(w.ctx, in.rec.ID, s.src, s.mig, s.target, w.now)
		if err != nil {
			if !errors.Is(err, datastore.ErrConflict) {
				w.unexpected("instance_set_migration_ids", in.name, err)
			}
			w.stats.MigrateConflicts++
			return s.fail(w, "conflict: "+err.Error())
		}
		w.reload(in)
		if s.again {
			w.idempotent("SetMigrationIDs", in, before, rec)
		}
		if w.replay(&s.again) {
			return false
		}
	case mRegister:
		if !s.dest.answers() {
			return s.fail(w, "destination unreachable")
		}
		if w.fault(FaultStartTransient) && w.chance(12) {
			w.stats.Faults[FaultStartTransient]++
			return s.fail(w, "destination sled-agent error")
		}
		row := w.vmms[s.target]
		if row == nil {
			return s.fail(w, "target row gone")
		}
		a := w.register(s.dest, row, pMigrating, s.mig)
		s.registered = true
		w.applyReport(s.target, a.report())
	case mMigrate:
		// INSTANCE_MIGRATE: the target is told to pull from the source.
		if !s.dest.answers() {
			return s.fail(w, "destination unreachable")
		}
		dst := s.dest.find(s.target)
		if dst == nil || dst.p.halted() {
			return s.fail(w, "target gone")
		}
		f := &flight{id: s.mig, src: w.agentOf(s.src), dst: dst}
		if src := f.src; src == nil || src.p != pRunning || src.flight != nil {
			// The source cannot send: Propolis fails the migration.
			f.src, f.outcome = &agentVMM{gone: true}, migration.Failed
		} else {
			src.flight, src.role, src.sidePh = f, migration.Source, 0
		}
		dst.flight, dst.role, dst.sidePh = f, migration.Target, 0
		if w.fault(FaultSagaUnwind) && w.chance(4) {
			// The request reached the target but its answer was lost:
			// the saga unwinds (§15) while the migration runs on.
			w.stats.Faults[FaultSagaUnwind]++
			return s.fail(w, "migrate request timed out after delivery")
		}
		in.migrates--
		w.stats.Sagas[SagaMigrate].Completed++
		w.tracef("migrate saga %s: %s → %s on %s", in.name, w.vmmName(s.src), w.vmmName(s.target), s.dest.name)
		return true
	}
	s.next++
	return false
}

// undo unregisters the target, fails the migration, marks the target VMM
// saga_unwound and releases the reservation (§15); the migration ids stay
// linked, as §15's leftovers, for the update plan or a later migration.
func (s *migrateSaga) undo(w *World) bool {
	switch {
	case s.registered:
		s.registered = false
		if !unregister(w, s.dest, s.target) {
			return s.finishUnwind(w)
		}
	case s.migCreated:
		s.migCreated = false
		if m := w.migs[s.mig]; m != nil {
			if _, err := w.st.MigrationMarkFailed(w.ctx, s.mig, w.now); err != nil {
				w.unexpected("migration_mark_failed", s.in.name, err)
			}
			w.reloadMigration(m)
		}
	case s.created:
		s.created = false
		unwound(w, s.target)
	case s.reserved:
		s.reserved = false
		s.dest.release(s.target)
	default:
		return s.finishUnwind(w)
	}
	return false
}

func (s *migrateSaga) finishUnwind(w *World) bool {
	s.in.migrates--
	w.stats.Sagas[SagaMigrate].Unwound++
	return true
}

// agentOf finds the sled-agent's record of a VMM wherever it runs.
func (w *World) agentOf(id vmmstate.ID) *agentVMM {
	row := w.vmms[id]
	if row == nil {
		return nil
	}
	sl := w.sledByID(row.vmm.SledID)
	if sl == nil || !sl.answers() {
		return nil
	}
	return sl.find(id)
}

// ---- update (§13) ----

type updateSaga struct {
	in             *instRow
	next           int
	updater, child instancestate.UpdaterID
	lock           instancestate.Lock
	plan           instancestate.Plan
	snap           instancestate.Snapshot
	again          bool
}

func (s *updateSaga) kind() SagaKind { return SagaUpdate }

func (s *updateSaga) String() string {
	return fmt.Sprintf("update %s node %d again=%v", s.in.name, s.next, s.again)
}

// startUpdate launches a start-instance-update saga, unless two are in
// flight already for the instance (a third could only find it locked).
func (w *World) startUpdate(in *instRow) {
	if in.deleted || in.updates >= 2 {
		return
	}
	in.updates++
	w.touch(in) // checkLock reads the count
	w.launch(&updateSaga{in: in})
}

func (s *updateSaga) done(w *World, how string) bool {
	s.in.updates--
	w.touch(s.in)
	switch how {
	case "committed", "nothing":
		w.stats.Sagas[SagaUpdate].Completed++
	default:
		w.stats.Sagas[SagaUpdate].Unwound++
	}
	w.stats.UpdateEnds[how]++
	return true
}

// unlock releases the saga's lock (every unwind must, §13.1).
func (s *updateSaga) unlock(w *World) {
	if s.in.deleted {
		return
	}
	if _, err := w.st.InstanceUpdaterUnlock(w.ctx, s.in.rec.ID, s.lock); err != nil {
		w.unexpected("instance_updater_unlock", s.in.name, err)
	}
	w.reload(s.in)
}

func (s *updateSaga) step(w *World) bool {
	in := s.in
	if in.deleted {
		return s.done(w, "deleted")
	}
	switch s.next {
	case 0:
		// siu_lock_instance: a lock held by another saga ends this one.
		if s.updater.IsZero() {
			s.updater = instancestate.UpdaterIDFromUUID(w.newUUID('u'))
		}
		before := in.rec
		l, err := w.st.InstanceUpdaterLock(w.ctx, in.rec.ID, s.updater)
		if errors.Is(err, datastore.ErrAlreadyLocked) && !s.again {
			return s.done(w, "locked")
		}
		if err != nil {
			w.unexpected("instance_updater_lock", in.name, err)
			return s.done(w, "error")
		}
		w.reload(in)
		if s.again && l != s.lock {
			w.violate("saga nodes are idempotent", in.name, fmt.Sprintf("Lock run again gave %+v, then %+v", s.lock, l))
		}
		if s.again {
			w.idempotent("Lock", in, before, in.rec)
		}
		s.lock = l
		if w.replay(&s.again) {
			return false
		}
	case 1:
		// BECOME_UPDATER: the real saga inherits the lock.
		parent := s.lock
		if s.child.IsZero() {
			s.child = instancestate.UpdaterIDFromUUID(w.newUUID('u'))
		} else {
			parent = instancestate.Lock{Updater: s.updater, Gen: s.lock.Gen} // the replay passes the parent's lock again
		}
		before := in.rec
		l, err := w.st.InstanceUpdaterInheritLock(w.ctx, in.rec.ID, parent, s.child)
		if err != nil {
			w.unexpected("instance_updater_inherit_lock", in.name, err)
			s.unlock(w)
			return s.done(w, "error")
		}
		w.reload(in)
		if s.again {
			w.idempotent("InheritLock", in, before, in.rec)
			if l != s.lock {
				w.violate("saga nodes are idempotent", in.name, fmt.Sprintf("InheritLock run again gave %+v, then %+v", s.lock, l))
			}
		}
		s.lock = l
		if w.replay(&s.again) {
			return false
		}
	case 2:
		s.snap = w.snapshot(in)
		p, required, err := instancestate.PlanUpdate(s.snap, w.now)
		if err != nil {
			w.unexpected("PlanUpdate", in.name, err)
			s.unlock(w)
			return s.done(w, "error")
		}
		if !required {
			s.unlock(w)
			w.afterUpdate(in)
			return s.done(w, "nothing")
		}
		s.plan = p
	case 3:
		// COMMIT_INSTANCE_UPDATES: write and unlock, guarded (§9).
		before := in.rec
		res, err := w.st.InstanceCommitUpdate(w.ctx, in.rec.ID, s.lock, s.plan)
		w.reload(in)
		if s.again {
			// §9: committing the same plan again is "already committed".
			if res.Applied || err != nil {
				w.violate("saga nodes are idempotent", in.name, fmt.Sprintf("Commit run again: %+v, error %v", res, err))
			}
			w.idempotent("Commit", in, before, in.rec)
			s.again = false
			break
		}
		switch {
		case errors.Is(err, datastore.ErrConflict):
			s.unlock(w)
			return s.done(w, "conflict")
		case err != nil:
			w.unexpected("instance_commit_update", in.name, err)
			s.unlock(w)
			return s.done(w, "error")
		case !res.Applied:
			w.violate("commit", in.name, "Commit of a plan under a held lock reported already committed")
			return s.done(w, "error")
		}
		// The snapshot the plan was made from, with the plan applied,
		// must still be valid (D17).
		if _, err := s.snap.Apply(s.plan); err != nil {
			w.violate("Snapshot.Apply", in.name, "a committed plan does not apply: "+err.Error())
		}
		if s.plan.Reservations != (instancestate.Reservations{}) {
			w.stats.ReservationSwaps++
		}
		w.tracef("update %s committed: %v vmm=%s target=%s", in.name, s.plan.Runtime.State, w.vmmName(s.plan.Runtime.ActiveVMM), w.vmmName(s.plan.Runtime.TargetVMM))
		if w.replay(&s.again) {
			return false
		}
	case 4:
		// destroy-vmm subsagas, then CHAIN_SUCCESSOR_SAGA.
		for _, id := range [...]vmmstate.ID{s.plan.DestroyActiveVMM, s.plan.DestroyTargetVMM} {
			if !id.IsZero() && !links(in, id) {
				w.deleteVMM(id)
			}
		}
		w.afterUpdate(in)
		return s.done(w, "committed")
	}
	s.next++
	return false
}

// afterUpdate is CHAIN_SUCCESSOR_SAGA and reincarnate_if_needed (§13.4):
// another update if the plan still has work, else a restart if one is
// due.
func (w *World) afterUpdate(in *instRow) {
	if in.deleted {
		return
	}
	s := w.snapshot(in)
	if _, required, err := instancestate.PlanUpdate(s, w.now); err == nil && required {
		w.startUpdate(in)
		return
	}
	r, err := instancestate.Reincarnate(s, w.now)
	if err != nil {
		w.unexpected("Reincarnate", in.name, err)
		return
	}
	if r.Should && in.starts == 0 {
		w.stats.Reincarnations++
		w.startStart(in, failure.StartReasonAutoRestart)
	}
}

// ---- delete (§10.6) ----

type deleteSaga struct {
	in      *instRow
	cleared bool // the first node (the instance's DPD configuration) ran
	again   bool
}

func (s *deleteSaga) kind() SagaKind { return SagaDelete }

func (s *deleteSaga) String() string { return fmt.Sprintf("delete %s again=%v", s.in.name, s.again) }

func (s *deleteSaga) step(w *World) bool {
	in := s.in
	if s.again {
		// The replayed delete finds the instance deleted: already done.
		res, err := w.st.InstanceDelete(w.ctx, in.rec.ID, w.now)
		if err != nil || res.Applied {
			w.violate("saga nodes are idempotent", in.name, fmt.Sprintf("instance_delete run again: %+v, error %v", res, err))
		}
		w.stats.Sagas[SagaDelete].Completed++
		return true
	}
	if !s.cleared {
		// §10.6: the saga deletes the instance's DPD configuration before
		// its record; other sagas may run in between.
		s.cleared = true
		return false
	}
	in.deletes--
	if in.deleted {
		w.stats.Sagas[SagaDelete].Completed++
		return true
	}
	// The snapshot the delete decides on, to check the instance once more
	// as the delete leaves it (the store no longer returns it).
	last := w.snapshot(in)
	res, err := w.st.InstanceDelete(w.ctx, in.rec.ID, w.now)
	switch {
	case errors.Is(err, datastore.ErrInvalidRequest):
		// §8.1: a state that forbids deletion; the saga unwinds.
		w.stats.Sagas[SagaDelete].Unwound++
		return true
	case err != nil || !res.Applied:
		w.unexpected("instance_delete", in.name, fmt.Errorf("%+v: %v", res, err))
		w.stats.Sagas[SagaDelete].Unwound++
		return true
	}
	rec, err := instancestate.Delete(last, w.now)
	if err != nil {
		w.unexpected("Delete", in.name, err)
	}
	last.Instance = rec
	in.final = last
	w.removeInstance(in)
	w.tracef("deleted %s", in.name)
	if w.replay(&s.again) {
		return false
	}
	w.stats.Sagas[SagaDelete].Completed++
	return true
}

// removeInstance marks an instance row deleted (§8.1
// project_delete_instance) with its migrations, and takes it off the live
// list; it is checked once more at the end of this step.
func (w *World) removeInstance(in *instRow) {
	in.deleted = true
	for i, x := range w.instances {
		if x == in {
			w.instances = slices.Delete(w.instances, i, i+1)
			break
		}
	}
	w.dropped = append(w.dropped, in)
	for _, m := range w.migOrder {
		if m.rec.InstanceID == in.rec.ID {
			delete(w.migs, m.rec.ID)
		}
	}
	w.stats.Deleted++
}

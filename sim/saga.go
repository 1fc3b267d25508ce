package sim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// The world runs package sagas' sagas, a node at a time, interleaved with
// everything else; this file is how it drives them — which faults it
// injects, and what it keeps in step with the store after each node — and
// holds none of their steps.

// inFlight is one saga in flight: its executor, the instance it is for,
// and its id in the saga log (zero when sagas run in memory).
type inFlight struct {
	x       *sagas.Exec
	in      *instRow
	id      uuid.UUID
	durable bool // begun on the executor: its record is in the log
}

func (f *inFlight) String() string { return f.x.String() + " " + f.in.name }

// launch puts a saga in flight: begun on the world's durable executor,
// each node logged as it runs, when the store keeps a saga log.
func (w *World) launch(in *instRow, s sagas.Saga) {
	f := &inFlight{in: in}
	if w.sec != nil {
		// The saga's instance is kept before the saga begins: a world
		// resumed from a later keep finds it (keep.go).
		w.launching = in
		w.keep()
		w.launching = nil
		f.id = w.newUUID('g')
		x, err := w.sec.Begin(w.ctx, f.id, s)
		if err != nil {
			w.unexpected("begin "+s.Kind().String()+" saga", in.name, err)
			x = sagas.NewExec(w.sagaEnv, s)
		}
		f.x, f.durable = x, err == nil
	} else {
		f.x = sagas.NewExec(w.sagaEnv, s)
	}
	w.sagas = append(w.sagas, f)
	w.stats.Sagas[s.Kind()].Started++
}

// stepSaga runs one node of one saga in flight, with the faults the world
// injects: a step that fails (FaultSagaUnwind; not a delete's), the mark-as-starting undo
// losing its race (§14, the state D10, D11 and D15 are about), and a node
// run twice (FaultSagaReplay: Steno re-runs a node it cannot tell
// finished, §13.1), which must change nothing.
func (w *World) stepSaga() {
	if len(w.sagas) == 0 {
		return
	}
	i := w.intn(len(w.sagas))
	f := w.sagas[i]
	if w.cfg.Trace {
		w.tracef("saga %s", f)
	}
	// What a node that deletes the instance leaves is checked once more
	// as it was read last (the store no longer returns it).
	var last instancestate.Snapshot
	if k := f.x.Saga().Kind(); (k == sagas.KindDelete || k == sagas.KindCreate) && !f.in.pending && !f.in.deleted {
		last = w.snapshot(f.in)
	}
	x := f.x
	switch name, undo := x.NextNode(); {
	case !undo && x.Saga().Kind() != sagas.KindDelete && w.fault(FaultSagaUnwind) && w.chance(30):
		// A delete is not failed on purpose: the user's intent is already
		// destroyed (D16), and nothing but the user asks again.
		w.stats.Faults[FaultSagaUnwind]++
		w.tracef("saga %s fails at %s", f, name)
		x.Fail(w.ctx)
	case undo && name == sagas.StepMarkAsStarting && w.fault(FaultSagaUnwind) && w.chance(3):
		w.stats.Faults[FaultSagaUnwind]++
		w.stats.MarkUndoLost++
		x.Skip(w.ctx)
	default:
		x.Next(w.ctx)
	}
	if x.LastRan() && w.fault(FaultSagaReplay) && w.chance(8) {
		w.stats.Faults[FaultSagaReplay]++
		w.again(f)
	}
	w.sync(f.in, x.Saga(), last)
	if x.Done() {
		w.sagas = slices.Delete(w.sagas, i, i+1)
		w.ended(f.in, x)
	}
}

// again runs the node that just ran once more and checks that it changed
// nothing in the instance's records.
func (w *World) again(f *inFlight) {
	before, berr := w.st.InstanceFetchAll(w.ctx, f.in.rec.ID)
	if errors.Is(berr, datastore.ErrUnavailable) {
		w.unexpected("instance_fetch_all", f.in.name, berr) // the world stops here
		return
	}
	err := f.x.Again(w.ctx)
	after, aerr := w.st.InstanceFetchAll(w.ctx, f.in.rec.ID)
	switch {
	case err != nil:
		w.violate("saga nodes are idempotent", f.in.name, err.Error())
	case (berr == nil) != (aerr == nil) || berr == nil && before != after:
		w.violate("saga nodes are idempotent", f.in.name, fmt.Sprintf("%s run again: %+v → %+v", f, before.Instance.Runtime, after.Instance.Runtime))
	}
}

// create has the control plane create a new instance (controlplane.Create,
// §16): its create saga is handed to the world (runner.RunSaga), which
// runs it among everything else.
func (w *World) create(in *instRow) {
	w.creating = in
	defer func() { w.creating = nil }()
	if _, err := w.cp.Create(w.ctx, in.rec); err != nil {
		return // judged as the control plane logged it (cpErrors)
	}
}

// createToEnd creates an instance and runs its create saga to its end
// with no faults, as New does for the instances a world starts with.
func (w *World) createToEnd(in *instRow) {
	n := len(w.sagas)
	w.create(in)
	if len(w.sagas) == n {
		return
	}
	f := w.sagas[len(w.sagas)-1]
	w.sagas = w.sagas[:len(w.sagas)-1]
	for !f.x.Done() {
		f.x.Next(w.ctx)
		w.sync(f.in, f.x.Saga(), instancestate.Snapshot{})
	}
	w.ended(f.in, f.x)
}

// sync reads back what a saga's node wrote — the instance, and the VMM
// and migration records the saga made — so that the world's copies stay
// the store's.
func (w *World) sync(in *instRow, saga sagas.Saga, last instancestate.Snapshot) {
	if in.pending {
		if _, err := w.st.InstanceFetchAll(w.ctx, in.rec.ID); err == nil {
			w.addInstance(in)
		}
		return
	}
	if !in.deleted {
		s, err := w.st.InstanceFetchAll(w.ctx, in.rec.ID)
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			in.final = last
			w.removeInstance(in)
			w.tracef("deleted %s", in.name)
		case err != nil:
			w.unexpected("instance_fetch_all", in.name, err)
		default:
			w.reloaded(in, s.Instance)
			// A VMM the node unregistered reports its migration sides
			// too: the migration the instance links is read back.
			w.syncMigration(s.Instance.Runtime.MigrationID)
		}
	}
	// A saga's undo runs on after its instance is deleted: its VMM and
	// migration are read back all the same.
	w.syncRecords(saga)
}

// syncRecords reads back the VMM and migration records a saga makes or
// ends.
func (w *World) syncRecords(saga sagas.Saga) {
	switch s := saga.(type) {
	case *sagas.Start:
		w.syncVMM(s.VMM)
	case *sagas.Migrate:
		w.syncVMM(s.Target)
		w.syncMigration(s.Migration)
	case *sagas.Update:
		w.syncVMM(s.Plan.DestroyActiveVMM)
		w.syncVMM(s.Plan.DestroyTargetVMM)
	}
}

// sagaResult is how a saga ended: an *sagas.Exec the world ran to its end,
// or a saga a recovery ran (recovered).
type sagaResult interface {
	Saga() sagas.Saga
	Outcome() sagas.Outcome
	Err() error
	Ended() string
}

// recovered is a saga recovery ran to rest, as a sagaResult.
type recovered struct{ d sagas.Durable }

func (r recovered) Saga() sagas.Saga       { return r.d.State }
func (r recovered) Outcome() sagas.Outcome { return r.d.Outcome }
func (r recovered) Err() error             { return r.d.Err }
func (r recovered) Ended() string          { return r.d.Result.Ended }

// ended counts a saga that ended and starts what it says comes next.
func (w *World) ended(in *instRow, x sagaResult) {
	k := x.Saga().Kind()
	switch x.Outcome() {
	case sagas.Completed:
		w.stats.Sagas[k].Completed++
	case sagas.Unwound:
		w.stats.Sagas[k].Unwound++
	case sagas.Stuck:
		w.stats.Sagas[k].Stuck++
	}
	if _, ok := x.(recovered); !ok {
		// A recovered saga's error of a node run before the crash is
		// read back from the log as text: its type is not kept.
		if err := x.Err(); err != nil && !expected(err) {
			w.unexpected(k.String()+" saga", in.name, err)
		}
	}
	switch s := x.Saga().(type) {
	case *sagas.Start:
		in.starts--
		switch {
		case x.Outcome() == sagas.Completed:
			if in.rec.IntendedState != instancestate.IntendRunning {
				// A stale saga: the intent changed since the start was
				// asked for, and MarkAsStarting does not look at it.
				w.stats.StartedAgainstIntent++
			}
		case s.Conflict:
			w.stats.StartConflicts++
		case s.Cause != 0:
			w.stats.StartFailures[s.Cause]++
		}
		if s.UnwindSkipped {
			w.stats.UnwindStartSkipped++
		}
		w.countUnwoundVMM(x, s.VMM)
	case *sagas.Migrate:
		in.migrates--
		var pe *sagas.PlacementError
		switch err := x.Err(); {
		case errors.As(err, &pe):
			w.stats.MigrateNoCapacity++
		case errors.Is(err, datastore.ErrConflict):
			w.stats.MigrateConflicts++
		}
		w.countUnwoundVMM(x, s.Target)
	case *sagas.Update:
		in.updates--
		w.touch(in) // checkLock reads the count
		w.updateEnded(in, x, s)
	case *sagas.Delete:
		in.deletes--
	}
	// What the saga asks for next is the control plane's to begin (§13.4,
	// §16, D37) — for a saga recovery ran, the control plane began it as
	// recovery brought the saga to rest (recoverSagas) — and what that
	// wrote through a sled-agent is read back.
	_, rec := x.(recovered)
	if h, ok := x.(interface{ Halted() error }); !rec && (!ok || h.Halted() == nil) {
		// A halted saga is not at rest: it is recovery's (D26).
		w.cp.Rested(w.ctx, "sim", x.Saga(), x.Outcome())
	}
	w.readBack()
}

// countUnwoundVMM counts an unwound saga's VMM that its undo could not
// mark saga_unwound because it was already terminal (D7).
func (w *World) countUnwoundVMM(x sagaResult, id vmmstate.ID) {
	if x.Outcome() == sagas.Completed {
		return
	}
	if r := w.vmms[id]; r != nil && r.vmm.Runtime.State.IsTerminal() {
		w.stats.UnwoundAlreadyTerminal++
	}
}

// updateEnded counts how an update saga ended and checks its plan.
func (w *World) updateEnded(in *instRow, x sagaResult, s *sagas.Update) {
	how := "error"
	switch {
	case x.Ended() == sagas.EndedLocked, x.Ended() == sagas.EndedNothing:
		how = x.Ended()
	case x.Ended() == sagas.EndedNotFound, in.deleted:
		how = "deleted"
	case s.Committed:
		how = "committed"
	case errors.Is(x.Err(), datastore.ErrConflict):
		how = "conflict"
	case errors.Is(x.Err(), sagas.ErrInjected):
		how = "injected"
	}
	w.stats.UpdateEnds[how]++
	if s.Committed {
		// The snapshot the plan was made from, with the plan applied, must
		// still be valid (D17).
		if _, err := s.Snapshot.Apply(s.Plan); err != nil {
			w.violate("Snapshot.Apply", in.name, "a committed plan does not apply: "+err.Error())
		}
		if s.Plan.Reservations != (instancestate.Reservations{}) {
			w.stats.ReservationSwaps++
		}
		w.tracef("update %s committed: %v vmm=%s target=%s", in.name, s.Plan.Runtime.State, w.vmmName(s.Plan.Runtime.ActiveVMM), w.vmmName(s.Plan.Runtime.TargetVMM))
		// D37: a target the plan unlinked while it still lives is asked
		// to stop (by the control plane, at Rested), so that no VMM
		// nothing links runs a guest.
		if !s.Plan.StopTargetVMM.IsZero() {
			w.stats.TargetsStopped++
		}
	}
}

// expected reports whether a saga's error is one the world's faults and
// races produce; anything else is a violation.
func expected(err error) bool {
	var ae *sagas.AgentError
	var pe *sagas.PlacementError
	return errors.Is(err, sagas.ErrInjected) || errors.As(err, &ae) || errors.As(err, &pe) ||
		errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrNotFound) ||
		errors.Is(err, datastore.ErrInvalidRequest) || errors.Is(err, datastore.ErrAlreadyLocked)
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
	w.unlinked(in.rec.Runtime, instancestate.Runtime{})
	for _, m := range w.migOrder {
		if m.rec.InstanceID == in.rec.ID && w.migs[m.rec.ID] == m {
			delete(w.migs, m.rec.ID)
			w.migDead++
		}
	}
	w.stats.Deleted++
}

// crashControlPlane is FaultControlPlaneCrash: the process running the
// sagas dies. Every saga in flight is dropped with the executor's memory;
// the records, the saga log and the sleds are kept; a new process under
// the same identity (SEC) recovers every unfinished saga from the log and
// runs it to rest (D26: its saga_recovery pass, recoverSagas), and the
// world reads back what each left, as it does after a node. Every saga
// the control plane began is in the log from the moment it was begun
// (sagas.SEC.Begin), and its request was answered then: one that recovery
// does not bring to rest was lost, and breaks D26. (A saga whose begin
// failed ran from memory, its failure already judged: it is lost with the
// process, as nothing of it was written.) The watcher's pass in progress
// is the dead process's, and goes with it.
func (w *World) crashControlPlane() {
	w.stats.Faults[FaultControlPlaneCrash]++
	dropped := w.sagas
	inFlight := make(map[uuid.UUID]*inFlight, len(w.sagas))
	for _, f := range w.sagas {
		inFlight[f.id] = f
	}
	w.tracef("control plane crash: %d sagas in flight", len(w.sagas))
	w.sagas = nil
	w.cp, w.watching = w.newControlPlane(), nil
	w.sec, w.sagaEnv = w.cp.SEC(), w.cp.SEC().Env
	ds := w.recoverSagas()
	for _, d := range ds {
		f := inFlight[d.Saga]
		delete(inFlight, d.Saga)
		switch {
		case w.unrecovered(d, "control plane"):
			continue
		case f == nil:
			w.recoveredUnknown(d)
			continue
		}
		w.recoveredSaga(d, f.in)
	}
	for _, f := range dropped { // in their order, not the map's: the run is the seed's
		if inFlight[f.id] == nil {
			continue // recovered
		}
		w.tracef("lost %s", f)
		w.stats.SagasLost++
		if f.durable {
			w.violate("a saga begun is lost with its process (D26)", f.in.name, f.String())
		}
		w.lost(f)
	}
	w.runDeferred()
}

// recoverSagas runs a pass of the new control plane's saga recovery
// (controlplane.TaskSagaRecovery) and returns how it left each saga. What
// the sagas it brought to rest ask for next, the control plane begins
// within the pass; the world takes those sagas (runner.RunSaga) only once
// it has read back what recovery wrote (runDeferred), so that it knows the
// instances they are for.
func (w *World) recoverSagas() []sagas.Durable {
	// A store that stops answering stops the world mid-pass (abort): the
	// flag is cleared all the same. An error of the pass is judged as the
	// control plane logged it (cpErrors).
	w.deferring = true
	defer func() { w.deferring = false }()
	p, _ := w.cp.RunTask(w.ctx, controlplane.TaskSagaRecovery)
	return p.Recovery
}

// runDeferred takes the sagas the control plane began while the world was
// not ready for them (recoverSagas), once it has read back the recovery.
func (w *World) runDeferred() {
	d := w.deferred
	w.deferred = nil
	if w.stop != nil {
		return // the world stopped: nothing more runs
	}
	for _, s := range d {
		(*runner)(w).RunSaga(w.ctx, s.src, s.saga)
	}
	w.readBack()
}

// deferredSaga is a saga the control plane began for src while the world
// was recovering.
type deferredSaga struct {
	src  string
	saga sagas.Saga
}

// recoveredSaga reads back what a saga that recovery ran to rest left for
// in, as the world does after a node, and counts it as ended.
func (w *World) recoveredSaga(d sagas.Durable, in *instRow) {
	w.stats.SagasRecovered++
	w.tracef("recovered %v saga of %s: %v (ran %v, undone %v)", d.Kind, in.name, d.Outcome, d.Ran, d.Undone)
	// The world's copies, not the store's, are what the instance was
	// before the recovery ran: a deleted one is checked as it was. Any
	// saga's readback may find it deleted — recovery runs every saga
	// before the world reads one back, a delete among them.
	var last instancestate.Snapshot
	if !in.pending && !in.deleted {
		last = w.held(in)
	}
	pending := in.pending
	w.sync(in, d.State, last)
	if pending && !in.pending {
		// The record was inserted and moved on in one recovery: the
		// world took it as inserted, and reads it again.
		w.sync(in, d.State, last)
	}
	w.ended(in, recovered{d})
}

// recoveredUnknown reads back what recovery left of a saga the world did
// not have in flight: one of an earlier process, for an instance since
// deleted — the VMMs and migrations it made or ended — or a create the
// world never knew. A process killed as it sent a saga's first write has
// that write applied by the database after the process is gone, and
// perhaps after the next one resumed, read the log and forgot the instance
// it had kept pending; the create is then recovered at a later pass, and
// the instance it inserted is the world's from then on.
func (w *World) recoveredUnknown(d sagas.Durable) {
	w.stats.SagasRecoveredUnknown++
	if c, ok := d.State.(*sagas.Create); ok && w.instByID[c.Instance.ID] == nil {
		in := &instRow{rec: c.Instance, name: w.name('i'), pending: true}
		w.sync(in, d.State, instancestate.Snapshot{}) // added when the store holds it
		if !in.pending {
			w.tracef("recovered %s, the create of an earlier process", in.name)
		}
	}
	w.syncRecords(d.State)
}

// unrecovered reports whether recovery left saga d short of rest, and
// says so: a store that did not answer stops the world (Err); anything
// else — abandoned, or halted — breaks D26, and is a violation.
func (w *World) unrecovered(d sagas.Durable, subject string) bool {
	switch {
	case d.Halted != nil && errors.Is(d.Halted, datastore.ErrUnavailable):
		w.unexpected("saga recovery", d.Saga.String(), d.Halted)
		return true
	case d.Abandoned != 0 || d.Halted != nil:
		w.violate("D26", subject, fmt.Sprintf("recovery did not finish saga %v: abandoned %v, halted %v", d.Saga, d.Abandoned, d.Halted))
		return true
	}
	return false
}

// lost forgets a saga that died before anything of it was durable.
func (w *World) lost(f *inFlight) {
	in := f.in
	switch f.x.Saga().Kind() {
	case sagas.KindStart:
		in.starts--
	case sagas.KindMigrate:
		in.migrates--
	case sagas.KindUpdate:
		in.updates--
	case sagas.KindDelete:
		in.deletes--
	}
	if !in.pending && !in.deleted {
		w.touch(in)
	}
}

// held is the snapshot of an instance as the world holds its records,
// without reading the store.
func (w *World) held(in *instRow) instancestate.Snapshot {
	s := instancestate.Snapshot{Instance: in.rec, Policy: w.cfg.Policy}
	if r := w.vmms[in.rec.Runtime.ActiveVMM]; r != nil {
		s.Active = r.vmm
	}
	if r := w.vmms[in.rec.Runtime.TargetVMM]; r != nil {
		s.Target = r.vmm
	}
	if m := w.migs[in.rec.Runtime.MigrationID]; m != nil {
		s.Migration = m.rec
	}
	return s
}

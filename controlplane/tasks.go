package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// Task names a background task.
type Task uint8

// The background tasks, in the order Tick runs them.
const (
	// TaskSagaRecovery finishes the unfinished sagas the control plane
	// owns and is not running: its own, left by a process that died, and
	// those it adopted (sagas.SEC.Recover, D26). It reads
	// datastore.SagaLog; the sagas it runs, the whole Store.
	TaskSagaRecovery Task = iota + 1
	// TaskSagaAdoption adopts the unfinished sagas of every other executor
	// whose lease has expired (D27), and activates recovery to run them.
	// It uses datastore.SagaLog alone.
	TaskSagaAdoption
	// TaskInstanceUpdater runs an update saga for every instance
	// FindInstancesNeedingUpdate lists (§8.1, D11), and for those a saga
	// asked for. It reads datastore.FleetQueries; the sagas, the Store.
	TaskInstanceUpdater
	// TaskReincarnation runs a start saga, reason auto_restart, for every
	// instance FindReincarnatableInstances lists (§17, D15, D22, D33). It
	// reads datastore.FleetQueries; the sagas, the Store.
	TaskReincarnation
	// TaskAbandonedVMMReaper releases the reservation of every VMM
	// VMMListAbandoned lists and marks it deleted (§18), and releases
	// reservations left by VMMs already gone. It uses
	// datastore.FleetQueries, datastore.VMMWrites and
	// datastore.SledReservations.
	TaskAbandonedVMMReaper
	// TaskInstanceWatcher checks every VMM VMMListBySled lists on each of
	// the Watcher's sleds, and records what the check proves (§18, D18).
	// It uses datastore.FleetQueries, datastore.Records and
	// datastore.VMMWrites (sagas.RecordReport, sagas.RecordDeath).
	TaskInstanceWatcher
	// TaskOwedStops asks again for every stop the control plane owes —
	// of a target an update plan unlinked alive (D37) — that no sled-agent
	// has taken yet, until one takes it or the call proves the VMM gone
	// (SendToSled). The list is the control plane's memory, lost with its
	// process; the instance watcher finds such a VMM again (unlinked,
	// running) and asks for its stop itself. It uses datastore.Records and
	// datastore.VMMWrites.
	TaskOwedStops
	// TaskStalledSagas reports the sagas that have stopped moving
	// (sagas.Stalled, D30): logged and counted, never undone. It reads
	// datastore.SagaLog alone.
	TaskStalledSagas
	// TaskInstanceReconciler reconciles every instance
	// FindInstancesToReconcile lists (D19): a user's intent the records
	// say is unmet, which no saga in the log and no other task will meet —
	// a start whose request was written and whose saga never began (its
	// process died in between), the start of an instance created to run
	// whose create's process died before it began it, a stop no
	// sled-agent was asked for. Each is Reconcile's work: Next decided
	// afresh, and acted on. It reads datastore.FleetQueries; the sagas,
	// the Store.
	TaskInstanceReconciler
)

var tasks = enum.New[Task]("controlplane.Task", false, "saga_recovery", "saga_adoption", "instance_updater",
	"instance_reincarnation", "abandoned_vmm_reaper", "instance_watcher", "owed_vmm_stops", "saga_stalled",
	"instance_reconciler")

// AllTasks returns every task, in the order Tick runs them.
func AllTasks() []Task { return tasks.All() }

// ParseTask returns the task named s.
func ParseTask(s string) (Task, error) { return tasks.Parse(s) }

// String returns the task's name, as Stats counts it.
func (t Task) String() string { return tasks.String(t) }

func (t Task) valid() bool { return tasks.Valid(t) }

// DefaultInterval returns how often the task runs when Config.Intervals
// does not say. Omicron's periods where it has the task; recovery runs far
// more often than Omicron's 600 s, since it finds only what is not in
// flight and costs one query when nothing is.
func (t Task) DefaultInterval() time.Duration {
	switch t {
	case TaskSagaRecovery, TaskSagaAdoption, TaskInstanceUpdater, TaskInstanceWatcher, TaskOwedStops:
		return 30 * time.Second
	case TaskReincarnation, TaskAbandonedVMMReaper, TaskStalledSagas, TaskInstanceReconciler:
		return 60 * time.Second
	}
	return 0
}

// Pass is what one pass of a task did.
type Pass struct {
	Task Task
	// Found is how many records the task's query listed.
	Found int
	// SagasStarted counts the sagas the pass began for what it listed
	// (the follow-ups those and its checks asked for are counted in the
	// task's Counters, not here); Recovered, Adopted and Abandoned how the
	// sagas it recovered or adopted were left.
	SagasStarted, Recovered, Adopted, Abandoned int
	// Stalled lists the sagas TaskStalledSagas found stopped.
	Stalled []sagas.Stall
	// Recovery is how TaskSagaRecovery left each saga it took up: at rest
	// (its State and Outcome), abandoned with a reason, or halted.
	Recovery []sagas.Durable
	// Stopped is how many VMMs TaskInstanceWatcher found running with no
	// instance linking them, and asked to stop (D37); for TaskOwedStops,
	// how many of the stops it asked for again were taken.
	Stopped int
	// Reaped is how many abandoned VMMs TaskAbandonedVMMReaper marked
	// deleted, their room released; Released how many leaked reservations
	// it released besides.
	Reaped, Released int
	// Again: the pass left work behind, and activated its task.
	Again bool
}

// RunTask runs one pass of task t now and returns what it did: BeginTask,
// and Step until the pass is over. Its error is the one that ended the
// pass (a failed query, a cancelled context); an error about one record is
// counted and logged, and the pass goes on to the next. RunTask does not
// change when t runs next.
func (cp *ControlPlane) RunTask(ctx context.Context, t Task) (Pass, error) {
	r, err := cp.BeginTask(t)
	if err != nil {
		return Pass{Task: t}, errors.New("controlplane: RunTask: " + strings.TrimPrefix(err.Error(), "controlplane: "))
	}
	for r.Step(ctx) {
	}
	return r.Result()
}

func tasksList() string {
	b := []byte{}
	for i, t := range AllTasks() {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, t.String()...)
	}
	return string(b)
}

// recoverSagas is TaskSagaRecovery: the executor's Recover, and then,
// a piece each, what every saga it brought to rest asks for next (after,
// followUps) — a create's start, an update's restart or successor, a
// target's stop — begun by the control plane here whether or not it has a
// Runner: the saga came to rest in the control plane's hands, not the
// driver's. What else recovery leaves — updates, restarts, room — the
// tasks that find it are activated for.
func (cp *ControlPlane) recoverSagas(ctx context.Context, r *TaskRun) error {
	p := &r.pass
	ds, err := cp.sec.Recover(ctx)
	p.Found, p.Recovery = len(ds), ds
	for _, d := range ds {
		switch {
		case d.Abandoned != 0:
			p.Abandoned++
			cp.log.LogAttrs(ctx, slog.LevelWarn, "saga abandoned", slog.String("saga", d.Saga.String()),
				slog.String("kind", d.Kind.String()), slog.String("reason", d.Abandoned.String()))
		case d.Halted != nil:
			cp.count(TaskSagaRecovery.String(), func(c *Counters) { c.SagasHalted++ })
		default:
			p.Recovered++
			r.then(func(ctx context.Context, _ *TaskRun) error {
				cp.followUps(ctx, TaskSagaRecovery.String(), d.State, d.Outcome, &r.budget)
				return nil
			}, nil)
		}
	}
	if p.Recovered > 0 {
		cp.Activate(TaskInstanceUpdater)
		cp.Activate(TaskReincarnation)
		cp.Activate(TaskAbandonedVMMReaper)
	}
	if err != nil {
		// The sagas recovered before the error still have their
		// follow-ups begun; then the pass ends with it.
		r.then(func(context.Context, *TaskRun) error { return err }, nil)
	}
	return nil
}

// adoptSagas is TaskSagaAdoption: every executor other than this one that
// owns an unfinished saga is asked for its sagas; one whose lease still
// holds keeps them (datastore.ErrConflict, not an error of the pass).
func (cp *ControlPlane) adoptSagas(ctx context.Context, r *TaskRun) error {
	p := &r.pass
	recs, err := cp.cfg.Log.SagaListUnfinished(ctx, uuid.Nil)
	if err != nil {
		return err
	}
	var owners []uuid.UUID
	for _, rec := range recs {
		if rec.CurrentSEC != cp.cfg.ID && !slices.Contains(owners, rec.CurrentSEC) {
			owners = append(owners, rec.CurrentSEC)
		}
	}
	p.Found = len(owners)
	for _, from := range owners {
		ids, err := cp.sec.Adopt(ctx, from)
		switch {
		case errors.Is(err, datastore.ErrConflict):
			continue // its lease holds: alive, or not yet known dead
		case err != nil:
			return err
		}
		p.Adopted += len(ids)
		cp.log.LogAttrs(ctx, slog.LevelWarn, "sagas adopted from an executor whose lease expired",
			slog.String("from", from.String()), slog.Int("sagas", len(ids)))
	}
	if p.Adopted > 0 {
		cp.Activate(TaskSagaRecovery)
	}
	return nil
}

// updateInstances is TaskInstanceUpdater's list: the instances the fleet
// query lists, then those a saga asked for that it does not, an update
// saga begun for each up to PassLimit; a pass that found more activates
// the task again.
func (cp *ControlPlane) updateInstances(ctx context.Context, r *TaskRun) error {
	ids, err := cp.cfg.Store.FindInstancesNeedingUpdate(ctx, cp.cfg.Now())
	if err != nil {
		return err
	}
	r.pass.Found = len(ids)
	for {
		id, ok := cp.nextNeeded()
		if !ok {
			break
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	// What the pass leaves — beyond the limit, or not reached before it
	// ended — the fleet query lists again: it lists every instance whose
	// records ask for an update, the queued ones among them (D11).
	if len(ids) > cp.cfg.PassLimit {
		ids, r.pass.Again = ids[:cp.cfg.PassLimit], true
	}
	for _, id := range ids {
		r.then(func(ctx context.Context, r *TaskRun) error {
			return r.begin(ctx, &sagas.Update{Instance: id})
		}, nil)
	}
	return nil
}

// reincarnate is TaskReincarnation's list: a start saga, reason
// auto_restart, begun for each instance the fleet query lists, up to
// PassLimit; a pass that found more activates the task again.
func (cp *ControlPlane) reincarnate(ctx context.Context, r *TaskRun) error {
	ids, err := cp.cfg.Store.FindReincarnatableInstances(ctx, cp.cfg.Now())
	if err != nil {
		return err
	}
	r.pass.Found = len(ids)
	if len(ids) > cp.cfg.PassLimit {
		ids, r.pass.Again = ids[:cp.cfg.PassLimit], true
	}
	for _, id := range ids {
		r.then(func(ctx context.Context, r *TaskRun) error {
			return r.begin(ctx, &sagas.Start{Instance: id, Reason: failure.StartReasonAutoRestart})
		}, nil)
	}
	return nil
}

// reconcileInstances is TaskInstanceReconciler's list: each instance the
// fleet query lists, up to PassLimit, reconciled as it reads when its
// piece runs — one that met its intent meanwhile, or was deleted, is
// passed over; a pass that found more activates the task again. An
// instance the control plane's own executor is driving a saga for is left
// to that saga (sagas.SEC.DrivingInstance): a start between its first step
// and instance_mark_as_starting reads exactly as a start that never began,
// and a second one would only lose the race, having taken sled room for
// nothing.
func (cp *ControlPlane) reconcileInstances(ctx context.Context, r *TaskRun) error {
	ids, err := cp.cfg.Store.FindInstancesToReconcile(ctx, cp.cfg.Now())
	if err != nil {
		return err
	}
	r.pass.Found = len(ids)
	ids = slices.DeleteFunc(ids, cp.sec.DrivingInstance)
	if len(ids) > cp.cfg.PassLimit {
		ids, r.pass.Again = ids[:cp.cfg.PassLimit], true
	}
	src := TaskInstanceReconciler.String()
	for _, id := range ids {
		r.then(func(ctx context.Context, r *TaskRun) error {
			// An error about the instance is counted and logged by
			// reconcile; the pass goes on.
			if _, began, _ := cp.reconcile(ctx, src, id, &r.budget); began {
				r.pass.SagasStarted++
			}
			return nil
		}, nil)
	}
	return nil
}

// begin begins saga s for the pass's task, and counts it.
func (r *TaskRun) begin(ctx context.Context, s sagas.Saga) error {
	if _, err := r.cp.begin(ctx, r.pass.Task.String(), s); err != nil {
		return err
	}
	r.pass.SagasStarted++
	return nil
}

// reap is TaskAbandonedVMMReaper's list: each abandoned VMM is reaped
// (reapOne: its room released before its record is deleted, so that a
// pass that dies between the two leaves a VMM the next pass lists again,
// never room no one releases), and then the leaked reservations are.
func (cp *ControlPlane) reap(ctx context.Context, r *TaskRun) error {
	ids, err := cp.cfg.Store.VMMListAbandoned(ctx)
	if err != nil {
		return err
	}
	r.pass.Found = len(ids)
	for _, id := range ids {
		r.then(func(ctx context.Context, r *TaskRun) error {
			reaped, err := cp.reapOne(ctx, id)
			if err != nil {
				cp.failed(ctx, TaskAbandonedVMMReaper.String(), "reap VMM "+id.String(), err)
			}
			if reaped {
				r.pass.Reaped++
			}
			return nil
		}, nil)
	}
	if cp.cfg.Reservations != nil {
		r.then(cp.releaseLeaked, nil)
	}
	return nil
}

// releaseLeaked is the reaper's last piece: the reservations whose VMM is
// already deleted (a store that records them) are released, and those
// whose VMM was never inserted, when no saga that could still insert it
// is unfinished.
func (cp *ControlPlane) releaseLeaked(ctx context.Context, r *TaskRun) error {
	leaked, err := cp.cfg.Reservations.ReservationListLeaked(ctx)
	if err != nil || len(leaked) == 0 {
		return err
	}
	// A reservation whose VMM has no record yet may be a start's or a
	// migration's in flight, between taking the room and inserting the
	// VMM: released only while no such saga is unfinished. Listed after
	// the leaks, the sagas cover every reservation listed; a saga that
	// finished meanwhile inserted its VMM (found below) or released its
	// room itself.
	placing, err := cp.placing(ctx)
	if err != nil {
		return err
	}
	src := TaskAbandonedVMMReaper.String()
	for _, id := range leaked {
		row, err := cp.cfg.Store.VMMFetch(ctx, id)
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			if placing {
				continue // the next pass, once no saga is placing a VMM
			}
		case err != nil:
			cp.failed(ctx, src, "fetch VMM "+id.String(), err)
			continue
		case row.TimeDeleted.IsZero():
			continue // inserted since the list was read
		}
		r.pass.Found++
		if err := cp.cfg.Sleds.Release(ctx, id); err != nil {
			cp.failed(ctx, src, "release VMM "+id.String()+"'s leaked room", err)
			continue
		}
		r.pass.Released++
	}
	return nil
}

// placing reports whether a saga that takes room for a VMM before it
// inserts the VMM's record — a start, a migration — is unfinished.
func (cp *ControlPlane) placing(ctx context.Context) (bool, error) {
	if cp.sec.Driving(sagas.KindStart, sagas.KindMigrate) {
		return true, nil // one of this process's own: no need to read the log
	}
	recs, err := cp.cfg.Log.SagaListUnfinished(ctx, uuid.Nil)
	if err != nil {
		return false, err
	}
	for _, r := range recs {
		if r.Name == sagas.KindStart.String() || r.Name == sagas.KindMigrate.String() {
			return true, nil
		}
	}
	return false, nil
}

// reapOne releases abandoned VMM id's room, then marks it deleted (§18),
// and reports whether the delete wrote. The room goes first: a reaper that
// dies between the two leaves a VMM the next pass lists again, never room
// no one releases.
func (cp *ControlPlane) reapOne(ctx context.Context, id vmmstate.ID) (bool, error) {
	if err := cp.cfg.Sleds.Release(ctx, id); err != nil {
		return false, fmt.Errorf("release its room: %w", err)
	}
	res, err := cp.cfg.Store.VMMMarkDeleted(ctx, id, cp.cfg.Now())
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("delete it: %w", err)
	}
	if res.Applied {
		cp.forget(id)
	}
	return res.Applied, nil
}

// ReapVMM is the abandoned-VMM reaper's work on VMM id alone, for a caller
// that knows which VMM it found abandoned — a simulator that tracks the
// VMMs it ended, or an operator: when the VMM is destroyable (§8.2),
// not deleted, and no instance links it as active or target, its room is
// released and it is marked deleted. It reports whether it was; a VMM
// that does not qualify is left as it is, with no error.
func (cp *ControlPlane) ReapVMM(ctx context.Context, id vmmstate.ID) (bool, error) {
	src := TaskAbandonedVMMReaper.String()
	row, err := cp.cfg.Store.VMMFetch(ctx, id)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return false, nil
	case err != nil:
		cp.failed(ctx, src, "fetch VMM "+id.String(), err)
		return false, err
	case !row.TimeDeleted.IsZero() || !row.VMM.Runtime.State.IsDestroyable():
		return false, nil
	}
	snap, err := cp.cfg.Store.InstanceFetchAll(ctx, row.VMM.InstanceID)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
	case err != nil:
		cp.failed(ctx, src, "fetch the instance of VMM "+id.String(), err)
		return false, err
	case snap.Instance.Runtime.ActiveVMM == id || snap.Instance.Runtime.TargetVMM == id:
		return false, nil
	}
	reaped, err := cp.reapOne(ctx, id)
	if err != nil {
		cp.failed(ctx, src, "reap VMM "+id.String(), err)
	}
	return reaped, err
}

// watch is TaskInstanceWatcher's list: every listed VMM of every sled,
// each then checked as CheckVMM checks one (check) — the agent's report
// recorded, a proof of death recorded, or only the silence of a sled that
// cannot be reached and may be on observed (D18) — and what the check
// asks for begun. The last piece drops the observations, held when the
// list was read, of VMMs no sled listed.
func (cp *ControlPlane) watch(ctx context.Context, r *TaskRun) error {
	if cp.cfg.Watcher == nil {
		return nil
	}
	sleds, err := cp.cfg.Watcher.WatchedSleds(ctx)
	if err != nil {
		return err
	}
	before, listed := cp.observed(), map[vmmstate.ID]bool{}
	for _, sl := range sleds {
		ids, err := cp.cfg.Store.VMMListBySled(ctx, sl)
		if err != nil {
			return err
		}
		r.pass.Found += len(ids)
		for _, id := range ids {
			listed[id] = true
			r.then(func(ctx context.Context, r *TaskRun) error {
				src := TaskInstanceWatcher.String()
				_, stopped, err := cp.check(ctx, src, id, true)
				if err != nil {
					cp.failed(ctx, src, "check", err)
				}
				if stopped {
					r.pass.Stopped++
				}
				cp.followUps(ctx, src, nil, 0, &r.budget)
				return nil
			}, nil)
		}
	}
	r.then(func(context.Context, *TaskRun) error {
		cp.keepOnly(before, listed)
		return nil
	}, nil)
	return nil
}

// unlinked reports whether no instance links v, a VMM its sled-agent
// runs: a target a committed plan unlinked alive, whose stop (D37) did not
// reach its sled-agent — the watcher asks again. A sled-agent holds a VMM
// only once a saga has linked it (a start links before it registers, a
// migration links its target before it registers it) and forgets it
// before an undo unlinks it, so no saga in flight is stopped.
func (cp *ControlPlane) unlinked(ctx context.Context, src string, v vmmstate.VMM) bool {
	snap, err := cp.cfg.Store.InstanceFetchAll(ctx, v.InstanceID)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return true
	case err != nil:
		cp.failed(ctx, src, "fetch the instance of VMM "+v.ID.String(), err)
		return false
	}
	rt := snap.Instance.Runtime
	return rt.ActiveVMM != v.ID && rt.TargetVMM != v.ID
}

// askOwed is TaskOwedStops's list: every stop owed is taken, and each
// asked again (stopVMM), owed again if no sled-agent takes it or if the
// pass ends before asking it.
func (cp *ControlPlane) askOwed(_ context.Context, r *TaskRun) error {
	owed := cp.takeOwed()
	r.pass.Found = len(owed)
	for _, id := range owed {
		r.then(func(ctx context.Context, r *TaskRun) error {
			src := TaskOwedStops.String()
			if !cp.stopVMM(ctx, src, id) {
				r.pass.Stopped++
			}
			cp.followUps(ctx, src, nil, 0, &r.budget)
			return nil
		}, func() { cp.owe(id) })
	}
	return nil
}

// stalled is TaskStalledSagas.
func (cp *ControlPlane) stalled(ctx context.Context, r *TaskRun) error {
	p := &r.pass
	st, err := sagas.Stalled(ctx, cp.cfg.Log, cp.cfg.Now(), cp.cfg.StallDeadline)
	if err != nil {
		return err
	}
	p.Found, p.Stalled = len(st), st
	for _, s := range st {
		cp.log.LogAttrs(ctx, slog.LevelWarn, "saga not progressing", slog.String("saga", s.Saga.String()),
			slog.String("kind", s.Kind.String()), slog.String("instance", s.Instance.String()),
			slog.String("owner", s.Owner.String()), slog.String("node", s.Node), slog.String("event", s.Event.String()),
			slog.Time("since", s.Since))
	}
	return nil
}

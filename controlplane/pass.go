package controlplane

import (
	"context"
	"errors"
	"log/slog"
)

// A TaskRun is one pass of a background task, run a piece at a time: first
// the query that lists what the pass acts on, then each record it listed —
// one VMM checked, one saga begun, one VMM reaped — each piece reading
// what it acts on afresh, so that a record that changed since the list was
// read is acted on as it is now. RunTask runs a whole pass in one call; a
// driver that interleaves a pass with everything else — a simulator that
// lets sagas and sled-agents move between two checks of the watcher, a
// test that crashes the control plane between two records — begins one
// with BeginTask and calls Step.
//
// A TaskRun belongs to one goroutine; its control plane may meanwhile
// serve reactions and other passes in any number of others. A driver that
// gives up on a pass ends it with a Step on a done context, which hands
// back what the pass took and had not done (the owed stops); a pass left
// unfinished hands back nothing.
type TaskRun struct {
	cp   *ControlPlane
	pass Pass
	todo []piece
	// budget is what the pass's pieces may still run of the follow-ups
	// their checks and recoveries ask for (Config.FollowUpLimit a pass).
	budget int
	err    error
	over   bool
}

// piece is one piece of a pass's work. unrun, when set, hands the piece's
// work back to the control plane when the pass ends before it runs: an
// owed stop is owed again. (What a fleet query listed needs no handing
// back: the next pass lists it again.)
type piece struct {
	run   func(ctx context.Context, r *TaskRun) error
	unrun func()
}

// BeginTask begins a pass of task t, for a driver that runs it a piece at
// a time (Step); nothing is read until the first Step. The error names a
// task that is not one of AllTasks.
func (cp *ControlPlane) BeginTask(t Task) (*TaskRun, error) {
	var list func(context.Context, *TaskRun) error
	switch t {
	case TaskSagaRecovery:
		list = cp.recoverSagas
	case TaskSagaAdoption:
		list = cp.adoptSagas
	case TaskInstanceUpdater:
		list = cp.updateInstances
	case TaskReincarnation:
		list = cp.reincarnate
	case TaskAbandonedVMMReaper:
		list = cp.reap
	case TaskInstanceWatcher:
		list = cp.watch
	case TaskOwedStops:
		list = cp.askOwed
	case TaskStalledSagas:
		list = cp.stalled
	case TaskInstanceReconciler:
		list = cp.reconcileInstances
	default:
		return nil, errors.New("controlplane: task " + t.String() + " (accepted: " + tasksList() + ")")
	}
	return &TaskRun{cp: cp, pass: Pass{Task: t}, todo: []piece{{run: list}}, budget: cp.cfg.FollowUpLimit}, nil
}

// then adds a piece of work at the pass's end; unrun, when not nil, hands
// it back should the pass end first.
func (r *TaskRun) then(run func(context.Context, *TaskRun) error, unrun func()) {
	r.todo = append(r.todo, piece{run: run, unrun: unrun})
}

// Step runs the pass's next piece and reports whether another is left.
// The step that ends the pass — its last piece, a piece whose error stops
// the pass (a failed query), or any step once ctx is done (shutdown,
// D28) — counts and logs the pass and, when the pass left work behind
// (Pass.Again), activates its task. An error about one record does not
// end the pass: it is counted and logged, and the next piece runs. Step
// on a pass that is over does nothing and reports false.
func (r *TaskRun) Step(ctx context.Context) bool {
	if r.over {
		return false
	}
	err := ctx.Err()
	if err == nil {
		p := r.todo[0]
		r.todo[0] = piece{}
		r.todo = r.todo[1:]
		err = p.run(ctx, r)
	}
	if err != nil || len(r.todo) == 0 {
		r.end(ctx, err)
		return false
	}
	return true
}

// Result returns what the pass has done so far, and the error that ended
// it, if one did.
func (r *TaskRun) Result() (Pass, error) { return r.pass, r.err }

// end ends the pass with err: the work it did not reach handed back, the
// pass counted, logged and its task activated when it left work.
func (r *TaskRun) end(ctx context.Context, err error) {
	cp, p := r.cp, &r.pass
	for _, left := range r.todo {
		if left.unrun != nil {
			left.unrun()
		}
	}
	r.todo, r.err, r.over = nil, err, true
	t := p.Task
	cp.count(t.String(), func(c *Counters) {
		c.Passes++
		c.Found += uint64(p.Found)
		c.SagasRecovered += uint64(p.Recovered)
		c.SagasAdopted += uint64(p.Adopted)
		c.SagasAbandoned += uint64(p.Abandoned)
	})
	if err != nil {
		cp.failed(ctx, t.String(), "pass", err)
	}
	if p.Again {
		cp.Activate(t)
	}
	level := slog.LevelDebug
	if p.SagasStarted+p.Recovered+p.Adopted+p.Abandoned+len(p.Stalled) > 0 {
		level = slog.LevelInfo
	}
	cp.log.LogAttrs(ctx, level, "background task pass", slog.String("task", t.String()), slog.Int("found", p.Found),
		slog.Int("sagas_started", p.SagasStarted), slog.Int("recovered", p.Recovered), slog.Int("adopted", p.Adopted),
		slog.Int("abandoned", p.Abandoned), slog.Int("stalled", len(p.Stalled)), slog.Bool("again", p.Again))
}

package controlplane_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
)

// TestReconcilerMeetsWhatNothingElseWill: each intent a process can leave
// unmet when it dies between two writes — a start whose request was
// written and whose saga never began, the start of an instance created to
// run whose create came to rest and whose start never began, a stop whose
// request was written and never sent — is left unmet by every other task,
// and met by the instance reconciler's pass; the pass after finds
// nothing.
func TestReconcilerMeetsWhatNothingElseWill(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave func(*plane) instancestate.ID
		want  instancestate.State // before the reconciler
		met   func(*plane, instancestate.ID)
		sagas int
	}{
		{"start", func(p *plane) instancestate.ID {
			in := p.stopped(1)
			_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendRunning)
			p.must(err)
			return in
		}, instancestate.Stopped, (*plane).boot, 1},
		{"create_to_run", func(p *plane) instancestate.ID {
			in := inst(1)
			_, err := p.cp.SEC().Run(p.ctx, p.cfg.NewID(), &sagas.Create{Instance: instancestate.New(in, true, instancestate.AutoRestart{}, p.clock())}, sagas.RunOptions{})
			p.must(err)
			return in
		}, instancestate.Stopped, (*plane).boot, 1},
		{"stop", func(p *plane) instancestate.ID {
			in := p.create(1)
			_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendStopped)
			p.must(err)
			return in
		}, instancestate.Running, func(p *plane, in instancestate.ID) {
			if st := p.state(in); st != instancestate.Stopping && st != instancestate.Stopped {
				p.t.Errorf("after the reconciler: %v, want stopping or stopped", st)
			}
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlane(t)
			in := tc.leave(p)
			// The process dies; the next runs every task but the reconciler.
			p.cfg.Intervals = map[controlplane.Task]time.Duration{controlplane.TaskInstanceReconciler: -1}
			p.restart(cpA)
			p.tick(0)
			p.tick(time.Hour)
			if st := p.state(in); st != tc.want {
				t.Fatalf("left to the other tasks: %v, want %v still", st, tc.want)
			}
			stops := p.calls(memsled.CallRequestState, nil)
			pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceReconciler)
			p.must(err)
			if pass.Found != 1 || pass.SagasStarted != tc.sagas || pass.Again {
				t.Errorf("the reconciler's pass: %+v; want 1 found, %d sagas", pass, tc.sagas)
			}
			if tc.sagas == 0 && *stops != 1 {
				t.Errorf("%d stops asked of the sled-agent, want 1", *stops)
			}
			tc.met(p, in)
			if pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceReconciler); err != nil || pass.Found != 0 {
				t.Errorf("the next pass: %+v, %v; want nothing found", pass, err)
			}
			p.noErrors()
		})
	}
}

// TestReconcilerPassOverWhatChanged: the reconciler's pass acts on each
// instance as it reads when its piece runs — one whose intent a user
// changed after the list was read, or that was deleted, is passed over,
// with no error and no saga — and begins at most PassLimit, activating
// itself for the rest.
func TestReconcilerPassOverWhatChanged(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) { c.PassLimit = 2 })
	var ins []instancestate.ID
	for n := range uint64(3) {
		in := p.stopped(n + 1)
		_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendRunning)
		p.must(err)
		ins = append(ins, in)
	}
	r, err := p.cp.BeginTask(controlplane.TaskInstanceReconciler)
	p.must(err)
	r.Step(p.ctx) // the list
	// The user stops the first, and deletes the second.
	_, err = p.st.InstanceSetIntendedState(p.ctx, ins[0], instancestate.IntendStopped)
	p.must(err)
	out, err := p.cp.Request(p.ctx, ins[1], instancestate.RequestDelete)
	p.must(err)
	if out.Decision.Action != instancestate.ActionDeleteSaga || out.Saga.Outcome != sagas.Completed {
		t.Fatalf("delete: %+v", out)
	}
	for r.Step(p.ctx) {
	}
	pass, err := r.Result()
	p.must(err)
	if pass.Found != 3 || pass.SagasStarted != 0 || !pass.Again {
		t.Errorf("the pass: %+v; want 3 found, neither of the 2 it reached started, and again", pass)
	}
	if st := p.state(ins[0]); st != instancestate.Stopped {
		t.Errorf("the instance the user stopped meanwhile: %v", st)
	}
	// The activated pass starts the third.
	passes := p.tick(0)
	if started := startedBy(passes, controlplane.TaskInstanceReconciler); started != 1 {
		t.Errorf("the activated pass started %d: %+v", started, passes)
	}
	p.boot(ins[2])
	p.noErrors()
}

// TestReconcilerPassAsManyAsItsLimit: a pass that finds as many as its
// limit begins them all, and leaves nothing behind.
func TestReconcilerPassAsManyAsItsLimit(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) { c.PassLimit = 1 })
	in := p.stopped(1)
	_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendRunning)
	p.must(err)
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceReconciler)
	if err != nil || pass.Found != 1 || pass.SagasStarted != 1 || pass.Again {
		t.Errorf("the pass: %+v, %v; want the one found started, and nothing left", pass, err)
	}
	p.boot(in)
}

// TestReconcilerQueryFails: a pass whose query fails returns the error,
// counted under the task.
func TestReconcilerQueryFails(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) {
		c.Store = &failing{Store: c.Store, op: "find_instances_to_reconcile", err: errBoom}
	})
	if _, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceReconciler); !errors.Is(err, errBoom) {
		t.Errorf("the pass: %v, want the query's error", err)
	}
	if got := p.cp.Stats()[controlplane.TaskInstanceReconciler.String()].Errors; got["other"] != 1 {
		t.Errorf("counted %v; want one error of kind other", got)
	}
}

// TestReconcilerLeavesWhatItDrives: a start the control plane's executor is
// driving, not yet past instance_mark_as_starting, reads as a start that
// never began; the reconciler lists it and leaves it to its saga.
func TestReconcilerLeavesWhatItDrives(t *testing.T) {
	p, q := newQueuedPlane(t)
	in := p.stopped(1)
	q.drain()
	out, err := p.cp.Request(p.ctx, in, instancestate.RequestStart)
	p.must(err)
	if out.Decision.Action != instancestate.ActionStartSaga || len(q.sagas) != 1 {
		t.Fatalf("start: %+v, %d sagas begun", out, len(q.sagas))
	}
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceReconciler)
	p.must(err)
	if pass.Found != 1 || pass.SagasStarted != 0 || len(q.sagas) != 1 {
		t.Errorf("the reconciler's pass while the start is driven: %+v, %d sagas begun; want it found and left", pass, len(q.sagas))
	}
	q.drain()
	p.boot(in)
	p.noErrors()
}

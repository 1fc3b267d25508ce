package controlplane_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestReconcileActsOnEveryNext walks every action instancestate.Next can
// name and checks that Reconcile does what it says: each case sets the
// records up so that Next names it, reconciles once, and checks the
// effect on the records and the sled-agents.
func TestReconcileActsOnEveryNext(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*controlplane.Config)
		setup func(p *plane) instancestate.ID
		want  instancestate.NextKind
		check func(p *plane, in instancestate.ID)
	}{{
		name: "converged: nothing",
		setup: func(p *plane) instancestate.ID {
			return p.create(1)
		},
		want: instancestate.NextNone,
		check: func(p *plane, in instancestate.ID) {
			if n := p.cp.Stats()[controlplane.ReactionReconcile].SagasStarted; n != 0 {
				p.t.Errorf("%d sagas begun", n)
			}
		},
	}, {
		name: "meant to run, never started: start",
		setup: func(p *plane) instancestate.ID {
			in := p.stopped(1)
			_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendRunning)
			p.must(err)
			return in
		},
		want: instancestate.NextStart,
		check: func(p *plane, in instancestate.ID) {
			if got := p.state(in); got != instancestate.Starting {
				p.t.Errorf("state %v, want starting", got)
			}
		},
	}, {
		name: "failed, its cooldown over: restart",
		setup: func(p *plane) instancestate.ID {
			in := inst(1)
			_, err := p.cp.Create(p.ctx, instancestate.New(in, true,
				instancestate.AutoRestart{Policy: instancestate.PolicyBestEffort, Cooldown: time.Hour}, p.clock()))
			p.must(err)
			// The first loss restarts it at once; the second, within the
			// cooldown, leaves it failed.
			for range 2 {
				p.boot(in)
				v := p.snap(in).Active.ID
				p.w.Agent.Vanish(v)
				_, err = p.cp.VMMGone(p.ctx, v, failure.NoSuchInstance)
				p.must(err)
			}
			if got := p.state(in); got != instancestate.Failed {
				p.t.Fatalf("lost its VMM within the cooldown: %v, want failed", got)
			}
			p.advance(2 * time.Hour)
			return in
		},
		want: instancestate.NextReincarnate,
		check: func(p *plane, in instancestate.ID) {
			if got := p.state(in); got != instancestate.Starting {
				p.t.Errorf("state %v, want starting", got)
			}
		},
	}, {
		name: "a report recorded and not acted on: update",
		setup: func(p *plane) instancestate.ID {
			in := p.create(1)
			v := p.snap(in).Active.ID
			rep, err := p.w.Agent.RequestState(p.ctx, p.snap(in).Active, instancestate.SledRequestStopped)
			p.must(err)
			_, err = sagas.RecordReport(p.ctx, p.st, v, rep) // written, no saga run
			p.must(err)
			return in
		},
		want: instancestate.NextRunUpdate,
		check: func(p *plane, in instancestate.ID) {
			if got := p.state(in); got != instancestate.Stopped {
				p.t.Errorf("state %v, want stopped", got)
			}
		},
	}, {
		name: "meant to stop, running: stop",
		setup: func(p *plane) instancestate.ID {
			in := p.create(1)
			_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendStopped)
			p.must(err)
			return in
		},
		want: instancestate.NextStop,
		check: func(p *plane, in instancestate.ID) {
			if got := p.state(in); got != instancestate.Stopped {
				p.t.Errorf("state %v, want stopped", got)
			}
		},
	}, {
		name: "starting past its deadline: inspect, which finds it gone",
		setup: func(p *plane) instancestate.ID {
			in := inst(1)
			_, err := p.cp.Create(p.ctx, instancestate.New(in, true, instancestate.AutoRestart{Policy: instancestate.PolicyNever}, p.clock()))
			p.must(err)
			p.advance(instancestate.DefaultStartingDeadline + time.Minute)
			p.w.Agent.Vanish(p.snap(in).Active.ID)
			return in
		},
		want: instancestate.NextInspect,
		check: func(p *plane, in instancestate.ID) {
			if got := p.state(in); got != instancestate.Failed {
				p.t.Errorf("state %v, want failed: the check proved the VMM gone", got)
			}
		},
	}, {
		name: "a migration stalled: abort, the target stopped",
		edit: func(c *controlplane.Config) {
			c.Policy.Migration.ProgressDeadline = time.Minute
		},
		setup: func(p *plane) instancestate.ID {
			in := p.create(1)
			_, err := p.cp.Migrate(p.ctx, in, p.otherSled(in))
			p.must(err)
			p.advance(2 * time.Minute)
			return in
		},
		want: instancestate.NextAbortMigration,
		check: func(p *plane, in instancestate.ID) {
			s := p.snap(in)
			if !s.Instance.Runtime.TargetVMM.IsZero() || !s.Instance.Runtime.MigrationID.IsZero() {
				p.t.Errorf("after the abort the instance still links %+v", s.Instance.Runtime)
			}
			if got := p.state(in); got != instancestate.Running {
				p.t.Errorf("state %v, want running on the source", got)
			}
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			var edits []func(*controlplane.Config)
			if c.edit != nil {
				edits = append(edits, c.edit)
			}
			p := newPlane(t, edits...)
			in := c.setup(p)
			n, err := p.cp.Reconcile(p.ctx, in)
			p.must(err)
			if n.Action != c.want {
				t.Fatalf("Reconcile: %v (%s), want %v", n.Action, n.Why, c.want)
			}
			c.check(p, in)
			p.noErrors()
		})
	}
}

// TestReconcileAMissingInstance: an instance that does not exist is
// not_found, and no error of the control plane's.
func TestReconcileAMissingInstance(t *testing.T) {
	p := newPlane(t)
	if _, err := p.cp.Reconcile(p.ctx, inst(9)); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("Reconcile of no instance: %v, want not_found", err)
	}
	p.noErrors()
}

// TestCheckVMMObservesAnUnreachableSled: a check that finds the sled
// silent writes nothing and is kept as an observation from its first
// check, which Snapshot gives to every decision (D14, D18); a check that
// gets an answer ends it. Without a Watcher, CheckVMM is an error.
func TestCheckVMMObservesAnUnreachableSled(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	v := p.snap(in).Active.ID
	before := p.snap(in)
	p.w.Agent.Fail = func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if c == memsled.CallCheck {
			return &failure.Outcome{Communication: failure.CommTimeout}
		}
		return nil
	}
	first := p.clock()
	verdict, err := p.cp.CheckVMM(p.ctx, v)
	p.must(err)
	if verdict.Incomplete != failure.IncompleteUnreachable {
		t.Fatalf("a silent sled: %+v", verdict)
	}
	p.advance(time.Minute)
	_, err = p.cp.CheckVMM(p.ctx, v)
	p.must(err)
	s, err := p.cp.Snapshot(p.ctx, in)
	p.must(err)
	if !s.SledUnreachableSince.Equal(first) {
		t.Errorf("unreachable since %v, want the first check's %v", s.SledUnreachableSince, first)
	}
	if got := p.snap(in); got != before {
		t.Errorf("a silent sled changed the records: %+v → %+v", before, got)
	}
	p.w.Agent.Fail = nil
	verdict, err = p.cp.CheckVMM(p.ctx, v)
	p.must(err)
	s, err = p.cp.Snapshot(p.ctx, in)
	p.must(err)
	if !verdict.Healthy || !s.SledUnreachableSince.IsZero() {
		t.Errorf("answered: %+v, unreachable since %v", verdict, s.SledUnreachableSince)
	}
	p.noErrors()

	p.cfg.Watcher = nil
	p.restart(cpA)
	if _, err := p.cp.CheckVMM(p.ctx, v); err == nil || !strings.Contains(err.Error(), "Config.Watcher") {
		t.Errorf("CheckVMM without a Watcher: %v", err)
	}
}

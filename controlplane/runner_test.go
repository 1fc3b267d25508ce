package controlplane_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
)

// queue is a SagaRunner that keeps the sagas it is given until drain runs
// them, first in first out, each to rest on the control plane's executor
// and then passed to Rested — a driver at its simplest.
type queue struct {
	p     *plane
	sagas []queued
	took  []sagas.Kind
}

type queued struct {
	src string
	s   sagas.Saga
}

func (q *queue) RunSaga(_ context.Context, src string, s sagas.Saga) {
	q.sagas = append(q.sagas, queued{src, s})
	q.took = append(q.took, s.Kind())
}

// drain runs every saga queued, and those they ask for, to rest.
func (q *queue) drain() {
	q.p.t.Helper()
	for len(q.sagas) > 0 {
		next := q.sagas[0]
		q.sagas = q.sagas[1:]
		d, err := q.p.cp.SEC().Run(q.p.ctx, q.p.cfg.NewID(), next.s, sagas.RunOptions{})
		q.p.must(err)
		if d.Halted != nil {
			q.p.t.Fatalf("%v saga halted: %v", next.s.Kind(), d.Halted)
		}
		q.p.cp.Rested(q.p.ctx, next.src, next.s, d.Outcome)
	}
}

// newQueuedPlane is a plane whose sagas a queue runs.
func newQueuedPlane(t *testing.T) (*plane, *queue) {
	q := &queue{}
	p := newPlane(t, func(c *controlplane.Config) { c.Runner = q })
	q.p = p
	return p, q
}

// TestRunnerEndsWhereTheCallWould: a life of one instance — created to
// run, booted, stopped, started, migrated, its VMM lost, restarted,
// deleted — leaves the records where it leaves them when each reaction
// runs its sagas itself, and when a Runner runs them instead: the same
// reactions, the same sagas, the same follow-ups.
func TestRunnerEndsWhereTheCallWould(t *testing.T) {
	type seen struct {
		State  instancestate.State
		Intent instancestate.IntendedState
		Sagas  int
	}
	life := func(p *plane, drain func()) []seen {
		var out []seen
		in := inst(1)
		look := func() {
			p.t.Helper()
			drain()
			n := 0
			for _, c := range p.cp.Stats() {
				n += int(c.SagasStarted)
			}
			s, err := p.st.InstanceFetchAll(p.ctx, in)
			if errors.Is(err, datastore.ErrNotFound) {
				out = append(out, seen{instancestate.Destroyed, 0, n})
				return
			}
			p.must(err)
			st, err := instancestate.EffectiveState(s)
			p.must(err)
			out = append(out, seen{st, s.Instance.IntendedState, n})
		}
		_, err := p.cp.Create(p.ctx, instancestate.New(in, true, instancestate.AutoRestart{Policy: instancestate.PolicyBestEffort}, p.clock()))
		p.must(err)
		look()
		p.boot(in)
		look()
		_, err = p.cp.Request(p.ctx, in, instancestate.RequestStop)
		p.must(err)
		look()
		_, err = p.cp.Request(p.ctx, in, instancestate.RequestStart)
		p.must(err)
		look()
		p.boot(in)
		_, err = p.cp.Migrate(p.ctx, in, p.otherSled(in))
		p.must(err)
		look()
		// The active VMM is lost mid-migration: the instance fails, and
		// is restarted (§13.4, §17).
		p.w.Agent.Vanish(p.snap(in).Active.ID)
		_, err = p.cp.VMMGone(p.ctx, p.snap(in).Active.ID, failure.NoSuchInstance)
		p.must(err)
		look()
		p.advance(time.Hour)
		_, err = p.cp.RunTask(p.ctx, controlplane.TaskReincarnation)
		p.must(err)
		p.boot(in)
		for _, r := range []instancestate.Request{instancestate.RequestStop, instancestate.RequestDelete} {
			_, err = p.cp.Request(p.ctx, in, r)
			p.must(err)
			look()
		}
		return out
	}
	direct := newPlane(t)
	want := life(direct, func() {})
	p, q := newQueuedPlane(t)
	got := life(p, q.drain)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("with a Runner (-direct +runner):\n%s", diff)
	}
	if len(q.took) == 0 {
		t.Error("the Runner was given no saga")
	}
}

// TestCreateStartsWhatIsStillMeantToRun: the start that follows a create
// (§16) reads the intent as it is when the create comes to rest — a user
// who stopped the instance meanwhile is not overruled.
func TestCreateStartsWhatIsStillMeantToRun(t *testing.T) {
	p, q := newQueuedPlane(t)
	in := inst(1)
	out, err := p.cp.Create(p.ctx, instancestate.New(in, true, instancestate.AutoRestart{}, p.clock()))
	p.must(err)
	if out.Decision.Status != 201 || out.Saga.Saga != [16]byte{} || len(q.sagas) != 1 {
		t.Fatalf("create with a Runner: %+v, %d queued", out, len(q.sagas))
	}
	create := q.sagas[0]
	q.sagas = nil
	d, err := p.cp.SEC().Run(p.ctx, p.cfg.NewID(), create.s, sagas.RunOptions{})
	p.must(err)
	// The user stops it before the create's follow-up runs.
	r, err := p.cp.Request(p.ctx, in, instancestate.RequestStop)
	p.must(err)
	if !r.Decision.Accepted() || r.Intent != instancestate.IntendStopped {
		t.Fatalf("stop: %+v", r)
	}
	p.cp.Rested(p.ctx, create.src, create.s, d.Outcome)
	if len(q.sagas) != 0 {
		t.Errorf("the create of an instance stopped meanwhile began %v", q.took[1:])
	}
	if got := p.state(in); got != instancestate.Stopped {
		t.Errorf("state %v, want stopped", got)
	}
	// Meant to run, it is started.
	p2, q2 := newQueuedPlane(t)
	_, err = p2.cp.Create(p2.ctx, instancestate.New(in, true, instancestate.AutoRestart{}, p2.clock()))
	p2.must(err)
	q2.drain()
	if want := []sagas.Kind{sagas.KindCreate, sagas.KindStart}; !cmp.Equal(q2.took, want) {
		t.Errorf("a create meant to run began %v, want %v", q2.took, want)
	}
}

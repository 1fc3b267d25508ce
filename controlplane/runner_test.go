package controlplane_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
)

// queue is a SagaRunner that begins each saga it is given on the control
// plane's executor — in the log from then on, as the contract asks — and
// keeps it until drain runs it, first in first out, to rest, then passes
// it to Rested: a driver at its simplest.
type queue struct {
	p     *plane
	sagas []queued
	took  []sagas.Kind
}

type queued struct {
	src string
	x   *sagas.Exec
}

func (q *queue) RunSaga(ctx context.Context, src string, s sagas.Saga) {
	x, err := q.p.cp.SEC().Begin(ctx, q.p.cfg.NewID(), s)
	q.p.must(err)
	q.sagas = append(q.sagas, queued{src, x})
	q.took = append(q.took, s.Kind())
}

// drain runs every saga queued, and those they ask for, to rest.
func (q *queue) drain() {
	q.p.t.Helper()
	for len(q.sagas) > 0 {
		next := q.sagas[0]
		q.sagas = q.sagas[1:]
		q.p.rest(next)
	}
}

// rest runs a queued saga to rest and passes it to Rested.
func (p *plane) rest(q queued) {
	p.t.Helper()
	for !q.x.Done() {
		q.x.Next(p.ctx)
	}
	if err := q.x.Halted(); err != nil {
		p.t.Fatalf("%v saga halted: %v", q.x.Saga().Kind(), err)
	}
	p.cp.Rested(p.ctx, q.src, q.x.Saga(), q.x.Outcome())
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
	for !create.x.Done() {
		create.x.Next(p.ctx)
	}
	// The user stops it before the create's follow-up runs.
	r, err := p.cp.Request(p.ctx, in, instancestate.RequestStop)
	p.must(err)
	if !r.Decision.Accepted() || r.Intent != instancestate.IntendStopped {
		t.Fatalf("stop: %+v", r)
	}
	p.cp.Rested(p.ctx, create.src, create.x.Saga(), create.x.Outcome())
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

// TestAnsweredRequestOutlivesItsProcess: with a Runner, a request is
// answered once its saga is handed over, before any of its nodes has run.
// A process that dies then leaves the saga in the log (SagaRunner's
// contract), and the next process — the same one restarted, or another
// that adopts its sagas — carries it out: the instance is created and
// started, started, or deleted, as the answer said.
func TestAnsweredRequestOutlivesItsProcess(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ask   func(*plane, *queue) instancestate.ID
		check func(*plane, instancestate.ID)
	}{
		{"create_to_run", func(p *plane, _ *queue) instancestate.ID {
			out, err := p.cp.Create(p.ctx, instancestate.New(inst(1), true, instancestate.AutoRestart{}, p.clock()))
			p.must(err)
			if out.Decision.Status != 201 {
				p.t.Fatalf("create: %+v", out)
			}
			return inst(1)
		}, (*plane).boot},
		{"start", func(p *plane, q *queue) instancestate.ID {
			in := p.stopped(1)
			q.drain()
			out, err := p.cp.Request(p.ctx, in, instancestate.RequestStart)
			p.must(err)
			if out.Decision.Action != instancestate.ActionStartSaga {
				p.t.Fatalf("start: %+v", out)
			}
			return in
		}, (*plane).boot},
		{"delete", func(p *plane, q *queue) instancestate.ID {
			in := p.stopped(1)
			q.drain()
			out, err := p.cp.Request(p.ctx, in, instancestate.RequestDelete)
			p.must(err)
			if out.Decision.Action != instancestate.ActionDeleteSaga {
				p.t.Fatalf("delete: %+v", out)
			}
			return in
		}, func(p *plane, in instancestate.ID) {
			if _, err := p.st.InstanceFetchAll(p.ctx, in); !errors.Is(err, datastore.ErrNotFound) {
				p.t.Errorf("the deleted instance reads %v", err)
			}
		}},
	} {
		for _, next := range []uuid.UUID{cpA, cpB} {
			t.Run(tc.name+"/"+map[uuid.UUID]string{cpA: "restarted", cpB: "adopted"}[next], func(t *testing.T) {
				p, q := newQueuedPlane(t)
				in := tc.ask(p, q)
				if len(q.sagas) != 1 {
					t.Fatalf("%d sagas handed over; want the one the answer names", len(q.sagas))
				}
				// The process dies with the saga handed over and not run;
				// the next runs its sagas itself.
				p.cfg.Runner = nil
				p.takeOver(next)
				tc.check(p, in)
				p.settled()
			})
		}
	}
}

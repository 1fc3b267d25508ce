package controlplane_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// stopped creates an instance that does not run.
func (p *plane) stopped(n uint64) instancestate.ID {
	p.t.Helper()
	in := inst(n)
	_, err := p.cp.Create(p.ctx, instancestate.New(in, false, instancestate.AutoRestart{Policy: instancestate.PolicyBestEffort}, p.now))
	p.must(err)
	return in
}

// abandoned creates stopped instance n and has its start unwind at the
// sled-agent's registration (a 500), which leaves the start's VMM
// saga_unwound and linked by nothing: the one VMM VMMListAbandoned lists.
func (p *plane) abandoned(n uint64) (instancestate.ID, vmmstate.ID) {
	p.t.Helper()
	in := p.stopped(n)
	p.calls(memsled.CallRegister, &failure.Outcome{Status: 500})
	out, err := p.cp.Request(p.ctx, in, instancestate.RequestStart)
	p.must(err)
	p.w.Agent.Fail = nil
	if out.Saga.Outcome != sagas.Unwound {
		p.t.Fatalf("start: %+v", out.Saga)
	}
	ids, err := p.st.VMMListAbandoned(p.ctx)
	p.must(err)
	if len(ids) != 1 {
		p.t.Fatalf("abandoned: %v", ids)
	}
	return in, ids[0]
}

// events counts the events an uncrashed run of s writes, on a plane of
// its own set up by setup.
func events(t *testing.T, setup func(*plane) sagas.Saga) int {
	p := newPlane(t)
	s := setup(p)
	d, err := p.cp.SEC().Run(p.ctx, id('g', 1), s, sagas.RunOptions{})
	p.must(err)
	if d.Outcome != sagas.Completed {
		t.Fatalf("uncrashed: %+v", d)
	}
	return d.Events
}

// TestCrashedControlPlaneIsFinished: a control plane dies after each
// durable event of a saga; the next process — under the same identity, or
// another that adopts once the lease has expired — finishes it from its
// tasks alone, and leaves nothing stuck.
func TestCrashedControlPlaneIsFinished(t *testing.T) {
	sagaKinds := []struct {
		name  string
		setup func(*plane) sagas.Saga
		check func(*plane)
	}{
		{"start", func(p *plane) sagas.Saga {
			p.stopped(1)
			if _, err := p.st.InstanceSetIntendedState(p.ctx, inst(1), instancestate.IntendRunning); err != nil {
				p.t.Fatal(err)
			}
			return &sagas.Start{Instance: inst(1), Reason: failure.StartReasonUser}
		}, func(p *plane) { p.boot(inst(1)) }},
		{"delete", func(p *plane) sagas.Saga {
			p.stopped(1)
			return &sagas.Delete{Instance: inst(1)}
		}, func(p *plane) {
			if _, err := p.st.InstanceFetchAll(p.ctx, inst(1)); !errors.Is(err, datastore.ErrNotFound) {
				p.t.Errorf("the deleted instance reads %v", err)
			}
		}},
		{"create", func(p *plane) sagas.Saga {
			return &sagas.Create{Instance: instancestate.New(inst(1), false, instancestate.AutoRestart{}, p.now)}
		}, func(p *plane) {
			if st := p.state(inst(1)); st != instancestate.Stopped {
				p.t.Errorf("created: %v", st)
			}
		}},
		// Created to run: the start that follows the create (§16) is
		// begun by the recovery that brought the create to rest.
		{"create_to_run", func(p *plane) sagas.Saga {
			return &sagas.Create{Instance: instancestate.New(inst(1), true, instancestate.AutoRestart{}, p.now)}
		}, func(p *plane) { p.boot(inst(1)) }},
	}
	for _, sk := range sagaKinds {
		n := events(t, sk.setup)
		for k := range n {
			for _, next := range []uuid.UUID{cpA, cpB} {
				t.Run(fmt.Sprintf("%s/after_%d/%s", sk.name, k, map[uuid.UUID]string{cpA: "restarted", cpB: "adopted"}[next]), func(t *testing.T) {
					p := newPlane(t)
					s := sk.setup(p)
					d, err := p.cp.SEC().Run(p.ctx, id('g', 1), s, sagas.RunOptions{Crash: true, CrashAfter: k})
					p.must(err)
					if !d.Crashed {
						t.Fatalf("did not crash: %+v", d)
					}
					p.takeOver(next)
					p.settled()
					sk.check(p)
					st := p.cp.Stats()
					if next == cpB && st[controlplane.TaskSagaAdoption.String()].SagasAdopted != 1 {
						t.Errorf("adoption counted %+v", st[controlplane.TaskSagaAdoption.String()])
					}
					if st[controlplane.TaskSagaRecovery.String()].SagasRecovered != 1 {
						t.Errorf("recovery counted %+v", st[controlplane.TaskSagaRecovery.String()])
					}
				})
			}
		}
	}
}

// TestAdoptionWaitsForTheLease: sagas of an executor whose lease holds are
// left to it.
func TestAdoptionWaitsForTheLease(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) {
		c.Intervals = map[controlplane.Task]time.Duration{}
		for _, t := range controlplane.AllTasks() {
			c.Intervals[t] = time.Hour
		}
	})
	p.stopped(1)
	_, err := p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Delete{Instance: inst(1)}, sagas.RunOptions{Crash: true, CrashAfter: 1})
	p.must(err)
	p.restart(cpB)
	p.tick(0) // every task's first pass: nothing of its own to recover, nothing adoptable
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskSagaAdoption)
	p.must(err)
	if pass.Found != 1 || pass.Adopted != 0 {
		t.Fatalf("adoption within the lease: %+v", pass)
	}
	p.advance(sagas.DefaultLease + time.Second)
	pass, err = p.cp.RunTask(p.ctx, controlplane.TaskSagaAdoption)
	p.must(err)
	if pass.Adopted != 1 {
		t.Fatalf("adoption after the lease: %+v", pass)
	}
	// Adoption activated recovery: the next tick runs it whatever its
	// interval, and what recovery activates — the tasks that find what
	// a recovered saga asks for — runs in the same tick.
	passes := p.tick(time.Second)
	want := []controlplane.Task{controlplane.TaskSagaRecovery, controlplane.TaskInstanceUpdater,
		controlplane.TaskReincarnation, controlplane.TaskAbandonedVMMReaper}
	var got []controlplane.Task
	for _, ps := range passes {
		got = append(got, ps.Task)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || passes[0].Recovered != 1 {
		t.Fatalf("the tick after adoption: %+v", passes)
	}
}

// TestCancelIsShutdown: a context cancelled mid-saga halts it — no error
// counted, the saga in the log — and the next process finishes it (D28).
func TestCancelIsShutdown(t *testing.T) {
	p := newPlane(t)
	in := p.stopped(1)
	ctx, cancel := context.WithCancel(p.ctx)
	p.w.Agent.Fail = func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if c == memsled.CallRegister {
			cancel()
		}
		return nil
	}
	out, err := p.cp.Request(ctx, in, instancestate.RequestStart)
	p.w.Agent.Fail = nil
	if err != nil || out.Saga.Halted == nil {
		t.Fatalf("Request on a cancelled context: %+v, %v; want a halted saga and no error", out, err)
	}
	st := p.cp.Stats()[controlplane.ReactionRequest]
	if st.SagasHalted != 1 || len(st.Errors) != 0 {
		t.Errorf("counted %+v; want one saga halted, no error", st)
	}
	if _, err := p.cp.Tick(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Tick on a cancelled context: %v", err)
	}
	p.restart(cpA)
	p.tick(time.Minute)
	p.boot(in)
	p.settled()
}

// TestInstanceUpdaterFindsWhatNoReactionSaw: records written past the
// reactions (a report applied straight to the store) are found by the
// fleet query and updated.
func TestInstanceUpdaterFindsWhatNoReactionSaw(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	v := p.snap(in).Instance.Runtime.ActiveVMM
	rep, err := p.w.Agent.Unregister(p.ctx, p.snap(in).Active)
	p.must(err)
	if _, err := sagas.RecordReport(p.ctx, p.st, v, rep); err != nil {
		t.Fatal(err)
	}
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceUpdater)
	p.must(err)
	if pass.Found != 1 || pass.SagasStarted != 1 {
		t.Fatalf("updater pass: %+v", pass)
	}
	// The guest shut down on its own: the instance is stopped, and only
	// the policy restarts (D22) — a shutdown is no failure.
	if s := p.snap(in); s.HasActive() || p.state(in) != instancestate.Stopped {
		t.Fatalf("after the update: %+v", s.Instance.Runtime)
	}
	p.tick(time.Minute)
	p.settled()
}

// TestPassLimit: a pass runs at most PassLimit sagas, and activates its
// task for the rest.
func TestPassLimit(t *testing.T) {
	// n instances whose VMMs stopped, each needing an update.
	needing := func(n uint64) *plane {
		p := newPlane(t, func(c *controlplane.Config) { c.PassLimit = 2 })
		var ins []instancestate.ID
		for k := range n {
			in := p.stopped(k + 1)
			p.cp.Request(p.ctx, in, instancestate.RequestStart)
			ins = append(ins, in)
		}
		for _, in := range ins {
			v := p.snap(in).Active
			rep, err := p.w.Agent.Unregister(p.ctx, v)
			p.must(err)
			if _, err := sagas.RecordReport(p.ctx, p.st, v.ID, rep); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	// As many as the limit: nothing left behind.
	q := needing(2)
	if pass, err := q.cp.RunTask(q.ctx, controlplane.TaskInstanceUpdater); err != nil || pass.SagasStarted != 2 || pass.Again {
		t.Fatalf("a pass that found as many as its limit: %+v, %v", pass, err)
	}
	p := needing(3)
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceUpdater)
	p.must(err)
	if pass.Found != 3 || pass.SagasStarted != 2 || !pass.Again {
		t.Fatalf("first pass: %+v", pass)
	}
	passes := p.tick(time.Second)
	var again *controlplane.Pass
	for i := range passes {
		if passes[i].Task == controlplane.TaskInstanceUpdater {
			again = &passes[i]
		}
	}
	if again == nil || again.SagasStarted == 0 {
		t.Fatalf("the activated pass: %+v", passes)
	}
}

// TestReincarnationAfterCooldown: a failed instance whose cooldown holds
// waits; once it has passed, the reincarnation task restarts it.
func TestReincarnationAfterCooldown(t *testing.T) {
	p := newPlane(t)
	in := inst(1)
	_, err := p.cp.Create(p.ctx, instancestate.New(in, true, instancestate.AutoRestart{Policy: instancestate.PolicyBestEffort, Cooldown: time.Hour}, p.now))
	p.must(err)
	p.boot(in)
	// The start stamped the restart time only for an auto_restart; fail
	// the VMM, which restarts it at once (no restart yet), then fail the
	// new one: the cooldown holds.
	dead := p.snap(in).Instance.Runtime.ActiveVMM
	_, err = p.cp.VMMGone(p.ctx, dead, failure.NoSuchInstance)
	p.must(err)
	p.boot(in)
	second := p.snap(in).Instance.Runtime.ActiveVMM
	if second == dead {
		t.Fatal("the first failure did not restart the instance")
	}
	_, err = p.cp.VMMGone(p.ctx, second, failure.NoSuchInstance)
	p.must(err)
	if s := p.snap(in); s.HasActive() {
		t.Fatalf("restarted within its cooldown: %+v", s.Instance.Runtime)
	}
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskReincarnation)
	p.must(err)
	if pass.Found != 0 {
		t.Fatalf("reincarnation within the cooldown: %+v", pass)
	}
	p.advance(time.Hour + time.Second)
	pass, err = p.cp.RunTask(p.ctx, controlplane.TaskReincarnation)
	p.must(err)
	if pass.Found != 1 || pass.SagasStarted != 1 || !p.snap(in).HasActive() {
		t.Fatalf("reincarnation after the cooldown: %+v, %+v", pass, p.snap(in).Instance.Runtime)
	}
	p.noErrors()
	p.boot(in)
	p.tick(time.Minute)
	p.settled()
}

// TestReaper deletes abandoned VMMs and releases their room, and releases
// room whose VMM is already gone.
func TestReaper(t *testing.T) {
	p := newPlane(t)
	in, abandoned := p.abandoned(1)
	ghost := vmmstate.IDFromUUID(id('v', 9))
	p.must(p.st.ReservationInsert(p.ctx, datastore.Reservation{VMM: ghost, Instance: in, Sled: sledA, TimeCreated: p.now}))
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
	p.must(err)
	if pass.Found != 2 || pass.Reaped != 1 || pass.Released != 1 {
		t.Errorf("reaper found %d, reaped %d, released %d; want the VMM and the leaked reservation", pass.Found, pass.Reaped, pass.Released)
	}
	if row := p.must3(p.st.VMMFetch(p.ctx, abandoned)); row.TimeDeleted.IsZero() {
		t.Errorf("abandoned VMM not deleted: %+v", row)
	}
	p.settled()
	p.noErrors()
}

// TestStalledSagas: a saga no one recovers is reported once it has not
// moved for StallDeadline — logged and counted, never undone (D30).
func TestStalledSagas(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) {
		c.Intervals = map[controlplane.Task]time.Duration{controlplane.TaskSagaRecovery: -1}
	})
	p.stopped(1)
	_, err := p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Start{Instance: inst(1), Reason: failure.StartReasonUser}, sagas.RunOptions{Crash: true, CrashAfter: 3})
	p.must(err)
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskStalledSagas)
	p.must(err)
	if len(pass.Stalled) != 0 {
		t.Fatalf("stalled at once: %+v", pass.Stalled)
	}
	var stalled []sagas.Stall
	for range 7 {
		for _, ps := range p.tick(time.Minute) {
			if ps.Task == controlplane.TaskSagaRecovery {
				t.Fatal("recovery ran while off")
			}
			stalled = append(stalled, ps.Stalled...)
		}
	}
	if len(stalled) == 0 || stalled[0].Saga != id('g', 1) || stalled[0].Instance != inst(1) || stalled[0].Node == "" {
		t.Fatalf("stalled: %+v", stalled)
	}
	if !strings.Contains(p.log.String(), "saga not progressing") {
		t.Errorf("not logged:\n%s", p.log.String())
	}
	unfinished, err := p.st.SagaListUnfinished(p.ctx, uuid.Nil)
	p.must(err)
	if len(unfinished) != 1 {
		t.Errorf("a stalled saga was touched: %+v", unfinished)
	}
}

// TestSchedule: Tick runs a task when it never ran, when its interval has
// passed, or when it was activated; a negative interval turns it off.
func TestSchedule(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) {
		c.Intervals = map[controlplane.Task]time.Duration{controlplane.TaskInstanceWatcher: -1}
	})
	ran := func(passes []controlplane.Pass) []controlplane.Task {
		var out []controlplane.Task
		for _, ps := range passes {
			out = append(out, ps.Task)
		}
		return out
	}
	all := controlplane.AllTasks()
	every := func(keep func(controlplane.Task) bool) []controlplane.Task {
		var out []controlplane.Task
		for _, t := range all {
			if t != controlplane.TaskInstanceWatcher && keep(t) {
				out = append(out, t)
			}
		}
		return out
	}
	steps := []struct {
		advance  time.Duration
		activate []controlplane.Task
		want     []controlplane.Task
	}{
		{0, nil, every(func(controlplane.Task) bool { return true })},
		{time.Second, nil, nil},
		{time.Second, []controlplane.Task{controlplane.TaskReincarnation, controlplane.TaskInstanceWatcher}, []controlplane.Task{controlplane.TaskReincarnation}},
		{28 * time.Second, nil, every(func(t controlplane.Task) bool { return t.DefaultInterval() == 30*time.Second })},
		{29 * time.Second, nil, nil},
		// The activation at 2 s moved reincarnation's next pass to 62 s.
		{2 * time.Second, nil, every(func(t controlplane.Task) bool { return t != controlplane.TaskReincarnation })},
		{time.Second, nil, []controlplane.Task{controlplane.TaskReincarnation}},
	}
	for i, s := range steps {
		for _, t := range s.activate {
			p.cp.Activate(t)
		}
		if got := ran(p.tick(s.advance)); fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("step %d: ran %v, want %v", i, got, s.want)
		}
	}
	for _, task := range all {
		if got := p.cp.Stats()[task.String()].Passes; task == controlplane.TaskInstanceWatcher && got != 0 {
			t.Errorf("the watcher, off, ran %d passes", got)
		}
	}
}

// TestRunStopsOnCancel: Run ticks on the wall clock until its context is
// cancelled, and returns nil: shutdown is not failure.
func TestRunStopsOnCancel(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) { c.Now = time.Now })
	ctx, cancel := context.WithCancel(p.ctx)
	done := make(chan error)
	go func() { done <- p.cp.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for p.cp.Stats()[controlplane.TaskStalledSagas.String()].Passes == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run ran no pass")
		}
		time.Sleep(time.Millisecond)
	}
	p.cp.Activate(controlplane.TaskInstanceUpdater)
	for p.cp.Stats()[controlplane.TaskInstanceUpdater.String()].Passes < 2 {
		if time.Now().After(deadline) {
			t.Fatal("an activation did not wake Run")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

func TestErrorKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{context.Canceled, ""},
		{fmt.Errorf("wrapped: %w", context.Canceled), ""},
		{context.DeadlineExceeded, "timeout"},
		{&datastore.Error{Op: "x", Kind: datastore.KindConflict}, "conflict"},
		{fmt.Errorf("w: %w", &datastore.Error{Op: "x", Kind: datastore.KindLostOwnership}), "lost_ownership"},
		{&sagas.AgentError{Outcome: failure.Outcome{Status: 503}}, "sled_agent"},
		{&sagas.PlacementError{Cause: failure.CauseInsufficientCapacity}, "placement"},
		{&sagas.LogError{Node: "n", Problem: "p"}, "saga_log"},
		{errors.New("boom"), "other"},
		{fmt.Errorf("w: %w", datastore.ErrUnavailable), "unavailable"},
		{errors.Join(datastore.ErrUnavailable, datastore.ErrOutcomeUnknown, context.DeadlineExceeded), "outcome_unknown"},
		{errors.Join(datastore.ErrUnavailable, context.DeadlineExceeded), "timeout"},
	} {
		if got := controlplane.ErrorKind(c.err); got != c.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestConcurrentReactions races users, sled-agents and the tasks over
// the same instances; once they stop, the tasks leave nothing stuck.
func TestConcurrentReactions(t *testing.T) {
	p := newPlane(t)
	p.w.Sleds.Add(sledA, 8)
	p.w.Sleds.Add(sledB, 8)
	ins := []instancestate.ID{p.stopped(1), p.stopped(2), p.stopped(3)}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				in := ins[(g+i)%len(ins)]
				switch i % 4 {
				case 0:
					p.cp.Request(p.ctx, in, instancestate.RequestStart)
				case 1:
					if s, err := p.st.InstanceFetchAll(p.ctx, in); err == nil && s.HasActive() {
						if rep, ok := p.w.Agent.Boot(s.Active.ID); ok {
							p.cp.Report(p.ctx, s.Active.ID, rep)
						}
					}
				case 2:
					if s, err := p.st.InstanceFetchAll(p.ctx, in); err == nil && s.HasActive() && g == 0 {
						p.w.Agent.Vanish(s.Active.ID)
						p.cp.VMMGone(p.ctx, s.Active.ID, failure.NoSuchInstance)
					}
				case 3:
					p.cp.Request(p.ctx, in, instancestate.RequestStop)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			p.advance(10 * time.Second)
			p.cp.Tick(p.ctx)
		}
	}()
	wg.Wait()
	for range 5 {
		p.tick(2 * time.Minute)
	}
	p.settled()
	started := uint64(0)
	for _, n := range p.cp.Stats() {
		started += n.SagasStarted
	}
	if started < 10 {
		t.Errorf("only %d sagas ran: the race raced nothing", started)
	}
	for kind, n := range p.cp.Stats() {
		for k, c := range n.Errors {
			if k != "conflict" && k != "already_locked" && k != "not_found" {
				t.Errorf("%s: %d errors of kind %s", kind, c, k)
			}
		}
	}
}

// TestReapVMM: the reaper's rule for one VMM — reaped only when it is
// destroyable, not deleted, and no live instance links it; anything else
// is left as it is, with no error.
func TestReapVMM(t *testing.T) {
	p := newPlane(t)
	running := p.create(1)
	active := p.snap(running).Active.ID
	_, abandoned := p.abandoned(2)
	// A destroyed VMM its instance still links: recorded, its update not
	// yet run.
	rep, err := p.w.Agent.RequestState(p.ctx, p.snap(running).Active, instancestate.SledRequestStopped)
	p.must(err)
	_, err = sagas.RecordReport(p.ctx, p.st, active, rep)
	p.must(err)
	for _, c := range []struct {
		name string
		vmm  vmmstate.ID
		want bool
	}{
		{"no such VMM", vmmstate.IDFromUUID(id('v', 99)), false},
		{"destroyed, still linked", active, false},
		{"saga_unwound, unlinked", abandoned, true},
		{"deleted already", abandoned, false},
	} {
		got, err := p.cp.ReapVMM(p.ctx, c.vmm)
		p.must(err)
		if got != c.want {
			t.Errorf("%s: ReapVMM = %v, want %v", c.name, got, c.want)
		}
	}
	if row := p.must3(p.st.VMMFetch(p.ctx, abandoned)); row.TimeDeleted.IsZero() {
		t.Errorf("the reaped VMM is not deleted: %+v", row)
	}
	leaked, err := p.st.ReservationListLeaked(p.ctx)
	p.must(err)
	if len(leaked) != 0 {
		t.Errorf("room left behind: %v", leaked)
	}
	p.noErrors()
}

// TestReaperLeavesRoomBeingPlaced: a reservation whose VMM has no record
// yet is a start's in flight as often as a leak — between taking the room
// and inserting the VMM. The reaper leaves it while such a saga is
// unfinished; recovery then brings the start to rest, and nothing leaks.
func TestReaperLeavesRoomBeingPlaced(t *testing.T) {
	for crashAfter := 1; crashAfter < 12; crashAfter++ {
		p := newPlane(t)
		in := p.stopped(1)
		_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendRunning) // the user's start
		p.must(err)
		_, err = p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Start{Instance: in, Reason: failure.StartReasonUser},
			sagas.RunOptions{Crash: true, CrashAfter: crashAfter})
		p.must(err)
		leaked, err := p.st.ReservationListLeaked(p.ctx)
		p.must(err)
		if len(leaked) == 0 {
			continue // no room taken yet, or the VMM inserted already
		}
		if _, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper); err != nil {
			t.Fatal(err)
		}
		after, err := p.st.ReservationListLeaked(p.ctx)
		p.must(err)
		if len(after) != len(leaked) {
			t.Fatalf("crashed after %d events: the reaper released the room of a start in flight: %v → %v", crashAfter, leaked, after)
		}
		p.restart(cpA)
		p.tick(time.Minute)
		p.settled() // at rest, its room held by its VMM
		if n := p.cp.Stats()[controlplane.TaskSagaRecovery.String()].SagasRecovered; n != 1 {
			t.Errorf("recovered %d sagas, want the start", n)
		}
		p.boot(in) // the recovered start completed
		p.noErrors()
		return
	}
	t.Fatal("no crash point left room taken before the VMM was inserted")
}

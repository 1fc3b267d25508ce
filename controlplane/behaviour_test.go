package controlplane_test

import (
	"context"
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

// noErrors fails the test if any task or reaction counted an error.
func (p *plane) noErrors() {
	p.t.Helper()
	for name, c := range p.cp.Stats() {
		if len(c.Errors) > 0 {
			p.t.Errorf("%s counted errors %v", name, c.Errors)
		}
	}
}

// needsNoUpdate fails the test if an instance is left needing an update:
// the reaction that left it there did not run what its sagas asked for.
func (p *plane) needsNoUpdate() {
	p.t.Helper()
	need, err := p.st.FindInstancesNeedingUpdate(p.ctx, p.clock())
	p.must(err)
	if len(need) > 0 {
		p.t.Errorf("instances needing an update: %v", need)
	}
}

// failing is a store whose named operation fails with err.
type failing struct {
	datastore.Store
	op  string
	err error
}

func (f *failing) FindInstancesNeedingUpdate(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	if f.op == "find_instances_needing_update" {
		return nil, f.err
	}
	return f.Store.FindInstancesNeedingUpdate(ctx, now)
}

func (f *failing) FindInstancesToReconcile(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	if f.op == "find_instances_to_reconcile" {
		return nil, f.err
	}
	return f.Store.FindInstancesToReconcile(ctx, now)
}

func (f *failing) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	if f.op == "instance_fetch_all" {
		return instancestate.Snapshot{}, f.err
	}
	return f.Store.InstanceFetchAll(ctx, id)
}

func (f *failing) SledReport(ctx context.Context, id vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	if f.op == "sled_report" {
		return datastore.SledReportResult{}, f.err
	}
	return f.Store.SledReport(ctx, id, r)
}

func (f *failing) VMMMarkFailed(ctx context.Context, id vmmstate.ID, reason failure.Reason, now time.Time) (datastore.Result, error) {
	if f.op == "vmm_mark_failed" {
		return datastore.Result{}, f.err
	}
	return f.Store.VMMMarkFailed(ctx, id, reason, now)
}

// noRelease is sled room whose Release fails.
type noRelease struct {
	sagas.Sleds
	err error
}

func (n noRelease) Release(context.Context, vmmstate.ID) error { return n.err }

func (f *failing) VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	if f.op == "vmm_mark_deleted" {
		return datastore.Result{}, f.err
	}
	return f.Store.VMMMarkDeleted(ctx, id, now)
}

func TestNewRefusesEachNegativeSetting(t *testing.T) {
	p := newPlane(t)
	for _, c := range []struct {
		field string
		edit  func(*controlplane.Config)
	}{
		{"Lease", func(c *controlplane.Config) { c.Lease = -1 }},
		{"MaxRecoveries", func(c *controlplane.Config) { c.MaxRecoveries = -1 }},
		{"StallDeadline", func(c *controlplane.Config) { c.StallDeadline = -1 }},
		{"PassLimit", func(c *controlplane.Config) { c.PassLimit = -1 }},
		{"FollowUpLimit", func(c *controlplane.Config) { c.FollowUpLimit = -1 }},
	} {
		cfg := p.cfg
		c.edit(&cfg)
		if _, err := controlplane.New(cfg); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s negative: %v; want an error naming it", c.field, err)
		}
		cfg = p.cfg
		if _, err := controlplane.New(cfg); err != nil {
			t.Errorf("zero settings: %v", err)
		}
	}
}

// TestDefaultStallDeadline: with no StallDeadline, a saga is reported
// once it has not moved for five minutes, not before.
func TestDefaultStallDeadline(t *testing.T) {
	p := newPlane(t)
	p.stopped(1)
	_, err := p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Start{Instance: inst(1), Reason: failure.StartReasonUser}, sagas.RunOptions{Crash: true, CrashAfter: 2})
	p.must(err)
	p.advance(controlplane.DefaultStallDeadline - time.Second)
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskStalledSagas)
	p.must(err)
	if len(pass.Stalled) != 0 {
		t.Errorf("reported before the deadline: %+v", pass.Stalled)
	}
	p.advance(2 * time.Second)
	pass, err = p.cp.RunTask(p.ctx, controlplane.TaskStalledSagas)
	p.must(err)
	if len(pass.Stalled) != 1 || pass.Found != 1 {
		t.Errorf("past the deadline: %+v", pass)
	}
}

// TestTaskNamesAndIntervals: every task's name parses back, exactly as
// spelled, and runs at its documented default.
func TestTaskNamesAndIntervals(t *testing.T) {
	want := map[controlplane.Task]time.Duration{
		controlplane.TaskSagaRecovery: 30 * time.Second, controlplane.TaskSagaAdoption: 30 * time.Second,
		controlplane.TaskInstanceUpdater: 30 * time.Second, controlplane.TaskInstanceWatcher: 30 * time.Second,
		controlplane.TaskReincarnation: time.Minute, controlplane.TaskAbandonedVMMReaper: time.Minute,
		controlplane.TaskStalledSagas: time.Minute, controlplane.TaskOwedStops: 30 * time.Second,
		controlplane.TaskInstanceReconciler: time.Minute,
	}
	if len(controlplane.AllTasks()) != len(want) {
		t.Fatalf("AllTasks: %v", controlplane.AllTasks())
	}
	for _, task := range controlplane.AllTasks() {
		if got := task.DefaultInterval(); got != want[task] {
			t.Errorf("%v.DefaultInterval() = %v, want %v", task, got, want[task])
		}
		if back, err := controlplane.ParseTask(task.String()); err != nil || back != task {
			t.Errorf("ParseTask(%q) = %v, %v", task.String(), back, err)
		}
		if _, err := controlplane.ParseTask(strings.ToUpper(task.String())); err == nil {
			t.Errorf("ParseTask accepted %q", strings.ToUpper(task.String()))
		}
	}
	if controlplane.Task(0).DefaultInterval() != 0 {
		t.Error("the zero task has an interval")
	}
	p := newPlane(t)
	_, err := p.cp.RunTask(p.ctx, 99)
	wantMsg := "accepted: saga_recovery, saga_adoption, instance_updater, instance_reincarnation, abandoned_vmm_reaper, instance_watcher, owed_vmm_stops, saga_stalled, instance_reconciler)"
	if err == nil || !strings.HasSuffix(err.Error(), wantMsg) {
		t.Errorf("RunTask(99) = %v; want an error ending %q", err, wantMsg)
	}
}

// TestZeroIntervalRunsEveryTick: an interval of zero runs the task at
// every tick; a negative one never.
func TestZeroIntervalRunsEveryTick(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) {
		c.Intervals = map[controlplane.Task]time.Duration{controlplane.TaskStalledSagas: 0, controlplane.TaskInstanceWatcher: -1}
	})
	for range 3 {
		p.tick(0)
	}
	st := p.cp.Stats()
	if n := st[controlplane.TaskStalledSagas.String()].Passes; n != 3 {
		t.Errorf("interval 0: %d passes in 3 ticks", n)
	}
	if n := st[controlplane.TaskInstanceWatcher.String()].Passes; n != 0 {
		t.Errorf("interval -1: %d passes", n)
	}
	if n := st[controlplane.TaskSagaRecovery.String()].Passes; n != 1 {
		t.Errorf("default interval: %d passes in 3 ticks at one time", n)
	}
}

// TestPassesAreCounted: each call of a reaction and each pass of a task
// counts once.
func TestPassesAreCounted(t *testing.T) {
	p := newPlane(t)
	in := p.create(1) // Create, and a Report
	p.cp.Migrate(p.ctx, in, sledB)
	p.cp.Request(p.ctx, in, instancestate.RequestReboot)
	p.cp.VMMGone(p.ctx, vmmstate.IDFromUUID(id('v', 99)), failure.NoSuchInstance)
	p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
	st := p.cp.Stats()
	for name, want := range map[string]uint64{controlplane.ReactionCreate: 1, controlplane.ReactionReport: 1,
		controlplane.ReactionMigrate: 1, controlplane.ReactionRequest: 1, controlplane.ReactionGone: 1,
		controlplane.TaskAbandonedVMMReaper.String(): 1} {
		if st[name].Passes != want {
			t.Errorf("%s: %d passes, want %d", name, st[name].Passes, want)
		}
	}
	if st[controlplane.ReactionReport].SagasStarted != 0 {
		t.Errorf("a report that asked for no update ran %d sagas", st[controlplane.ReactionReport].SagasStarted)
	}
	p.noErrors()
}

// TestOutcomesAreLogged: a saga that does not complete is logged; one that
// completes is not.
func TestOutcomesAreLogged(t *testing.T) {
	p := newPlane(t)
	p.create(1)
	if strings.Contains(p.log.String(), "saga did not complete") {
		t.Errorf("a completed saga was logged:\n%s", p.log.String())
	}
	in := p.stopped(2)
	p.w.Agent.Fail = func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if c == memsled.CallRegister {
			return &failure.Outcome{Status: 500}
		}
		return nil
	}
	p.cp.Request(p.ctx, in, instancestate.RequestStart)
	if !strings.Contains(p.log.String(), "saga did not complete") || !strings.Contains(p.log.String(), "outcome=unwound") {
		t.Errorf("an unwound saga was not logged:\n%s", p.log.String())
	}
}

// TestPassLogLevel: a pass that did something is logged at info, one that
// did nothing only at debug — whichever of its counts is the one set.
func TestPassLogLevel(t *testing.T) {
	lines := func(p *plane) int { return strings.Count(p.log.String(), "background task pass") }
	t.Run("nothing", func(t *testing.T) {
		p := newPlane(t)
		p.tick(0)
		if n := lines(p); n != 0 {
			t.Errorf("%d passes that did nothing logged at info:\n%s", n, p.log.String())
		}
	})
	t.Run("recovered", func(t *testing.T) {
		p := newPlane(t)
		p.stopped(1)
		_, err := p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Delete{Instance: inst(1)}, sagas.RunOptions{Crash: true, CrashAfter: 1})
		p.must(err)
		p.cp.RunTask(p.ctx, controlplane.TaskSagaRecovery)
		if lines(p) != 1 {
			t.Errorf("a pass that recovered a saga:\n%s", p.log.String())
		}
	})
	t.Run("adopted", func(t *testing.T) {
		p := newPlane(t)
		p.stopped(1)
		_, err := p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Delete{Instance: inst(1)}, sagas.RunOptions{Crash: true, CrashAfter: 1})
		p.must(err)
		p.restart(cpB)
		p.advance(2 * sagas.DefaultLease)
		pass, _ := p.cp.RunTask(p.ctx, controlplane.TaskSagaAdoption)
		if pass.Adopted != 1 || lines(p) != 1 {
			t.Errorf("a pass that adopted a saga (%+v):\n%s", pass, p.log.String())
		}
	})
	t.Run("abandoned", func(t *testing.T) {
		p := newPlane(t)
		rec := datastore.SagaRecord{ID: id('g', 1), Name: "delete", Params: []byte(`{}`), State: datastore.SagaRunning,
			Creator: cpA, TimeCreated: p.clock(), CurrentSEC: cpA, AdoptGeneration: 1, AdoptTime: p.clock(), Version: sagas.LogVersion + 1}
		p.must(p.st.SagaCreate(p.ctx, rec))
		pass, _ := p.cp.RunTask(p.ctx, controlplane.TaskSagaRecovery)
		if pass.Abandoned != 1 || pass.Recovered != 0 || lines(p) != 1 {
			t.Errorf("a pass that abandoned a saga (%+v):\n%s", pass, p.log.String())
		}
		if !strings.Contains(p.log.String(), "saga abandoned") {
			t.Errorf("the abandonment is not logged:\n%s", p.log.String())
		}
		if n := p.cp.Stats()[controlplane.TaskSagaRecovery.String()].SagasAbandoned; n != 1 {
			t.Errorf("counted %d abandoned", n)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		p := newPlane(t, func(c *controlplane.Config) { c.StallDeadline = time.Minute })
		p.stopped(1)
		_, err := p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Delete{Instance: inst(1)}, sagas.RunOptions{Crash: true, CrashAfter: 1})
		p.must(err)
		p.advance(2 * time.Minute)
		p.cp.RunTask(p.ctx, controlplane.TaskStalledSagas)
		if lines(p) != 1 {
			t.Errorf("a pass that found a stalled saga:\n%s", p.log.String())
		}
	})
}

// TestRecoveryHaltIsCounted: a recovery cut short by shutdown counts the
// saga halted, not recovered, and no error.
func TestRecoveryHaltIsCounted(t *testing.T) {
	p := newPlane(t)
	p.stopped(1)
	_, err := p.st.InstanceSetIntendedState(p.ctx, inst(1), instancestate.IntendRunning)
	p.must(err)
	_, err = p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Start{Instance: inst(1), Reason: failure.StartReasonUser}, sagas.RunOptions{Crash: true, CrashAfter: 3})
	p.must(err)
	ctx, cancel := context.WithCancel(p.ctx)
	p.w.Agent.Fail = func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if c == memsled.CallRegister {
			cancel()
		}
		return nil
	}
	p.restart(cpA)
	pass, _ := p.cp.RunTask(ctx, controlplane.TaskSagaRecovery)
	st := p.cp.Stats()[controlplane.TaskSagaRecovery.String()]
	if pass.Recovered != 0 || st.SagasHalted != 1 || len(st.Errors) != 0 {
		t.Errorf("pass %+v, counters %+v; want one saga halted, none recovered, no error", pass, st)
	}
}

// TestAdoptionSkipsItself: a control plane does not adopt its own sagas,
// however long ago its lease expired: it recovers them.
func TestAdoptionSkipsItself(t *testing.T) {
	p := newPlane(t)
	p.stopped(1)
	_, err := p.cp.SEC().Run(p.ctx, id('g', 1), &sagas.Delete{Instance: inst(1)}, sagas.RunOptions{Crash: true, CrashAfter: 1})
	p.must(err)
	p.restart(cpA)
	p.advance(time.Hour)
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskSagaAdoption)
	p.must(err)
	if pass.Found != 0 || pass.Adopted != 0 {
		t.Errorf("adoption of its own sagas: %+v", pass)
	}
}

// TestErrorsAreCountedByKind: a pass whose query fails returns the error
// and counts it; a failure on one record is counted and the pass goes on;
// shutdown is not counted.
func TestErrorsAreCountedByKind(t *testing.T) {
	boom := errors.New("boom")
	p := newPlane(t, func(c *controlplane.Config) {
		c.Store = &failing{Store: c.Store, op: "find_instances_needing_update", err: boom}
	})
	if _, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceUpdater); !errors.Is(err, boom) {
		t.Errorf("the updater's pass: %v, want the query's error", err)
	}
	if got := p.cp.Stats()[controlplane.TaskInstanceUpdater.String()].Errors; got["other"] != 1 {
		t.Errorf("counted %v; want one error of kind other", got)
	}

	// The reaper: deleting one VMM fails; the error is counted, the pass
	// returns none.
	p = newPlane(t)
	p.abandoned(1)
	p.cfg.Store = &failing{Store: p.st, op: "vmm_mark_deleted", err: &datastore.Error{Op: "vmm_mark_deleted", Kind: datastore.KindConflict}}
	p.restart(cpA)
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
	if err != nil || pass.Found != 1 {
		t.Errorf("reaper pass: %+v, %v", pass, err)
	}
	if got := p.cp.Stats()[controlplane.TaskAbandonedVMMReaper.String()].Errors; got["conflict"] != 1 || len(got) != 1 {
		t.Errorf("reaper counted %v; want one conflict", got)
	}

	// Shutdown in the middle of a pass is no error.
	p = newPlane(t)
	p.create(1)
	rep, err := p.w.Agent.Unregister(p.ctx, p.snap(inst(1)).Active)
	p.must(err)
	_, err = sagas.RecordReport(p.ctx, p.st, p.snap(inst(1)).Active.ID, rep)
	p.must(err)
	ctx, cancel := context.WithCancel(p.ctx)
	cancel()
	if _, err := p.cp.RunTask(ctx, controlplane.TaskInstanceUpdater); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled pass: %v", err)
	}
	p.noErrors()
}

// TestFollowUpsWithinTheReaction: what a reaction's saga asks for — an
// update after a VMM proved gone at registration — runs before the
// reaction returns, for Request, Migrate and Create alike.
func TestFollowUpsWithinTheReaction(t *testing.T) {
	goneAtRegister := func(p *plane) {
		p.w.Agent.Fail = func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
			if c == memsled.CallRegister {
				return &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}
			}
			return nil
		}
	}
	t.Run("request", func(t *testing.T) {
		p := newPlane(t)
		in := p.stopped(1)
		goneAtRegister(p)
		p.cp.Request(p.ctx, in, instancestate.RequestStart)
		p.needsNoUpdate()
	})
	t.Run("create", func(t *testing.T) {
		p := newPlane(t)
		goneAtRegister(p)
		_, err := p.cp.Create(p.ctx, instancestate.New(inst(1), true, instancestate.AutoRestart{Policy: instancestate.PolicyNever}, p.clock()))
		p.must(err)
		p.needsNoUpdate()
	})
	t.Run("migrate", func(t *testing.T) {
		p := newPlane(t)
		in := p.create(1)
		goneAtRegister(p)
		dest := p.otherSled(in)
		_, err := p.cp.Migrate(p.ctx, in, dest)
		p.must(err)
		p.needsNoUpdate()
	})
}

// TestFollowUpLimit: past FollowUpLimit sagas, a reaction leaves the rest
// to the tasks it activates.
func TestFollowUpLimit(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) { c.FollowUpLimit = 1 })
	in := p.create(1)
	dead := p.snap(in).Instance.Runtime.ActiveVMM
	p.w.Agent.Vanish(dead)
	_, err := p.cp.VMMGone(p.ctx, dead, failure.NoSuchInstance)
	p.must(err)
	if p.snap(in).HasActive() {
		t.Fatalf("the restart ran within a follow-up budget of one: %+v", p.snap(in).Instance.Runtime)
	}
	passes := p.tick(0)
	if !p.snap(in).HasActive() {
		t.Fatalf("the tasks did not restart it: %+v", passes)
	}
}

// TestCreateThatUnwindsStartsNothing: a create refused by the store (an id
// that names another instance, D29) unwinds; no start saga follows, and
// the decision is not a success.
func TestCreateThatUnwindsStartsNothing(t *testing.T) {
	p := newPlane(t)
	p.stopped(1)
	out, err := p.cp.Create(p.ctx, instancestate.New(inst(1), true, instancestate.AutoRestart{}, p.clock().Add(time.Hour)))
	p.must(err)
	if out.Saga.Outcome == sagas.Completed || out.Decision.Status == 201 {
		t.Errorf("create of a used id: %+v", out)
	}
	if n := p.cp.Stats()[controlplane.ReactionCreate].SagasStarted; n != 2 { // the first create's and this one's
		t.Errorf("creates ran %d sagas, want 2 (no start)", n)
	}
}

// TestSledRequests: a stop that finds the VMM gone records its death; a
// sled-agent error that proves nothing is returned and writes nothing.
func TestSledRequests(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	v := p.snap(in).Instance.Runtime.ActiveVMM
	p.w.Agent.Fail = func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if c == memsled.CallRequestState {
			return &failure.Outcome{Status: 503}
		}
		return nil
	}
	out, err := p.cp.Request(p.ctx, in, instancestate.RequestReboot)
	var ae *sagas.AgentError
	if !errors.As(err, &ae) || out.Report.VMM.Applied {
		t.Errorf("reboot through a sled-agent that answers 503: %+v, %v", out, err)
	}
	if row := p.must3(p.st.VMMFetch(p.ctx, v)); row.VMM.Runtime.State.Kind() != vmmstate.KindRunning {
		t.Errorf("after a 503 the VMM is %v", row.VMM.Runtime.State)
	}
	if got := p.cp.Stats()[controlplane.ReactionRequest].Errors; got["sled_agent"] != 1 {
		t.Errorf("counted %v", got)
	}
	p.w.Agent.Fail = nil
	p.w.Agent.Vanish(v)
	out, err = p.cp.Request(p.ctx, in, instancestate.RequestStop)
	p.must(err)
	if !out.Report.VMM.Applied {
		t.Errorf("stop of a VMM its agent lost: %+v", out)
	}
	if row := p.must3(p.st.VMMFetch(p.ctx, v)); row.VMM.Runtime.State.Kind() != vmmstate.KindFailed {
		t.Errorf("the lost VMM is %v, want failed", row.VMM.Runtime.State)
	}
	p.needsNoUpdate()
}

// TestStopOwedToALiveTarget (D37): a migration's source dies while its
// target is registered; the update plan unlinks the target alive, and the
// control plane stops it.
func TestStopOwedToALiveTarget(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	src := p.snap(in).Active
	dest := p.otherSled(in)
	out, err := p.cp.Migrate(p.ctx, in, dest)
	p.must(err)
	if out.Saga.Outcome != sagas.Completed {
		t.Fatalf("migrate: %+v", out)
	}
	target := p.snap(in).Instance.Runtime.TargetVMM
	if _, held := p.w.Agent.Holds(target); !held {
		t.Fatal("the target is not registered")
	}
	p.w.Agent.Vanish(src.ID)
	_, err = p.cp.VMMGone(p.ctx, src.ID, failure.NoSuchInstance)
	p.must(err)
	if _, held := p.w.Agent.Holds(target); held {
		t.Errorf("the target %v the plan unlinked still runs", target)
	}
	p.noErrors()
	p.tick(time.Minute)
	p.settled()
}

// TestReincarnationPassLimit: reincarnation starts at most PassLimit
// instances a pass, and activates itself for the rest.
func TestReincarnationPassLimit(t *testing.T) {
	// n instances whose VMMs were lost, updated and waiting for a restart.
	lost := func(n uint64) *plane {
		p := newPlane(t, func(c *controlplane.Config) { c.FollowUpLimit, c.PassLimit = 1, 1 })
		for k := range n {
			in := p.create(k + 1)
			dead := p.snap(in).Instance.Runtime.ActiveVMM
			p.w.Agent.Vanish(dead)
			_, err := p.cp.VMMGone(p.ctx, dead, failure.NoSuchInstance) // the update runs; the restart is left
			p.must(err)
		}
		return p
	}
	// As many as the limit: nothing left behind.
	q := lost(1)
	if pass, err := q.cp.RunTask(q.ctx, controlplane.TaskReincarnation); err != nil || pass.Found != 1 || pass.SagasStarted != 1 || pass.Again {
		t.Fatalf("a pass that found as many as its limit: %+v, %v", pass, err)
	}
	p := lost(2)
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskReincarnation)
	p.must(err)
	if pass.Found != 2 || pass.SagasStarted != 1 || !pass.Again {
		t.Fatalf("first pass: %+v", pass)
	}
	passes := p.tick(0)
	if started := startedBy(passes, controlplane.TaskReincarnation); started != 1 {
		t.Errorf("the activated pass started %d: %+v", started, passes)
	}
}

// TestWatcherVerdicts: the watcher records an answer, records a proof of
// death, and does nothing — no error — for a sled that cannot be reached
// and may be on; a store that fails either write counts the error.
func TestWatcherVerdicts(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	p.calls(memsled.CallCheck, &failure.Outcome{Communication: failure.CommTimeout}) // every check times out
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
	p.must(err)
	if pass.Found != 1 || p.state(in) != instancestate.Running {
		t.Errorf("an unreachable sled: pass %+v, state %v", pass, p.state(in))
	}
	p.noErrors()

	boom := errors.New("boom")
	for _, c := range []struct {
		op     string
		vanish bool
	}{{"sled_report", false}, {"vmm_mark_failed", true}} {
		p := newPlane(t)
		in := p.create(1)
		if c.vanish {
			p.w.Agent.Vanish(p.snap(in).Instance.Runtime.ActiveVMM)
		}
		p.cfg.Store = &failing{Store: p.st, op: c.op, err: boom}
		p.restart(cpA)
		if _, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher); err != nil {
			t.Errorf("%s failing: the pass returned %v; one VMM's failure is not the pass's", c.op, err)
		}
		if got := p.cp.Stats()[controlplane.TaskInstanceWatcher.String()].Errors; got["other"] != 1 {
			t.Errorf("%s failing: counted %v", c.op, got)
		}
	}
}

// TestReaperErrors: a VMM already deleted is no error; room that cannot be
// released is counted, for an abandoned VMM and for a leaked reservation.
func TestReaperErrors(t *testing.T) {
	setup := func(t *testing.T) *plane {
		p := newPlane(t)
		p.abandoned(1)
		return p
	}
	p := setup(t)
	p.cfg.Store = &failing{Store: p.st, op: "vmm_mark_deleted", err: &datastore.Error{Op: "vmm_mark_deleted", Kind: datastore.KindNotFound}}
	p.restart(cpA)
	p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
	p.noErrors()

	p = setup(t)
	ghost := vmmstate.IDFromUUID(id('v', 9))
	p.must(p.st.ReservationInsert(p.ctx, datastore.Reservation{VMM: ghost, Instance: inst(1), Sled: sledA, TimeCreated: p.clock()}))
	p.cfg.Sleds = noRelease{Sleds: p.w.Sleds, err: errors.New("boom")}
	p.restart(cpA)
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
	if err != nil || pass.Found != 2 {
		t.Errorf("reaper with room that will not release: %+v, %v", pass, err)
	}
	if got := p.cp.Stats()[controlplane.TaskAbandonedVMMReaper.String()].Errors; got["other"] != 2 {
		t.Errorf("counted %v; want the abandoned VMM's and the leaked reservation's", got)
	}
}

// TestFollowUpsAreCounted: the sagas a reaction runs after its own are
// counted with it — and a reaction whose saga asked for nothing runs none.
func TestFollowUpsAreCounted(t *testing.T) {
	goneAtRegister := func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if c == memsled.CallRegister {
			return &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}
		}
		return nil
	}
	p := newPlane(t)
	in := p.stopped(1)
	p.w.Agent.Fail = goneAtRegister
	p.cp.Request(p.ctx, in, instancestate.RequestStart)
	if n := p.cp.Stats()[controlplane.ReactionRequest].SagasStarted; n != 2 {
		t.Errorf("a start whose VMM was proved gone: %d sagas, want the start and the update it asked for", n)
	}

	p = newPlane(t)
	p.w.Agent.Fail = goneAtRegister
	p.cp.Create(p.ctx, instancestate.New(inst(1), true, instancestate.AutoRestart{Policy: instancestate.PolicyNever}, p.clock()))
	if n := p.cp.Stats()[controlplane.ReactionCreate].SagasStarted; n != 3 {
		t.Errorf("a create whose start's VMM was proved gone: %d sagas, want create, start and update", n)
	}

	p = newPlane(t)
	in = p.create(1)
	dest := p.otherSled(in)
	out, err := p.cp.Migrate(p.ctx, in, dest)
	p.must(err)
	if n := p.cp.Stats()[controlplane.ReactionMigrate].SagasStarted; out.Saga.Outcome != sagas.Completed || n != 1 {
		t.Errorf("a migration that completed: %v, %d sagas; want the migrate saga alone", out.Saga.Outcome, n)
	}
}

// TestStopOwedThatFails: a D37 stop the target's sled-agent refuses is
// counted, not lost silently.
func TestStopOwedThatFails(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	src := p.snap(in).Active
	dest := p.otherSled(in)
	_, err := p.cp.Migrate(p.ctx, in, dest)
	p.must(err)
	target := p.snap(in).Instance.Runtime.TargetVMM
	p.w.Agent.Fail = func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if c == memsled.CallRequestState {
			return &failure.Outcome{Status: 503}
		}
		return nil
	}
	p.w.Agent.Vanish(src.ID)
	_, err = p.cp.VMMGone(p.ctx, src.ID, failure.NoSuchInstance)
	p.must(err)
	if got := p.cp.Stats()["update"].Errors; got["sled_agent"] != 1 {
		t.Errorf("counted %v; want the refused stop", got)
	}
	// The watcher finds the target running with nothing linking it, and
	// asks again: refused again, it is left for the next pass; taken, the
	// target stops, and a pass after that has nothing to ask.
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
	p.must(err)
	if _, held := p.w.Agent.Holds(target); pass.Stopped != 1 || !held {
		t.Errorf("a stop refused again: pass %+v, held %v", pass, held)
	}
	p.w.Agent.Fail = nil
	pass, err = p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
	p.must(err)
	if pass.Stopped != 1 {
		t.Errorf("the stop taken: pass %+v", pass)
	}
	if st, held := p.w.Agent.Holds(target); held && !st.IsTerminal() && st != vmmstate.SledAgentStopping {
		t.Errorf("the target %v the watcher asked to stop reports %v", target, st)
	}
	p.tick(time.Minute)
	pass, err = p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
	p.must(err)
	if pass.Stopped != 0 {
		t.Errorf("a stopped target asked again: pass %+v", pass)
	}
	p.settled()
}

// TestWatcherAsksOnlyWhatItKnows: the watcher asks a VMM to stop only when
// the records say nothing links it — an instance gone is nothing linking
// it; an instance it could not read is no verdict, counted, and no stop.
func TestWatcherAsksOnlyWhatItKnows(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		err     error
		stopped int
		errors  string
	}{
		{&datastore.Error{Op: "instance_fetch_all", Kind: datastore.KindNotFound}, 1, ""},
		{boom, 0, "other"},
	} {
		p := newPlane(t)
		p.create(1)
		p.cfg.Store = &failing{Store: p.st, op: "instance_fetch_all", err: c.err}
		p.restart(cpA)
		pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
		p.must(err)
		got := p.cp.Stats()[controlplane.TaskInstanceWatcher.String()].Errors
		if pass.Stopped != c.stopped || (c.errors != "" && got[c.errors] != 1) || (c.errors == "" && len(got) != 0) {
			t.Errorf("instance fetch answering %v: pass %+v, errors %v; want %d stopped, error %q", c.err, pass, got, c.stopped, c.errors)
		}
	}
}

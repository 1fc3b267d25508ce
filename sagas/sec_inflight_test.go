package sagas_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// blockingAgent holds the first Register until release is closed, telling
// entered when it begins: a saga caught mid-node. Later calls pass.
type blockingAgent struct {
	sagas.SledAgent
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (a *blockingAgent) Register(ctx context.Context, v vmmstate.VMM, mig migration.ID) (instancestate.Report, error) {
	if a.calls.Add(1) == 1 {
		close(a.entered)
		<-a.release
	}
	return a.SledAgent.Register(ctx, v, mig)
}

// otherInst is an instance no saga of these tests is for.
var otherInst = vmmstate.InstanceIDFromUUID(id('i', 99))

// TestRecoverPassesOverSagasInFlight: a saga one goroutine is running is
// in flight, not unfinished — a Recover of the same executor (the saga
// recovery task of a live control plane) leaves it alone, and a second
// Run under its id is refused; once it rests, nothing is left to recover.
func TestRecoverPassesOverSagasInFlight(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	agent := &blockingAgent{SledAgent: f.w.Env.Agent, entered: make(chan struct{}), release: make(chan struct{})}
	env := *f.w.Env
	env.Agent = agent
	c := &sagas.SEC{ID: secA, Log: f.st, Env: &env}

	done := make(chan sagas.Durable)
	go func() {
		d, err := c.Run(f.ctx, sagaID, &sagas.Start{Instance: instID, Reason: 1}, sagas.RunOptions{})
		if err != nil {
			t.Error(err)
		}
		done <- d
	}()
	<-agent.entered // ensure_registered has started: the saga is mid-node
	if !c.Driving(sagas.KindStart) || c.Driving(sagas.KindUpdate, sagas.KindMigrate) || c.Driving() || c.Driving(0, 99) {
		t.Errorf("Driving mid-node: start %v, update or migrate %v", c.Driving(sagas.KindStart), c.Driving(sagas.KindUpdate, sagas.KindMigrate))
	}
	if !c.DrivingInstance(instID) || c.DrivingInstance(otherInst) || c.DrivingInstance(instancestate.ID{}) {
		t.Errorf("DrivingInstance mid-node: its instance %v, another %v, the nil id %v",
			c.DrivingInstance(instID), c.DrivingInstance(otherInst), c.DrivingInstance(instancestate.ID{}))
	}

	got, err := c.Recover(f.ctx)
	f.must(err)
	if len(got) != 0 {
		t.Errorf("Recover ran %d sagas in flight on the same executor: %+v", len(got), got)
	}
	if _, err := c.Run(f.ctx, sagaID, &sagas.Start{Instance: instID, Reason: 1}, sagas.RunOptions{}); err == nil {
		t.Error("a second Run of a saga in flight was accepted")
	}
	recs, err := f.st.SagaListUnfinished(f.ctx, secA)
	f.must(err)
	if len(recs) != 1 || recs[0].ID != sagaID {
		t.Fatalf("unfinished while in flight: %+v, want the one saga", recs)
	}

	close(agent.release)
	if d := <-done; d.Outcome != sagas.Completed {
		t.Fatalf("the saga in flight: %+v", d)
	}
	if c.Driving(sagas.KindStart) || c.DrivingInstance(instID) {
		t.Error("Driving a start, or its instance, once it rested")
	}
	got, err = c.Recover(f.ctx)
	f.must(err)
	if len(got) != 0 {
		t.Errorf("Recover after the saga rested: %+v", got)
	}
	f.unfinished()
}

// TestDrivingCountsRecoveredAndBegun: a saga Recover runs counts as driven
// while it runs, as does one Begin began, until it rests — by its kind and
// by its instance, which two sagas may share.
func TestDrivingCountsRecoveredAndBegun(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	if _, err := f.sec(secA).Run(f.ctx, sagaID, &sagas.Start{Instance: instID, Reason: 1}, sagas.RunOptions{Crash: true, CrashAfter: 1}); err != nil {
		t.Fatal(err)
	}
	agent := &blockingAgent{SledAgent: f.w.Env.Agent, entered: make(chan struct{}), release: make(chan struct{})}
	env := *f.w.Env
	env.Agent = agent
	c := &sagas.SEC{ID: secA, Log: f.st, Env: &env}
	done := make(chan error)
	go func() {
		_, err := c.Recover(f.ctx)
		done <- err
	}()
	<-agent.entered
	if !c.Driving(sagas.KindStart) || !c.DrivingInstance(instID) {
		t.Error("a start being recovered, or its instance, is not counted as driven")
	}
	close(agent.release)
	f.must(<-done)
	if c.Driving(sagas.KindStart) || c.DrivingInstance(instID) {
		t.Error("Driving a start, or its instance, once recovery rested it")
	}

	x, err := c.Begin(f.ctx, id('g', 2), &sagas.Update{Instance: instID})
	f.must(err)
	y, err := c.Begin(f.ctx, id('g', 3), &sagas.Update{Instance: instID})
	f.must(err)
	if !c.Driving(sagas.KindUpdate) || !c.DrivingInstance(instID) {
		t.Error("a begun update, or its instance, is not counted as driven")
	}
	for !x.Done() {
		x.Next(f.ctx)
	}
	if !c.DrivingInstance(instID) {
		t.Error("one of two updates of an instance rested, and the instance is no longer counted")
	}
	for !y.Done() {
		y.Next(f.ctx)
	}
	if c.Driving(sagas.KindUpdate) || c.DrivingInstance(instID) {
		t.Error("Driving an update, or its instance, once both rested")
	}
}

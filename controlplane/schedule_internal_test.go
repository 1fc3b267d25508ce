package controlplane

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

func internalPlane(t *testing.T, now *time.Time, intervals map[Task]time.Duration) *ControlPlane {
	t.Helper()
	st := datastore.NewMemory()
	clock := func() time.Time { return *now }
	w := memsled.NewWorld(st, clock, 1, vmmstate.SledIDFromUUID(uuid.MustParse("5a000000-0000-4000-8000-000000000001")))
	cp, err := New(Config{ID: uuid.MustParse("c0000000-0000-4000-8000-000000000001"), Store: st, Log: st,
		Agent: w.Agent, Sleds: w.Sleds, Now: clock, NewID: w.Env.NewID, Intervals: intervals})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestNextDue: Run sleeps until the earliest task is due — at once for a
// task that never ran or was activated — and not at all when every task
// is off.
func TestNextDue(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	off := map[Task]time.Duration{}
	for _, task := range AllTasks() {
		off[task] = -1
	}
	if _, ok := internalPlane(t, &now, off).nextDue(); ok {
		t.Error("every task off, and nextDue found one")
	}

	iv := map[Task]time.Duration{}
	for i, task := range AllTasks() {
		iv[task] = time.Duration(10+i) * time.Minute
	}
	iv[TaskSagaAdoption] = -1
	cp := internalPlane(t, &now, iv)
	zero := internalPlane(t, &now, map[Task]time.Duration{TaskStalledSagas: 0})
	for _, task := range AllTasks() {
		zero.takeDue(task)
	}
	if next, ok := zero.nextDue(); !ok || !next.Equal(now) {
		t.Errorf("a task with interval 0: nextDue = %v, %v; want now", next, ok)
	}
	if next, ok := cp.nextDue(); !ok || !next.Equal(now) {
		t.Fatalf("nothing ran yet: nextDue = %v, %v; want now", next, ok)
	}
	for _, task := range AllTasks() {
		cp.takeDue(task)
	}
	// The earliest pass is saga_recovery's, 10 minutes on; adoption is off.
	if next, ok := cp.nextDue(); !ok || !next.Equal(now.Add(10*time.Minute)) {
		t.Errorf("after a pass of each: nextDue = %v, %v; want %v", next, ok, now.Add(10*time.Minute))
	}
	cp.Activate(TaskStalledSagas)
	if next, ok := cp.nextDue(); !ok || !next.Equal(now) {
		t.Errorf("after an activation: nextDue = %v, %v; want now", next, ok)
	}
	cp.Activate(TaskSagaAdoption) // off: activating it changes nothing
	cp.takeDue(TaskStalledSagas)
	if next, _ := cp.nextDue(); !next.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("an activated task that is off made Run wake: nextDue = %v", next)
	}
	if cp.takeDue(TaskSagaAdoption) {
		t.Error("a task that is off was due")
	}
}

// TestQueueIsASet: an instance asked for twice before the updater runs is
// queued once, in the order first asked; the updater's pass runs one saga
// for an instance both queued and found by its query.
func TestQueueIsASet(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	cp := internalPlane(t, &now, nil)
	a := vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000001"))
	b := vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000002"))
	cp.updateNeeded(a)
	cp.updateNeeded(b)
	cp.updateNeeded(a)
	var got []instancestate.ID
	for {
		id, ok := cp.nextNeeded()
		if !ok {
			break
		}
		got = append(got, id)
	}
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("queue drained as %v; want [%v %v]", got, a, b)
	}
	cp.updateNeeded(a) // taken off the queue, it may be queued again
	if id, ok := cp.nextNeeded(); !ok || id != a {
		t.Errorf("queued again: %v, %v", id, ok)
	}
}

// TestUpdaterMergesTheQueue: an instance both queued and listed by the
// fleet query gets one saga; one queued and not listed gets one too.
func TestUpdaterMergesTheQueue(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	cp := internalPlane(t, &now, nil)
	listed := vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000001"))
	if _, err := cp.Create(t.Context(), instancestate.New(listed, false, instancestate.AutoRestart{}, now)); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Create(t.Context(), instancestate.New(vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000002")), false, instancestate.AutoRestart{}, now)); err != nil {
		t.Fatal(err)
	}
	cp.updateNeeded(listed)
	cp.updateNeeded(vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000002")))
	p, err := cp.RunTask(t.Context(), TaskInstanceUpdater)
	if err != nil {
		t.Fatal(err)
	}
	if p.Found != 0 || p.SagasStarted != 2 {
		t.Errorf("two queued, none listed: %+v; want two sagas", p)
	}

	// Listed and queued: one saga. The instance runs, and its VMM's
	// destruction is recorded past the reactions.
	running := vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000003"))
	if _, err := cp.Create(t.Context(), instancestate.New(running, true, instancestate.AutoRestart{}, now)); err != nil {
		t.Fatal(err)
	}
	s, err := cp.cfg.Store.InstanceFetchAll(t.Context(), running)
	if err != nil || !s.HasActive() {
		t.Fatalf("not started: %+v, %v", s.Instance.Runtime, err)
	}
	rep, err := cp.cfg.Agent.Unregister(t.Context(), s.Active)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sagas.RecordReport(t.Context(), cp.cfg.Store, s.Active.ID, rep); err != nil {
		t.Fatal(err)
	}
	cp.updateNeeded(running)
	p, err = cp.RunTask(t.Context(), TaskInstanceUpdater)
	if err != nil {
		t.Fatal(err)
	}
	if p.Found != 1 || p.SagasStarted != 1 {
		t.Errorf("listed and queued: %+v; want one saga", p)
	}
}

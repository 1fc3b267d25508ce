package pgstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// planeOn returns a control plane with identity id over st, on clk, with
// the sled-agents and room of w.
func planeOn(t *testing.T, id uuid.UUID, st *pgstore.Store, w *memsled.World, clk *clock) *controlplane.ControlPlane {
	t.Helper()
	cp, err := controlplane.New(controlplane.Config{ID: id, Store: st, Log: st, Reservations: st,
		Agent: w.Agent, Sleds: w.Sleds, Watcher: w, Now: clk.Now, NewID: uuid.New})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// settledOn fails the test unless the database holds no unfinished saga,
// no instance needing an update or locked, no leaked reservation and no
// abandoned VMM.
func settledOn(t *testing.T, st *pgstore.Store, now time.Time, ids ...instancestate.ID) {
	t.Helper()
	ctx := context.Background()
	if recs, err := st.SagaListUnfinished(ctx, uuid.Nil); err != nil || len(recs) > 0 {
		t.Errorf("unfinished sagas: %+v, %v", recs, err)
	}
	if need, err := st.FindInstancesNeedingUpdate(ctx, now); err != nil || len(need) > 0 {
		t.Errorf("instances needing an update: %v, %v", need, err)
	}
	if leaked, err := st.ReservationListLeaked(ctx); err != nil || len(leaked) > 0 {
		t.Errorf("leaked reservations: %v, %v", leaked, err)
	}
	if ab, err := st.VMMListAbandoned(ctx); err != nil || len(ab) > 0 {
		t.Errorf("abandoned VMMs: %v, %v", ab, err)
	}
	for _, id := range ids {
		s, err := st.InstanceFetchAll(ctx, id)
		if err == nil && !s.Instance.UpdaterID.IsZero() {
			t.Errorf("instance %v locked by %v", id, s.Instance.UpdaterID)
		}
	}
}

// TestControlPlanesShareOneDatabase: two control planes run on one
// database; A dies in the middle of a start saga, and B — its tasks alone —
// adopts the saga once A's lease has expired and finishes it. Then both
// react to users and sled-agents at once while B ticks, and once they stop
// nothing is left stuck.
func TestControlPlanesShareOneDatabase(t *testing.T) {
	ctx := context.Background()
	st := fresh(t)
	clk := &clock{now: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	sledA := vmmstate.SledIDFromUUID(uuid.MustParse("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"))
	sledB := vmmstate.SledIDFromUUID(uuid.MustParse("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"))
	w := memsled.NewWorld(st, clk.Now, 8, sledA, sledB)
	a := planeOn(t, uuid.MustParse("c0000000-0000-4000-8000-00000000000a"), st, w, clk)
	b := planeOn(t, uuid.MustParse("c0000000-0000-4000-8000-00000000000b"), st, w, clk)

	var ids []instancestate.ID
	for i := range 3 {
		id := vmmstate.InstanceIDFromUUID(uuid.New())
		ids = append(ids, id)
		if _, err := a.Create(ctx, instancestate.New(id, i > 0, instancestate.AutoRestart{Policy: instancestate.PolicyBestEffort}, clk.Now())); err != nil {
			t.Fatal(err)
		}
	}
	// A starts the first instance and dies after three events.
	if _, err := st.InstanceSetIntendedState(ctx, ids[0], instancestate.IntendRunning); err != nil {
		t.Fatal(err)
	}
	d, err := a.SEC().Run(ctx, uuid.New(), &sagas.Start{Instance: ids[0], Reason: failure.StartReasonUser}, sagas.RunOptions{Crash: true, CrashAfter: 3})
	if err != nil || !d.Crashed {
		t.Fatalf("A's crash: %+v, %v", d, err)
	}
	if _, err := b.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats()[controlplane.TaskSagaAdoption.String()]; st.SagasAdopted != 0 {
		t.Fatalf("B adopted within A's lease: %+v", st)
	}
	clk.Add(sagas.DefaultLease + time.Second)
	for range 2 {
		if _, err := b.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats()[controlplane.TaskSagaRecovery.String()]; st.SagasRecovered != 1 {
		t.Fatalf("B recovered %+v", st)
	}
	if s, err := st.InstanceFetchAll(ctx, ids[0]); err != nil || !s.HasActive() {
		t.Fatalf("the adopted start did not finish: %+v, %v", s.Instance.Runtime, err)
	}

	// Both control planes at once: A takes users' requests and the
	// agents' reports, B reacts to deaths and runs its tasks.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 24 {
			id := ids[(i/3)%len(ids)] // each instance in turn gets a start, a boot and a stop
			switch i % 3 {
			case 0:
				a.Request(ctx, id, instancestate.RequestStart)
			case 1:
				if s, err := st.InstanceFetchAll(ctx, id); err == nil && s.HasActive() {
					if rep, ok := w.Agent.Boot(s.Active.ID); ok {
						a.Report(ctx, s.Active.ID, rep)
					}
				}
			case 2:
				a.Request(ctx, id, instancestate.RequestStop)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 12 {
			if s, err := st.InstanceFetchAll(ctx, ids[i%len(ids)]); err == nil && s.HasActive() && i%4 == 0 {
				w.Agent.Vanish(s.Active.ID)
				b.VMMGone(ctx, s.Active.ID, failure.NoSuchInstance)
			}
			clk.Add(5 * time.Second)
			b.Tick(ctx)
		}
	}()
	wg.Wait()
	for range 3 {
		clk.Add(2 * time.Minute)
		if _, err := b.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	settledOn(t, st, clk.Now(), ids...)
	if n := a.Stats()[controlplane.ReactionRequest].SagasStarted; n < 5 {
		t.Errorf("A's requests ran %d sagas: the race raced nothing: %+v", n, a.Stats())
	}
	for name, c := range a.Stats() {
		for k, n := range c.Errors {
			if k != "conflict" && k != "already_locked" {
				t.Errorf("A %s: %d errors of kind %s", name, n, k)
			}
		}
	}
}

package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// updateSaga runs one instance-update saga (sagas.Update, §13, D11) on
// instance id at now, as sagas.Run runs it over st and memsled's sled room,
// with fresh updater ids (safe beside other sagas on the same instance).
func updateSaga(ctx context.Context, st *pgstore.Store, id instancestate.ID, now time.Time) (*sagas.Update, sagas.Result, error) {
	w := memsled.NewWorld(st, func() time.Time { return now }, 0)
	w.Env.NewID = uuid.New
	u := &sagas.Update{Instance: id}
	r, err := sagas.Run(ctx, w.Env, u, sagas.Options{})
	return u, r, err
}

// TestSagasRunOnTheWallClock: sagas stamped by time.Now — nanoseconds and
// a monotonic reading — run on PostgreSQL as they do in memory: the store
// keeps each time truncated to the microsecond (datastore.StoreTime), so a
// create and a start complete. Before, every time with nanoseconds was
// refused and each saga unwound.
func TestSagasRunOnTheWallClock(t *testing.T) {
	st := fresh(t)
	ctx := context.Background()
	sled := vmmstate.SledIDFromUUID(uuid.New())
	w := memsled.NewWorld(st, func() time.Time { return time.Now().Add(time.Nanosecond) }, 4, sled)
	id := vmmstate.InstanceIDFromUUID(uuid.New())
	for _, s := range []sagas.Saga{
		&sagas.Create{Instance: instancestate.New(id, true, instancestate.AutoRestart{}, time.Now())},
		&sagas.Start{Instance: id, Reason: failure.StartReasonUser},
	} {
		r, err := sagas.Run(ctx, w.Env, s, sagas.Options{})
		if err != nil || r.Outcome != sagas.Completed {
			t.Fatalf("%v saga: %+v, %v", s.Kind(), r, err)
		}
	}
	snap, err := st.InstanceFetchAll(ctx, id)
	if err != nil || snap.Instance.Runtime.State != instancestate.NexusVMM {
		t.Fatalf("after the start: %+v, %v", snap.Instance.Runtime, err)
	}
	if ns := snap.Instance.Runtime.TimeUpdated.Nanosecond(); ns%1000 != 0 {
		t.Fatalf("a stored time keeps nanoseconds: %v", snap.Instance.Runtime.TimeUpdated)
	}
}

// TestDurableStartAdoptedOnPostgres: a start saga run by an executor that
// dies after each of its durable events in turn is adopted by another once
// the first's lease has expired, and recovered from the log PostgreSQL
// keeps (D26, D27): it completes, the instance runs, no saga is left
// unfinished, and the dead executor's next write is refused.
func TestDurableStartAdoptedOnPostgres(t *testing.T) {
	ctx := context.Background()
	secA, secB := uuid.New(), uuid.New()
	run := func(crash bool, k int) (sagas.Durable, *sagas.SEC, *sagas.SEC, instancestate.ID, *pgstore.Store, *time.Time) {
		t.Helper()
		st := fresh(t)
		now := t0
		w := memsled.NewWorld(st, func() time.Time { return now }, 4, vmmstate.SledIDFromUUID(uuid.New()))
		id := vmmstate.InstanceIDFromUUID(uuid.New())
		if r, err := sagas.Run(ctx, w.Env, &sagas.Create{Instance: instancestate.New(id, true, instancestate.AutoRestart{}, now)}, sagas.Options{}); err != nil || r.Outcome != sagas.Completed {
			t.Fatalf("create: %+v, %v", r, err)
		}
		a, b := &sagas.SEC{ID: secA, Log: st, Env: w.Env}, &sagas.SEC{ID: secB, Log: st, Env: w.Env}
		d, err := a.Run(ctx, uuid.New(), &sagas.Start{Instance: id, Reason: failure.StartReasonUser}, sagas.RunOptions{Crash: crash, CrashAfter: k})
		if err != nil {
			t.Fatal(err)
		}
		return d, a, b, id, st, &now
	}
	whole, _, _, _, _, _ := run(false, 0)
	if whole.Outcome != sagas.Completed || whole.Events == 0 {
		t.Fatalf("the uncrashed start: %+v", whole)
	}
	t.Logf("the uncrashed start writes %d events", whole.Events)
	for k := range whole.Events {
		d, a, b, id, st, now := run(true, k)
		if !d.Crashed {
			t.Fatalf("crash_after=%d: did not crash: %+v", k, d)
		}
		if _, err := b.Adopt(ctx, secA); !errors.Is(err, datastore.ErrConflict) {
			t.Fatalf("crash_after=%d: adopted while A's lease holds: %v", k, err)
		}
		*now = now.Add(sagas.DefaultLease)
		if ids, err := b.Adopt(ctx, secA); err != nil || len(ids) != 1 || ids[0] != d.Saga {
			t.Fatalf("crash_after=%d: adopted %v, %v; want the start saga", k, ids, err)
		}
		rec, err := b.Recover(ctx)
		if err != nil || len(rec) != 1 || rec[0].Outcome != sagas.Completed {
			t.Fatalf("crash_after=%d: recovered %+v, %v", k, rec, err)
		}
		if left, err := st.SagaListUnfinished(ctx, uuid.Nil); err != nil || len(left) != 0 {
			t.Fatalf("crash_after=%d: unfinished after recovery: %v, %v", k, left, err)
		}
		snap, err := st.InstanceFetchAll(ctx, id)
		if err != nil || snap.Instance.Runtime.State != instancestate.NexusVMM {
			t.Fatalf("crash_after=%d: instance %+v, %v", k, snap.Instance.Runtime, err)
		}
		err = st.SagaAppend(ctx, datastore.Fence{SEC: a.ID, Generation: 1}, d.Saga,
			datastore.NodeEvent{Saga: d.Saga, Node: "late", Type: datastore.EventStarted, Time: *now, Owner: a.ID})
		if !errors.Is(err, datastore.ErrLostOwnership) {
			t.Fatalf("crash_after=%d: the dead executor's write: %v; want lost ownership", k, err)
		}
	}
}

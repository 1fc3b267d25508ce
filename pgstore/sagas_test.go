package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/sagas/sagastest"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestSagasRunOnTheWallClock: sagas stamped by time.Now — nanoseconds and
// a monotonic reading — run on PostgreSQL as they do in memory: the store
// keeps each time truncated to the microsecond (datastore.StoreTime), so a
// create and a start complete. Before, every time with nanoseconds was
// refused and each saga unwound.
func TestSagasRunOnTheWallClock(t *testing.T) {
	st := fresh(t)
	ctx := context.Background()
	sled := vmmstate.SledIDFromUUID(uuid.New())
	w := sagastest.NewWorld(st, func() time.Time { return time.Now().Add(time.Nanosecond) }, 4, sled)
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

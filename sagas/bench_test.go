package sagas_test

import (
	"context"
	"testing"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// BenchmarkSagas runs sagas to their end on the in-memory store, each
// beside a baseline without the executor — the saga's writes and calls
// made directly (StartBaseline, UpdateNothingBaseline) — so the executor's
// cost is a ratio.
func BenchmarkSagas(b *testing.B) {
	ctx := context.Background()
	setup := func(b *testing.B) *memsled.World {
		st := datastore.NewMemory()
		w := memsled.NewWorld(st, func() time.Time { return t0 }, 1<<30, sledA)
		c := &sagas.Create{Instance: instancestate.New(instID, true, instancestate.AutoRestart{}, t0)}
		if r, err := sagas.Run(ctx, w.Env, c, sagas.Options{}); err != nil || r.Outcome != sagas.Completed {
			b.Fatal(r, err)
		}
		return w
	}
	b.Run("Start", func(b *testing.B) {
		w := setup(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
			if r, err := sagas.Run(ctx, w.Env, s, sagas.Options{FailAt: sagas.StepClearStartFailure}); err != nil || len(r.Undone) != 5 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("StartBaseline", func(b *testing.B) {
		w := setup(b)
		st := w.Env.Store
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v := vmmstate.IDFromUUID(w.Env.NewID())
			sl, _ := w.Sleds.Reserve(ctx, instID, v)
			if _, err := st.VMMInsert(ctx, vmmstate.New(v, instID, sl, t0)); err != nil {
				b.Fatal(err)
			}
			rec, err := st.InstanceMarkAsStarting(ctx, instID, datastore.MarkAsStartingArgs{VMM: v, Reason: failure.StartReasonUser, Now: t0})
			if err != nil {
				b.Fatal(err)
			}
			row, _ := st.VMMFetch(ctx, v)
			r, _ := w.Agent.Register(ctx, row.VMM, migration.ID{})
			st.SledReport(ctx, v, r)
			rr, _ := w.Agent.Unregister(ctx, row.VMM)
			st.SledReport(ctx, v, rr)
			undone, _, _ := instancestate.UnwindStart(rec, rec, t0)
			st.InstanceUpdateRuntime(ctx, instID, undone.Runtime, instancestate.IntentUnchanged)
			st.VMMMarkSagaUnwound(ctx, v, t0)
			w.Sleds.Release(ctx, v)
			snap, _ := st.InstanceFetchAll(ctx, instID)
			if d, _ := instancestate.Decide(snap, instancestate.RequestStart, t0); d.Action == instancestate.ActionStartSaga {
				st.InstanceRecordStartFailure(ctx, instID, failure.NewStartFailure(failure.CauseInternal, failure.StartReasonUser, t0))
			}
		}
	})
	b.Run("UpdateNothingBaseline", func(b *testing.B) {
		w := setup(b)
		st := w.Env.Store
		b.ReportAllocs()
		for b.Loop() {
			parent, child := instancestate.UpdaterIDFromUUID(w.Env.NewID()), instancestate.UpdaterIDFromUUID(w.Env.NewID())
			l, err := st.InstanceUpdaterLock(ctx, instID, parent)
			if err != nil {
				b.Fatal(err)
			}
			if l, err = st.InstanceUpdaterInheritLock(ctx, instID, l, child); err != nil {
				b.Fatal(err)
			}
			snap, err := st.InstanceFetchAll(ctx, instID)
			if err != nil {
				b.Fatal(err)
			}
			if _, required, err := instancestate.PlanUpdate(snap, t0); err != nil || required {
				b.Fatal(required, err)
			}
			if _, err := st.InstanceUpdaterUnlock(ctx, instID, l); err != nil {
				b.Fatal(err)
			}
			if _, err := instancestate.Reincarnate(snap, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpdateNothing", func(b *testing.B) {
		w := setup(b)
		b.ReportAllocs()
		for b.Loop() {
			if r, err := sagas.Run(ctx, w.Env, &sagas.Update{Instance: instID}, sagas.Options{}); err != nil || r.Ended != sagas.EndedNothing {
				b.Fatal(r, err)
			}
		}
	})
}

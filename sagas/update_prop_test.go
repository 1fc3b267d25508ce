package sagas_test

import (
	"context"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// load puts a snapshot's records into a fresh store.
func load(t *rapid.T, s instancestate.Snapshot) *datastore.Memory {
	st := datastore.NewMemory()
	var tabs datastore.Tables
	tabs.Instances = []datastore.InstanceRow{{Instance: s.Instance}}
	for _, v := range []vmmstate.VMM{s.Active, s.Target} {
		if !v.ID.IsZero() {
			tabs.VMMs = append(tabs.VMMs, datastore.VMMRow{VMM: v})
		}
	}
	if !s.Migration.ID.IsZero() {
		tabs.Migrations = []datastore.MigrationRow{{Migration: s.Migration}}
	}
	if err := st.Load(context.Background(), tabs); err != nil {
		t.Skipf("not a set of rows: %v", err)
	}
	return st
}

// TestPropUpdateSagaIsInstanceUpdateSaga: the update saga run step by step
// (and chained while it says so) and datastore.InstanceUpdateSaga — the
// one-call form a caller without an executor uses, which needs no lock
// handover and so one round trip less — leave any snapshot's records
// alike: the same runtime, intent and loss, the same VMMs deleted, and the
// lock free.
func TestPropUpdateSagaIsInstanceUpdateSaga(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		ctx := context.Background()
		saga := instancestate.UpdaterIDFromUUID(id('u', 1))
		if !s.Instance.UpdaterID.IsZero() {
			saga = s.Instance.UpdaterID // the holder goes on
		}

		one := load(t, s)
		o, _, err := datastore.InstanceUpdateSaga(ctx, one, s.Instance.ID, saga, now)
		if err != nil {
			t.Fatalf("InstanceUpdateSaga: %v", err)
		}

		stepwise := load(t, s)
		w := memsled.NewWorld(stepwise, func() time.Time { return now }, 1)
		for round := 0; ; round++ {
			if round > datastore.MaxUpdateRounds {
				t.Fatal("the saga chains without end")
			}
			u := &sagas.Update{Instance: s.Instance.ID, Updater: saga}
			r, err := sagas.Run(ctx, w.Env, u, sagas.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != sagas.Completed || !u.Then.Has(sagas.ThenUpdate) {
				break
			}
		}

		a, errA := one.InstanceFetchAll(ctx, s.Instance.ID)
		b, errB := stepwise.InstanceFetchAll(ctx, s.Instance.ID)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("fetch: %v / %v", errA, errB)
		}
		ia, ib := a.Instance, b.Instance
		if ia.Runtime.State != ib.Runtime.State || ia.Runtime.ActiveVMM != ib.Runtime.ActiveVMM ||
			ia.Runtime.TargetVMM != ib.Runtime.TargetVMM || ia.Runtime.MigrationID != ib.Runtime.MigrationID ||
			ia.IntendedState != ib.IntendedState || ia.VMMLost != ib.VMMLost {
			t.Fatalf("outcome %v:\none call %+v\nstepwise %+v", o, ia, ib)
		}
		if o != datastore.UpdateLocked && (!ia.UpdaterID.IsZero() || !ib.UpdaterID.IsZero()) {
			t.Fatalf("lock left: %v / %v", ia.UpdaterID, ib.UpdaterID)
		}
		for _, v := range []vmmstate.ID{s.Active.ID, s.Target.ID} {
			if v.IsZero() {
				continue
			}
			ra, _ := one.VMMFetch(ctx, v)
			rb, _ := stepwise.VMMFetch(ctx, v)
			if ra.TimeDeleted.IsZero() != rb.TimeDeleted.IsZero() {
				t.Fatalf("VMM %v deleted %v / %v", v, ra.TimeDeleted, rb.TimeDeleted)
			}
		}
	})
}

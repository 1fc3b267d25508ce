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

// TestPropUpdateSagaComesToRest: for any snapshot, the update saga, run
// and chained while it says another is needed (§13.4) — by the lock's
// holder when the instance is locked, which goes on — comes to rest within
// a few sagas: each completes, the lock is free after, the instance needs
// no more update, and every VMM a committed plan destroyed is marked
// deleted (§13.2).
func TestPropUpdateSagaComesToRest(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		ctx := context.Background()
		updater := instancestate.UpdaterIDFromUUID(id('u', 1))
		if !s.Instance.UpdaterID.IsZero() {
			updater = s.Instance.UpdaterID // the holder goes on
		}

		st := load(t, s)
		w := memsled.NewWorld(st, func() time.Time { return now }, 1)
		var destroyed []vmmstate.ID
		for round := 0; ; round++ {
			if round == 8 {
				t.Fatal("the saga chains without end")
			}
			u := &sagas.Update{Instance: s.Instance.ID, Updater: updater}
			r, err := sagas.Run(ctx, w.Env, u, sagas.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != sagas.Completed {
				t.Fatalf("round %d: %v after %v: %v", round, r.Outcome, r.Ran, r.Err)
			}
			if u.Committed {
				destroyed = append(destroyed, u.Plan.DestroyActiveVMM, u.Plan.DestroyTargetVMM)
			}
			if !u.Then.Has(sagas.ThenUpdate) {
				break
			}
		}

		got, err := st.InstanceFetchAll(ctx, s.Instance.ID)
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		if got.Instance.IsLocked() {
			t.Fatalf("lock left: %v at %v", got.Instance.UpdaterID, got.Instance.UpdaterGen)
		}
		if _, required, err := instancestate.PlanUpdate(got, now); err != nil || required {
			t.Fatalf("not at rest: required %v, %v\n%+v", required, err, got)
		}
		for _, v := range destroyed {
			if v.IsZero() {
				continue
			}
			if row, err := st.VMMFetch(ctx, v); err != nil || row.TimeDeleted.IsZero() {
				t.Fatalf("VMM %v destroyed by a plan: %+v, %v; want it marked deleted", v, row, err)
			}
		}
	})
}

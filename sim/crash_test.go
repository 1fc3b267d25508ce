package sim

import (
	"context"
	"fmt"
	"testing"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestCrashesLeaveNothing: with every fault, the control plane's crash
// included, a world that has settled leaves no saga unfinished in the log,
// no updater lock held and no reservation leaked — whatever the crashes
// cut short, recovery finished (D26) — and every crash recovered sagas.
func TestCrashesLeaveNothing(t *testing.T) {
	for _, n := range []int{3, 24} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("instances=%d/seed=%d", n, seed), func(t *testing.T) {
				cfg := Default()
				cfg.Instances, cfg.Seed = n, seed
				w := run(t, cfg, 20000)
				if s := w.Summary(); s.Injected.Get("control_plane_crash") == 0 || s.Events.Get("sagas_recovered_after_crash") == 0 {
					t.Fatalf("no crash recovered a saga: %d crashes, %d sagas recovered",
						s.Injected.Get("control_plane_crash"), s.Events.Get("sagas_recovered_after_crash"))
				}
				for _, v := range w.Settle(NewRand(seed), SettleSteps(n)) {
					t.Errorf("%v", v)
				}
				s := w.Summary()
				if s.SagasUnfinished != 0 || s.LocksHeld != 0 || s.ReservationsLeaked != 0 {
					t.Errorf("settled, the world leaves %d sagas unfinished, %d locks held, %d reservations leaked",
						s.SagasUnfinished, s.LocksHeld, s.ReservationsLeaked)
				}
			})
		}
	}
}

// TestRecoveredCreateOfAnEarlierProcess: a create saga in the log that the
// world never had in flight — its process was killed as it sent the
// saga's first write, which the database applied after the next process
// had resumed — is recovered at a later pass, and the instance it inserts
// is the world's: every instance the store holds alive is one the world
// knows, and its invariants hold.
func TestRecoveredCreateOfAnEarlierProcess(t *testing.T) {
	mem := datastore.NewMemory()
	cfg := Default()
	cfg.Instances, cfg.Store = 3, mem
	w := run(t, cfg, 200)
	orphan := instancestate.New(vmmstate.InstanceIDFromUUID(w.newUUID('i')), true, instancestate.AutoRestart{}, w.now)
	if _, err := w.sec.Begin(w.ctx, w.newUUID('g'), &sagas.Create{Instance: orphan}); err != nil {
		t.Fatal(err)
	}
	before := w.Summary().Events.Get("sagas_recovered_of_earlier_processes")
	w.stepWith(NewRand(1), func() Action { return ActCrash })
	if vs := w.Violations(); len(vs) > 0 {
		t.Fatalf("violations: %v", vs)
	}
	if got := w.Summary().Events.Get("sagas_recovered_of_earlier_processes"); got != before+1 {
		t.Fatalf("recovered %d sagas of earlier processes, want %d", got, before+1)
	}
	if w.live(orphan.ID) == nil {
		t.Fatal("the instance the recovered create inserted is not the world's")
	}
	for _, v := range w.Settle(NewRand(2), SettleSteps(len(w.instances))) {
		t.Errorf("%v", v)
	}
	tables, err := mem.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range tables.Instances {
		if row.TimeDeleted.IsZero() && w.live(row.Instance.ID) == nil {
			t.Errorf("the store holds instance %v alive; the world does not know it", row.Instance.ID)
		}
	}
}

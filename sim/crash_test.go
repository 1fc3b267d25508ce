package sim

import (
	"fmt"
	"testing"
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

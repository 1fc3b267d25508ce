package sim

import (
	"context"
	"fmt"
	"testing"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// downStore answers no read while down, as pgstore does after its 60 s
// of RetryUnavailable, and counts the calls made while down.
type downStore struct {
	*datastore.Memory
	down  bool
	calls int
}

func (d *downStore) unavailable() error {
	d.calls++
	return fmt.Errorf("no answer within 10s (after 60s of retries): %w", datastore.ErrUnavailable)
}

func (d *downStore) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	if d.down {
		return instancestate.Snapshot{}, d.unavailable()
	}
	return d.Memory.InstanceFetchAll(ctx, id)
}

func (d *downStore) VMMFetch(ctx context.Context, id vmmstate.ID) (datastore.VMMRow, error) {
	if d.down {
		return datastore.VMMRow{}, d.unavailable()
	}
	return d.Memory.VMMFetch(ctx, id)
}

// Once the world meets a store that does not answer, its step ends there:
// with pgstore.RetryUnavailable(60s) every further call would wait a
// minute more before the run could exit. A saga node's own call may come
// first (the executor meets it, and the world at its read-back), so two
// calls at most.
func TestAStoppedWorldEndsItsStep(t *testing.T) {
	worst := 0
	for seed := uint64(1); seed <= 20; seed++ {
		st := &downStore{Memory: datastore.NewMemory()}
		cfg := Default()
		cfg.Instances, cfg.Seed, cfg.Store, cfg.Keeper, cfg.FullCheckEvery = 50, seed, st, &MemKeeper{}, 1
		w, err := newRun(cfg, 10000)
		if err != nil {
			t.Fatal(err)
		}
		r := NewRand(seed)
		for range 200 {
			w.Step(r)
		}
		st.down = true
		w.Step(r)
		if w.Err() == nil {
			t.Fatal("not stopped")
		}
		worst = max(worst, st.calls)
	}
	if worst > 2 {
		t.Errorf("a world whose store stopped answering made %d calls to it in the step", worst)
	}
}

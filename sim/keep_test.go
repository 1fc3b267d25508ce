package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// killed is the panic a killer raises: the process dies there.
type killed struct{}

// killer is a world's store and Keeper that kill the process — a panic
// the test recovers, after which nothing of the world is used again — at
// the after'th write: any write of the store, the saga log or the
// reservations once it is applied (its answer is lost with the process), a
// keep before it is made.
type killer struct {
	*datastore.Memory
	keeper *MemKeeper
	after  int
	writes int
}

func (k *killer) write() {
	k.writes++
	if k.writes == k.after {
		panic(killed{})
	}
}

func (k *killer) Keep(ctx context.Context, kept Kept) error {
	k.write()
	return k.keeper.Keep(ctx, kept)
}

func (k *killer) Load(ctx context.Context) (Kept, error) { return k.keeper.Load(ctx) }

func (k *killer) SagaCreate(ctx context.Context, rec datastore.SagaRecord, events ...datastore.NodeEvent) error {
	defer k.write()
	return k.Memory.SagaCreate(ctx, rec, events...)
}

func (k *killer) SagaAppend(ctx context.Context, f datastore.Fence, saga uuid.UUID, events ...datastore.NodeEvent) error {
	defer k.write()
	return k.Memory.SagaAppend(ctx, f, saga, events...)
}

func (k *killer) SagaSetState(ctx context.Context, f datastore.Fence, saga uuid.UUID, state datastore.SagaState, events ...datastore.NodeEvent) error {
	defer k.write()
	return k.Memory.SagaSetState(ctx, f, saga, state, events...)
}

func (k *killer) SledReport(ctx context.Context, vmm vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	defer k.write()
	return k.Memory.SledReport(ctx, vmm, r)
}

func (k *killer) InstanceUpdateRuntime(ctx context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (datastore.Result, error) {
	defer k.write()
	return k.Memory.InstanceUpdateRuntime(ctx, id, rt, intent)
}

func (k *killer) VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	defer k.write()
	return k.Memory.VMMMarkDeleted(ctx, id, now)
}

// The other writes of the store, the saga log and the reservations, each
// a point the process may die at once it is applied.

func (k *killer) InstanceInsert(ctx context.Context, in instancestate.Instance) (instancestate.Instance, error) {
	defer k.write()
	return k.Memory.InstanceInsert(ctx, in)
}

func (k *killer) VMMInsert(ctx context.Context, v vmmstate.VMM) (vmmstate.VMM, error) {
	defer k.write()
	return k.Memory.VMMInsert(ctx, v)
}

func (k *killer) MigrationInsert(ctx context.Context, m migration.Record) (migration.Record, error) {
	defer k.write()
	return k.Memory.MigrationInsert(ctx, m)
}

func (k *killer) InstanceSetIntendedState(ctx context.Context, id instancestate.ID, intent instancestate.IntendedState) (datastore.Result, error) {
	defer k.write()
	return k.Memory.InstanceSetIntendedState(ctx, id, intent)
}

func (k *killer) InstanceSetMigrationIDs(ctx context.Context, id instancestate.ID, p datastore.SetMigrationIDsArgs) (instancestate.Instance, error) {
	defer k.write()
	return k.Memory.InstanceSetMigrationIDs(ctx, id, p)
}

func (k *killer) InstanceUnsetMigrationIDs(ctx context.Context, id instancestate.ID, p datastore.UnsetMigrationIDsArgs) (datastore.Result, error) {
	defer k.write()
	return k.Memory.InstanceUnsetMigrationIDs(ctx, id, p)
}

func (k *killer) InstanceMarkAsStarting(ctx context.Context, id instancestate.ID, p datastore.MarkAsStartingArgs) (instancestate.Instance, error) {
	defer k.write()
	return k.Memory.InstanceMarkAsStarting(ctx, id, p)
}

func (k *killer) InstanceRecordStartFailure(ctx context.Context, id instancestate.ID, f failure.StartFailure) (datastore.Result, error) {
	defer k.write()
	return k.Memory.InstanceRecordStartFailure(ctx, id, f)
}

func (k *killer) InstanceUpdaterLock(ctx context.Context, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error) {
	defer k.write()
	return k.Memory.InstanceUpdaterLock(ctx, id, saga)
}

func (k *killer) InstanceUpdaterInheritLock(ctx context.Context, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error) {
	defer k.write()
	return k.Memory.InstanceUpdaterInheritLock(ctx, id, parent, child)
}

func (k *killer) InstanceUpdaterUnlock(ctx context.Context, id instancestate.ID, lock instancestate.Lock) (datastore.Result, error) {
	defer k.write()
	return k.Memory.InstanceUpdaterUnlock(ctx, id, lock)
}

func (k *killer) InstanceCommitUpdate(ctx context.Context, id instancestate.ID, lock instancestate.Lock, p instancestate.Plan) (datastore.Result, error) {
	defer k.write()
	return k.Memory.InstanceCommitUpdate(ctx, id, lock, p)
}

func (k *killer) InstanceDelete(ctx context.Context, id instancestate.ID, now time.Time) (datastore.Result, error) {
	defer k.write()
	return k.Memory.InstanceDelete(ctx, id, now)
}

func (k *killer) VMMUpdateRuntime(ctx context.Context, id vmmstate.ID, rt vmmstate.Runtime) (datastore.Result, error) {
	defer k.write()
	return k.Memory.VMMUpdateRuntime(ctx, id, rt)
}

func (k *killer) VMMMarkFailed(ctx context.Context, id vmmstate.ID, reason failure.Reason, now time.Time) (datastore.Result, error) {
	defer k.write()
	return k.Memory.VMMMarkFailed(ctx, id, reason, now)
}

func (k *killer) VMMMarkSagaUnwound(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	defer k.write()
	return k.Memory.VMMMarkSagaUnwound(ctx, id, now)
}

func (k *killer) MigrationMarkFailed(ctx context.Context, id migration.ID, now time.Time) (datastore.Result, error) {
	defer k.write()
	return k.Memory.MigrationMarkFailed(ctx, id, now)
}

func (k *killer) MigrationMarkDeleted(ctx context.Context, id migration.ID, now time.Time) (datastore.Result, error) {
	defer k.write()
	return k.Memory.MigrationMarkDeleted(ctx, id, now)
}

func (k *killer) SagaRecoveryAttempt(ctx context.Context, f datastore.Fence, saga uuid.UUID) (int, error) {
	defer k.write()
	return k.Memory.SagaRecoveryAttempt(ctx, f, saga)
}

func (k *killer) SagaAbandon(ctx context.Context, f datastore.Fence, saga uuid.UUID, a datastore.AbandonArgs) error {
	defer k.write()
	return k.Memory.SagaAbandon(ctx, f, saga, a)
}

func (k *killer) SagaAdopt(ctx context.Context, sec, from uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	defer k.write()
	return k.Memory.SagaAdopt(ctx, sec, from, now)
}

func (k *killer) ReservationInsert(ctx context.Context, r datastore.Reservation) error {
	defer k.write()
	return k.Memory.ReservationInsert(ctx, r)
}

func (k *killer) ReservationDelete(ctx context.Context, vmm vmmstate.ID) (datastore.Result, error) {
	defer k.write()
	return k.Memory.ReservationDelete(ctx, vmm)
}

// live runs f, and reports whether the process it stands for was killed.
func live(t *testing.T, f func()) (died bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(killed); !ok {
				panic(r)
			}
			died = true
		}
	}()
	f()
	return false
}

// TestResumeAfterKills kills a world's process again and again at a
// write — of a record, of the saga log, of the kept sleds — and resumes
// it from what outlived it: every invariant holds across the kills, and
// the world settles with nothing left over (no saga unfinished, no lock
// held, no reservation leaked), as one that never died does.
func TestResumeAfterKills(t *testing.T) {
	seeds := uint64(4)
	if n, err := strconv.ParseUint(os.Getenv("VMLIFE_RESUME_SEEDS"), 10, 64); err == nil {
		seeds = n // a longer search: VMLIFE_RESUME_SEEDS=200
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			mem, keeper := datastore.NewMemory(), &MemKeeper{}
			pick := NewRand(seed * 7919)
			const steps = 3000
			kills, resumed := 0, 0
			var w *World
			var k *killer
			for w == nil || w.Steps() < steps {
				k = &killer{Memory: mem, keeper: keeper, after: 1 + pick.IntN(400)}
				died := live(t, func() {
					var err error
					w, err = Resume(Config{Store: k, Keeper: k})
					if errors.Is(err, ErrNothingToResume) {
						// Killed before its first keep: nothing was
						// written, and the run begins again.
						cfg := Default()
						cfg.Instances, cfg.Seed, cfg.Store, cfg.Keeper = 3+int(seed%4)*7, seed, k, k
						w, err = newRun(cfg, steps)
					} else {
						resumed++
					}
					if err != nil {
						t.Fatal(err)
					}
					r := NewRand(seed + uint64(w.epoch))
					for w.Steps() < steps {
						w.Step(r)
					}
				})
				if died {
					kills++
					w = nil
					if kills > 200 {
						t.Fatal("200 kills and the run is not over")
					}
				}
			}
			k.after = -1 // the last process lives on
			for _, v := range w.Settle(NewRand(seed), SettleSteps(w.cfg.Instances)) {
				t.Errorf("%v", v)
			}
			for _, v := range w.Violations() {
				t.Errorf("%v", v)
			}
			s := w.Summary()
			if s.SagasUnfinished != 0 || s.LocksHeld != 0 || s.ReservationsLeaked != 0 {
				t.Errorf("settled after %d kills, the world leaves %d sagas unfinished, %d locks held, %d reservations leaked",
					kills, s.SagasUnfinished, s.LocksHeld, s.ReservationsLeaked)
			}
			// Every instance the store holds alive is one the world knows.
			tables, err := mem.Tables(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range tables.Instances {
				if row.TimeDeleted.IsZero() && w.live(row.Instance.ID) == nil {
					t.Errorf("the store holds instance %v alive (%v); the world does not know it", row.Instance.ID, row.Instance.Runtime.State)
				}
			}
			if kills < 5 {
				t.Errorf("only %d kills: the test did not kill", kills)
			}
			if s.Events.Get("sagas_recovered_after_crash") == 0 {
				t.Errorf("%d kills and no saga recovered", kills)
			}
			t.Logf("%d kills, %d resumptions, %d steps, %d of earlier processes", kills, resumed, w.Steps(), s.Events.Get("sagas_recovered_of_earlier_processes"))
		})
	}
}

// What is kept is what is resumed: a world resumed from its last keep,
// with nothing lost after it, holds the same sleds, instances, reports
// on their way and counts, and keeps the same documents but for its
// clock and epoch.
func TestResumeKeepsTheWorld(t *testing.T) {
	keeper := &MemKeeper{}
	cfg := Default()
	cfg.Instances, cfg.Keeper = 12, keeper
	mem := datastore.NewMemory()
	cfg.Store = mem
	w, err := newRun(cfg, 500)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRand(3)
	for range 500 {
		w.Step(r)
	}
	// With no saga in flight, so that recovery has nothing to change.
	for len(w.sagas) > 0 {
		w.stepWith(r, func() Action { return ActSagaStep })
	}
	// And with the reaper run, so that the new process's has nothing to
	// reap.
	w.stepWith(r, func() Action { return ActReaper })
	before, err := keeper.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w2, err := Resume(Config{Store: mem, Keeper: keeper})
	if err != nil {
		t.Fatal(err)
	}
	after, err := keeper.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Sleds, after.Sleds); diff != "" {
		t.Errorf("the sleds changed across a resumption (-before +after):\n%s", diff)
	}
	w.epoch, w.now = w2.epoch, w2.now
	want, got := asJSON(t, w.worldDoc()), asJSON(t, w2.worldDoc())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the world changed across a resumption (-before +after):\n%s", diff)
	}
	if w2.epoch != 1 || !w2.now.Equal(w.now) {
		t.Errorf("resumed at epoch %d, %v", w2.epoch, w2.now)
	}
	if got, want := len(w2.vmms), len(w.vmms); got != want {
		t.Errorf("resumed with %d VMM rows, kept %d", got, want)
	}
	if got, want := len(w2.migs), len(w.migs); got > want {
		t.Errorf("resumed with %d migration rows, kept %d", got, want)
	}
}

func TestResumeRefuses(t *testing.T) {
	if _, err := Resume(Config{Keeper: &MemKeeper{}}); err == nil {
		t.Error("no store: resumed")
	}
	if _, err := Resume(Config{Store: datastore.NewMemory()}); err == nil {
		t.Error("no keeper: resumed")
	}
	if _, err := Resume(Config{Store: datastore.NewMemory(), Keeper: &MemKeeper{}}); !errors.Is(err, ErrNothingToResume) {
		t.Errorf("nothing kept: %v", err)
	}
	k := &MemKeeper{}
	if err := k.Keep(context.Background(), Kept{World: []byte(`{"version":99}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(Config{Store: datastore.NewMemory(), Keeper: k}); err == nil {
		t.Error("a kept world of another version: resumed")
	}
	if err := k.Keep(context.Background(), Kept{World: []byte(`{`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(Config{Store: datastore.NewMemory(), Keeper: k}); err == nil {
		t.Error("a broken kept world: resumed")
	}
}

// asJSON is v as encoding/json reads its encoding back into an any.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// outage is a store that stops answering: every read of an instance
// fails as a store that timed out does, matching datastore.ErrUnavailable.
type outage struct {
	*datastore.Memory
	down bool
}

func (o *outage) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	if o.down {
		return instancestate.Snapshot{}, fmt.Errorf("no answer within 10s: %w", datastore.ErrUnavailable)
	}
	return o.Memory.InstanceFetchAll(ctx, id)
}

// A store that does not answer is no violation: the world stops, says
// why (Err), takes no further step, and is resumed once the store is
// back, settling with nothing left over.
func TestAStoreThatDoesNotAnswerStopsTheWorld(t *testing.T) {
	st, keeper := &outage{Memory: datastore.NewMemory()}, &MemKeeper{}
	cfg := Default()
	cfg.Instances, cfg.Store, cfg.Keeper = 6, st, keeper
	w, err := newRun(cfg, 2000)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRand(5)
	for range 300 {
		w.Step(r)
	}
	st.down = true
	// The first step that reads an instance stops the world; a step that
	// reads none (a Propolis tick) goes by.
	for i := 0; i < 100 && w.Err() == nil; i++ {
		w.Step(r)
	}
	if err := w.Err(); !errors.Is(err, datastore.ErrUnavailable) {
		t.Fatalf("Err() = %v, want the store's ErrUnavailable", err)
	}
	if step := w.Steps(); w.Step(r) != nil || w.Steps() != step {
		t.Errorf("a stopped world stepped on: %d → %d", step, w.Steps())
	}
	if vs := w.Violations(); len(vs) > 0 {
		t.Errorf("a store that did not answer counted as violations: %v", vs)
	}
	st.down = false
	w, err = Resume(Config{Store: st, Keeper: keeper})
	if err != nil {
		t.Fatal(err)
	}
	for w.Steps() < 2000 {
		w.Step(r)
	}
	for _, v := range w.Settle(r, SettleSteps(6)) {
		t.Errorf("%v", v)
	}
	if s := w.Summary(); s.Violations != 0 || s.SagasUnfinished != 0 || s.LocksHeld != 0 || s.ReservationsLeaked != 0 {
		t.Errorf("resumed and settled: %d violations, %d sagas unfinished, %d locks held, %d reservations leaked",
			s.Violations, s.SagasUnfinished, s.LocksHeld, s.ReservationsLeaked)
	}
}

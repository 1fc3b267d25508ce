package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// clock is a settable clock shared by goroutines.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// freezing is a store whose InstanceMarkAsStarting stops, once, until
// released: the process running the saga freezes in the middle of it.
type freezing struct {
	datastore.Store
	once    sync.Once
	frozen  chan struct{}
	release chan struct{}
}

func (f *freezing) InstanceMarkAsStarting(ctx context.Context, id instancestate.ID, p datastore.MarkAsStartingArgs) (instancestate.Instance, error) {
	f.once.Do(func() {
		close(f.frozen)
		<-f.release
	})
	return f.Store.InstanceMarkAsStarting(ctx, id, p)
}

// TestTwoExecutorsOneDatabase (D27): executor A freezes in the middle of a
// start saga; its lease expires; B adopts the saga and finishes it from the
// log, with the VMM id A chose. When A wakes, every write it tries on the
// saga is refused (lost_ownership) and it stops: nothing of the saga is
// written twice, nothing is lost, and nothing is left unfinished — the
// sled room A reserved is one record in the database, the VMM's.
func TestTwoExecutorsOneDatabase(t *testing.T) {
	ctx := context.Background()
	st := fresh(t)
	clk := &clock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	sled := vmmstate.SledIDFromUUID(uuid.MustParse("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"))
	agent, sleds := memsled.NewAgent(clk.Now), memsled.NewSleds(4, sled).RecordIn(st, clk.Now)
	env := &sagas.Env{Store: st, Agent: agent, Sleds: sleds, Now: clk.Now, NewID: memsled.IDs('s')}
	inst := instancestate.New(vmmstate.InstanceIDFromUUID(uuid.MustParse("11111111-1111-4111-8111-111111111111")), true, instancestate.AutoRestart{}, clk.Now())
	if r, err := sagas.Run(ctx, env, &sagas.Create{Instance: inst}, sagas.Options{}); err != nil || r.Outcome != sagas.Completed {
		t.Fatalf("create: %+v, %v", r, err)
	}

	fz := &freezing{Store: st, frozen: make(chan struct{}), release: make(chan struct{})}
	envA := *env
	envA.Store = fz
	a := &sagas.SEC{ID: uuid.MustParse("5ec00000-0000-4000-8000-00000000000a"), Log: st, Env: &envA}
	b := &sagas.SEC{ID: uuid.MustParse("5ec00000-0000-4000-8000-00000000000b"), Log: st, Env: env}
	sagaID := uuid.MustParse("67000000-0000-4000-8000-000000000001")

	done := make(chan sagas.Durable, 1)
	go func() {
		d, err := a.Run(ctx, sagaID, &sagas.Start{Instance: inst.ID, Reason: failure.StartReasonUser}, sagas.RunOptions{})
		if err != nil {
			t.Error(err)
		}
		done <- d
	}()
	<-fz.frozen

	if _, err := b.Adopt(ctx, a.ID); !errors.Is(err, datastore.ErrConflict) {
		t.Fatalf("adopting while A's lease holds: %v; want conflict", err)
	}
	clk.Add(sagas.DefaultLease + time.Second)
	adopted, err := b.Adopt(ctx, a.ID)
	if err != nil || len(adopted) != 1 || adopted[0] != sagaID {
		t.Fatalf("B adopted %v, %v", adopted, err)
	}
	adoptedAt := clk.Now()
	rec, err := b.Recover(ctx)
	if err != nil || len(rec) != 1 || rec[0].Outcome != sagas.Completed {
		t.Fatalf("B recovered %+v, %v", rec, err)
	}

	close(fz.release) // A wakes
	d := <-done
	if !errors.Is(d.Halted, datastore.ErrLostOwnership) || d.Outcome != 0 {
		t.Fatalf("A after waking: %+v; want it halted on lost ownership", d)
	}
	err = st.SagaAppend(ctx, datastore.Fence{SEC: a.ID, Generation: 1}, sagaID,
		datastore.NodeEvent{Saga: sagaID, Node: sagas.StepRegister, Type: datastore.EventStarted, Time: clk.Now(), Owner: a.ID})
	if !errors.Is(err, datastore.ErrLostOwnership) {
		t.Fatalf("A's own write after waking: %v; want lost_ownership", err)
	}
	if mine, err := a.Recover(ctx); err != nil || len(mine) != 0 {
		t.Fatalf("A recovered %+v, %v; want nothing", mine, err)
	}

	got, events, err := st.SagaFetch(ctx, sagaID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != datastore.SagaDone || got.CurrentSEC != b.ID || got.AdoptGeneration != 2 {
		t.Fatalf("the saga at the end: %+v", got)
	}
	seen := map[string]bool{}
	for _, e := range events {
		k := e.Node + ":" + e.Type.String()
		if seen[k] {
			t.Errorf("event %s written twice", k)
		}
		seen[k] = true
		if !e.Time.Before(adoptedAt) && e.Owner != b.ID {
			t.Errorf("event %s after the adoption written by %v", k, e.Owner)
		}
	}
	for _, s := range []string{sagas.StepMarkAsStarting, sagas.StepRegister, sagas.StepClearStartFailure} {
		if !seen[s+":succeeded"] {
			t.Errorf("no %s:succeeded in the log: %v", s, seen)
		}
	}
	snap, err := st.InstanceFetchAll(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Instance.Runtime.State != instancestate.NexusVMM || snap.Active.Runtime.State != vmmstate.Starting {
		t.Errorf("the instance at the end: %v, its VMM %v", snap.Instance.Runtime.State, snap.Active.Runtime.State)
	}
	if agent.Len() != 1 || len(sleds.Reserved()) != 1 || sleds.Reserved()[0] != snap.Instance.Runtime.ActiveVMM {
		t.Errorf("the sled-agent holds %d VMMs, the sleds %v; want the one VMM %v", agent.Len(), sleds.Reserved(), snap.Instance.Runtime.ActiveVMM)
	}
	recorded, err := st.ReservationListBySled(ctx, sled)
	if err != nil || len(recorded) != 1 || recorded[0].VMM != snap.Instance.Runtime.ActiveVMM || recorded[0].Instance != inst.ID {
		t.Errorf("the database records reservations %+v, %v; want the one VMM's %v", recorded, err, snap.Instance.Runtime.ActiveVMM)
	}
	if leaked, err := st.ReservationListLeaked(ctx); err != nil || len(leaked) != 0 {
		t.Errorf("leaked reservations at the end: %v, %v", leaked, err)
	}
	if left, err := st.SagaListUnfinished(ctx, uuid.Nil); err != nil || len(left) != 0 {
		t.Errorf("unfinished at the end: %v, %v", left, err)
	}
}

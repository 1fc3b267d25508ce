package sagas_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

var (
	secA   = id('e', 1)
	secB   = id('e', 2)
	sagaID = id('g', 1)
)

func (f *fixture) sec(id uuid.UUID) *sagas.SEC {
	return &sagas.SEC{ID: id, Log: f.st, Env: f.w.Env}
}

// world is everything a saga can leave: every row of the store, the
// VMMs the sled-agent holds and the sleds' reservations, as the sleds'
// table holds them and as the store records them.
type world struct {
	Tables   datastore.Tables
	Held     map[string]string
	Reserved []vmmstate.ID
	Recorded []datastore.Reservation
}

func (f *fixture) world(vmms []vmmstate.ID) world {
	f.t.Helper()
	tabs, err := f.st.Tables(f.ctx)
	f.must(err)
	w := world{Tables: tabs, Held: map[string]string{}, Reserved: f.w.Sleds.Reserved(), Recorded: f.recorded()}
	if ids := reservedVMMs(w.Recorded); !slices.Equal(ids, w.Reserved) {
		f.t.Errorf("the store records reservations for %v; the sleds hold room for %v", ids, w.Reserved)
	}
	for _, v := range vmms {
		if st, ok := f.w.Agent.Holds(v); ok {
			w.Held[v.String()] = st.String()
		}
	}
	return w
}

// recorded returns the reservations the store records on the fixture's
// sleds, by VMM id.
func (f *fixture) recorded() []datastore.Reservation {
	f.t.Helper()
	var out []datastore.Reservation
	for _, sl := range []vmmstate.SledID{sledA, sledB} {
		rs, err := f.st.ReservationListBySled(f.ctx, sl)
		f.must(err)
		out = append(out, rs...)
	}
	datastore.SortReservations(out)
	return out
}

func reservedVMMs(rs []datastore.Reservation) []vmmstate.ID {
	out := make([]vmmstate.ID, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.VMM)
	}
	return out
}

// unfinished fails the test if the log holds a saga not at rest.
func (f *fixture) unfinished() {
	f.t.Helper()
	recs, err := f.st.SagaListUnfinished(f.ctx, uuid.Nil)
	f.must(err)
	for _, r := range recs {
		f.t.Errorf("saga %v left %v", r.ID, r.State)
	}
}

// failPoints is "" (no failure) and every step of the saga.
func failPoints(tb table) []string {
	out := []string{""}
	for _, st := range tb.saga().Steps(&sagas.Env{}) {
		out = append(out, st.Name)
	}
	return out
}

// TestCrashAtEveryEvent: for every saga of the tables, every failure point
// and every crash point — after each durable event of the uncrashed run —
// a run crashed there and recovered by the same executor (a restarted
// process) leaves exactly what the uncrashed run leaves: the same rows,
// ids, states and generations, the same VMMs on the sled-agent and room
// on the sleds, the same outcome, and no saga unfinished (D26). The same
// again with a second crash during the recovery.
func TestCrashAtEveryEvent(t *testing.T) {
	for _, tb := range tables {
		for _, failAt := range failPoints(tb) {
			// The uncrashed run.
			f := newFixture(t)
			tb.setup(f)
			s := tb.saga()
			want, err := f.sec(secA).Run(f.ctx, sagaID, s, sagas.RunOptions{Options: sagas.Options{FailAt: failAt}})
			f.must(err)
			if want.Crashed || want.Halted != nil || want.Outcome == 0 {
				t.Fatalf("%s fail_at %q: the uncrashed run did not come to rest: %+v", tb.name, failAt, want)
			}
			vmms := tb.vmms(s)
			wantWorld := f.world(vmms)
			f.unfinished()

			for k := 0; k < want.Events; k++ {
				for _, second := range []int{-1, 0, 1, 2} {
					name := fmt.Sprintf("%s/fail_at=%q/crash_after=%d/second=%d", tb.name, failAt, k, second)
					g := newFixture(t)
					tb.setup(g)
					got, err := g.sec(secA).Run(g.ctx, sagaID, tb.saga(), sagas.RunOptions{Options: sagas.Options{FailAt: failAt}, Crash: true, CrashAfter: k})
					g.must(err)
					if !got.Crashed {
						t.Errorf("%s: did not crash: %+v", name, got)
						continue
					}
					var rec []sagas.Durable
					if second >= 0 {
						// A second crash during the recovery, then a third
						// process finishes.
						x := g.sec(secA)
						sagas.CrashRecoveryAfter(x, got.Events+second)
						_, err := x.Recover(g.ctx)
						g.must(err)
					}
					rec, err = g.sec(secA).Recover(g.ctx)
					g.must(err)
					if len(rec) > 1 {
						t.Errorf("%s: recovered %d sagas, want at most one", name, len(rec))
					}
					g.unfinished()
					if diff := cmp.Diff(wantWorld, g.world(vmms), allFields); diff != "" {
						t.Errorf("%s: what the recovered saga left differs from the uncrashed run (-want +got):\n%s", name, diff)
					}
					recOut, _, err := g.st.SagaFetch(g.ctx, sagaID)
					g.must(err)
					if recOut.State != datastore.SagaDone {
						t.Errorf("%s: saga %v after recovery", name, recOut.State)
					}
					// The recovered saga says why as the uncrashed run does:
					// the failure's error is read back from the log.
					if len(rec) == 1 && (rec[0].Outcome != want.Outcome || fmt.Sprint(rec[0].Err) != fmt.Sprint(want.Err) || rec[0].Ended != want.Ended) {
						t.Errorf("%s: recovered as %v (%v, ended %q), the uncrashed run %v (%v, ended %q)", name,
							rec[0].Outcome, rec[0].Err, rec[0].Ended, want.Outcome, want.Err, want.Ended)
					}
				}
			}
		}
	}
}

// TestFencedAfterAdoption: once B has adopted A's saga (A's lease
// expired), every write A tries is refused with ErrLostOwnership, and B
// finishes the saga.
func TestFencedAfterAdoption(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	a, b := f.sec(secA), f.sec(secB)
	got, err := a.Run(f.ctx, sagaID, tableSaga("start"), sagas.RunOptions{Crash: true, CrashAfter: 2})
	f.must(err)
	if !got.Crashed {
		t.Fatalf("no crash: %+v", got)
	}
	if _, err := b.Adopt(f.ctx, secA); !errors.Is(err, datastore.ErrConflict) {
		t.Fatalf("adopting while A's lease holds: %v; want ErrConflict", err)
	}
	f.now = f.now.Add(sagas.DefaultLease + 1)
	ids, err := b.Adopt(f.ctx, secA)
	f.must(err)
	if len(ids) != 1 || ids[0] != sagaID {
		t.Fatalf("adopted %v", ids)
	}
	// A wakes up: it owns nothing now, and the saga's log refuses it.
	if rec, err := a.Recover(f.ctx); err != nil || len(rec) != 0 {
		t.Fatalf("A recovered %v, %v; want nothing", rec, err)
	}
	err = f.st.SagaAppend(f.ctx, datastore.Fence{SEC: secA, Generation: 1}, sagaID, datastore.NodeEvent{Saga: sagaID, Node: "x", Type: datastore.EventStarted})
	if !errors.Is(err, datastore.ErrLostOwnership) {
		t.Fatalf("A's write after the adoption: %v; want ErrLostOwnership", err)
	}
	rec, err := b.Recover(f.ctx)
	f.must(err)
	if len(rec) != 1 || rec[0].Outcome != sagas.Completed {
		t.Fatalf("B recovered %+v", rec)
	}
	f.unfinished()
}

// TestCancelIsShutdown: a cancelled context stops the saga between nodes
// and undoes nothing (D28); a later recovery completes it.
func TestCancelIsShutdown(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	ctx, cancel := context.WithCancel(f.ctx)
	n := 0
	env := *f.w.Env
	env.Now = func() time.Time {
		if n++; n == 4 {
			cancel()
		}
		return f.now
	}
	x := &sagas.SEC{ID: secA, Log: f.st, Env: &env}
	got, err := x.Run(ctx, sagaID, tableSaga("start"), sagas.RunOptions{})
	f.must(err)
	if !errors.Is(got.Halted, context.Canceled) || got.Outcome != 0 || len(got.Undone) != 0 {
		t.Fatalf("cancelled run: %+v; want halted on the cancellation, nothing undone", got)
	}
	rec, err := f.sec(secA).Recover(f.ctx)
	f.must(err)
	if len(rec) != 1 || rec[0].Outcome != sagas.Completed {
		t.Fatalf("recovered %+v", rec)
	}
	f.unfinished()
}

func tableSaga(name string) sagas.Saga {
	for _, tb := range tables {
		if tb.name == name {
			return tb.saga()
		}
	}
	panic("no table " + name)
}

// TestStalled: a saga whose process died mid-way is listed once its last
// event is older than the deadline — with its instance and the node it
// stopped at — and not before; a recovered saga is not listed (D30).
func TestStalled(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	got, err := f.sec(secA).Run(f.ctx, sagaID, tableSaga("start"), sagas.RunOptions{Crash: true, CrashAfter: 3})
	f.must(err)
	if !got.Crashed {
		t.Fatalf("no crash: %+v", got)
	}
	if st, err := sagas.Stalled(f.ctx, f.st, f.now.Add(time.Minute), 5*time.Minute); err != nil || len(st) != 0 {
		t.Fatalf("stalled a minute later: %+v, %v; want none", st, err)
	}
	st, err := sagas.Stalled(f.ctx, f.st, f.now.Add(10*time.Minute), 5*time.Minute)
	f.must(err)
	want := []sagas.Stall{{Saga: sagaID, Kind: sagas.KindStart, Instance: instID, Owner: secA,
		Node: sagas.StepAllocServer, Event: datastore.EventStarted, Since: f.now}}
	if d := cmp.Diff(want, st, allFields); d != "" {
		t.Fatalf("stalled (-want +got):\n%s", d)
	}
	f.now = f.now.Add(10 * time.Minute)
	if _, err := f.sec(secA).Recover(f.ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := sagas.Stalled(f.ctx, f.st, f.now.Add(time.Hour), 5*time.Minute); err != nil || len(st) != 0 {
		t.Fatalf("after recovery: %+v, %v; want none", st, err)
	}
}

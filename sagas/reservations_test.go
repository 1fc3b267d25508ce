package sagas_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestSledsRecordReservations: a World over a store that keeps
// reservations records each one the sleds make — with the instance, on
// the sled chosen, at the time of the world's clock — and deletes it on
// release. A table that lost its memory (a new process over the same
// store) takes over a record the store holds for the same VMM, on the
// same sled, and releases what a dead table held.
func TestSledsRecordReservations(t *testing.T) {
	f := newFixture(t)
	v, w := vmmstate.IDFromUUID(id('v', 91)), vmmstate.IDFromUUID(id('v', 92))
	sl, err := f.w.Sleds.Reserve(f.ctx, instID, v)
	f.must(err)
	f.must(f.w.Sleds.ReserveOn(f.ctx, instID, sledB, w))
	want := []datastore.Reservation{
		{VMM: v, Instance: instID, Sled: sl, TimeCreated: f.now},
		{VMM: w, Instance: instID, Sled: sledB, TimeCreated: f.now},
	}
	datastore.SortReservations(want)
	if got := f.recorded(); !slices.Equal(got, want) {
		t.Fatalf("recorded %+v; want %+v", got, want)
	}

	// A new process: a table of its own over the same store, later.
	f.now = f.now.Add(time.Minute)
	fresh := memsled.NewSleds(2, sledA, sledB).RecordIn(f.st, func() time.Time { return f.now })
	again, err := fresh.Reserve(f.ctx, instID, v)
	f.must(err)
	if again != sl {
		t.Errorf("the new table reserved VMM %v on %v; the store records it on %v", v, again, sl)
	}
	if held, ok := fresh.Held(v); !ok || held != sl {
		t.Errorf("the new table holds %v, %v", held, ok)
	}
	f.must(fresh.ReserveOn(f.ctx, instID, sledB, w))
	if got := f.recorded(); !slices.Equal(got, want) {
		t.Errorf("taking over rewrote the records: %+v; want %+v", got, want)
	}
	f.must(fresh.Release(f.ctx, v))
	f.must(f.w.Sleds.Release(f.ctx, w)) // the old table releases its own
	f.must(fresh.Release(f.ctx, w))     // and the new one finds nothing left
	if got := f.recorded(); len(got) != 0 {
		t.Errorf("after the releases, recorded %+v", got)
	}
	// A VMM reserved elsewhere than ReserveOn asks is another reservation.
	u := vmmstate.IDFromUUID(id('v', 93))
	f.must(f.w.Sleds.ReserveOn(f.ctx, instID, sledA, u))
	if err := fresh.ReserveOn(f.ctx, instID, sledB, u); err == nil {
		t.Error("a new table reserved on sled B a VMM the store records on sled A")
	}
}

// TestReservationOutlivesTheProcess: a start saga killed once its room is
// reserved, before its VMM is inserted, leaves a reservation the store
// lists as leaked; a new process, with a sleds' table of its own over the
// same store, recovers the saga — forward, and the reservation is the
// VMM's; or back, and its undo deletes the record the dead process wrote.
func TestReservationOutlivesTheProcess(t *testing.T) {
	for _, failAt := range []string{"", sagas.StepRegister} {
		f := newFixture(t)
		f.stopped()
		s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
		d, err := f.sec(secA).Run(f.ctx, sagaID, s, sagas.RunOptions{Options: sagas.Options{FailAt: failAt}, Crash: true, CrashAfter: 5})
		f.must(err)
		leaked, err := f.st.ReservationListLeaked(f.ctx)
		f.must(err)
		if !d.Crashed || len(leaked) != 1 {
			t.Fatalf("fail_at %q: crashed %v, leaked %v; want a crash that leaves one", failAt, d.Crashed, leaked)
		}
		vmm := leaked[0]
		f.w.Sleds = memsled.NewSleds(2, sledA, sledB).RecordIn(f.st, func() time.Time { return f.now })
		f.w.Env.Sleds = f.w.Sleds
		_, err = f.sec(secA).Recover(f.ctx)
		f.must(err)
		f.unfinished()
		leaked, err = f.st.ReservationListLeaked(f.ctx)
		f.must(err)
		if len(leaked) != 0 {
			t.Errorf("fail_at %q: leaked after recovery: %v", failAt, leaked)
		}
		want := []vmmstate.ID{vmm}
		if failAt != "" {
			want = nil
		}
		if got := reservedVMMs(f.recorded()); !slices.Equal(got, want) {
			t.Errorf("fail_at %q: recorded %v; want %v", failAt, got, want)
		}
	}
}

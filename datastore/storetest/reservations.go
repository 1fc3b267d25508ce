package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// ReservationStore is a store that keeps the sleds' reservations beside
// its records: the leaked list reads both.
type ReservationStore interface {
	datastore.Store
	datastore.SledReservations
}

// OpenReservations returns an empty store for one test.
type OpenReservations func(t *testing.T) ReservationStore

// RunReservations runs the conformance suite of datastore.SledReservations
// against the stores open makes: every guard, an idempotent insert and a
// conflicting one (D29), a release made twice, the list by sled, the list
// of leaked reservations (the VMM absent, soft-deleted, live), and
// goroutines racing to insert one VMM's reservation.
func RunReservations(t *testing.T, open OpenReservations) {
	for _, c := range reservationCases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					if u, ok := r.(unexpectedErr); ok {
						t.Fatalf("unexpected error: %v", u.err)
					}
					panic(r)
				}
			}()
			st := open(t)
			c.run(&resvFixture{fixture: &fixture{t: t, st: st, ctx: context.Background()}, r: st})
		})
	}
}

var reservationCases = []struct {
	name string
	run  func(*resvFixture)
}{
	{"InsertRefusesInvalidReservations", testReservationGuards},
	{"D29/InsertIsIdempotentAndAVMMHoldsOne", testReservationInsert},
	{"DeleteTwice", testReservationDelete},
	{"ListBySled", testReservationListBySled},
	{"ListLeaked", testReservationListLeaked},
	{"Concurrency/OneReservationPerVMM", testReservationRace},
}

type resvFixture struct {
	*fixture
	r datastore.SledReservations
}

// reservation returns a reservation of a fresh VMM id for instance on
// sled, at t0 plus a nanosecond (which the store drops, StoreTime).
func (f *resvFixture) reservation(in instancestate.ID, sled vmmstate.SledID) datastore.Reservation {
	return datastore.Reservation{VMM: vmmstate.IDFromUUID(f.uid('v')), Instance: in, Sled: sled, TimeCreated: t0.Add(time.Nanosecond)}
}

func (f *resvFixture) bySled(sled vmmstate.SledID) []vmmstate.ID {
	f.t.Helper()
	var out []vmmstate.ID
	for _, r := range must(f.r.ReservationListBySled(f.ctx, sled)) {
		out = append(out, r.VMM)
	}
	return out
}

func testReservationGuards(f *resvFixture) {
	in, sled := f.instance(), f.sled()
	for _, c := range []struct {
		field string
		bad   func(*datastore.Reservation)
	}{
		{"(id)", func(r *datastore.Reservation) { r.VMM = vmmstate.ID{} }},
		{"instance_id", func(r *datastore.Reservation) { r.Instance = instancestate.ID{} }},
		{"sled_id", func(r *datastore.Reservation) { r.Sled = vmmstate.SledID{} }},
		{"time_created", func(r *datastore.Reservation) { r.TimeCreated = time.Time{} }},
	} {
		r := f.reservation(in.ID, sled)
		c.bad(&r)
		err := f.r.ReservationInsert(f.ctx, r)
		f.wantKind("a reservation without "+c.field, err, datastore.KindInvalidRequest)
		if e := (*datastore.Error)(nil); errors.As(err, &e) && !strings.Contains(e.Message, c.field) {
			f.t.Errorf("refusal %q does not name %s", e.Message, c.field)
		}
	}
	if got := f.bySled(sled); len(got) != 0 {
		f.t.Errorf("refused reservations were stored: %v", got)
	}
}

func testReservationInsert(f *resvFixture) {
	in, sled := f.instance(), f.sled()
	r := f.reservation(in.ID, sled)
	f.must(f.r.ReservationInsert(f.ctx, r))
	f.must(f.r.ReservationInsert(f.ctx, r)) // an identical retry
	stored := r
	stored.TimeCreated = t0
	f.must(f.r.ReservationInsert(f.ctx, stored)) // the same, as the store keeps it
	for what, other := range map[string]func(*datastore.Reservation){
		"another sled":     func(o *datastore.Reservation) { o.Sled = f.sled() },
		"another instance": func(o *datastore.Reservation) { o.Instance = f.instance().ID },
		"another time":     func(o *datastore.Reservation) { o.TimeCreated = at(1) },
	} {
		o := r
		other(&o)
		f.wantKind("a reservation under a used VMM id, on "+what, f.r.ReservationInsert(f.ctx, o), datastore.KindConflict)
	}
	got := must(f.r.ReservationListBySled(f.ctx, sled))
	if want := []datastore.Reservation{stored}; !slices.EqualFunc(got, want, sameReservation) {
		f.t.Errorf("stored %+v; want %+v", got, want)
	}
}

func sameReservation(a, b datastore.Reservation) bool {
	return a.VMM == b.VMM && a.Instance == b.Instance && a.Sled == b.Sled && a.TimeCreated.Equal(b.TimeCreated)
}

func (f *resvFixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("unexpected error: %v", err)
	}
}

func testReservationDelete(f *resvFixture) {
	in, sled := f.instance(), f.sled()
	r := f.reservation(in.ID, sled)
	f.must(f.r.ReservationInsert(f.ctx, r))
	f.expect("release", true, 0)(f.r.ReservationDelete(f.ctx, r.VMM))
	f.expect("release again", false, datastore.ReasonUnchanged)(f.r.ReservationDelete(f.ctx, r.VMM))
	f.expect("release what was never held", false, datastore.ReasonUnchanged)(f.r.ReservationDelete(f.ctx, vmmstate.IDFromUUID(f.uid('v'))))
	if got := f.bySled(sled); len(got) != 0 {
		f.t.Errorf("released, yet listed: %v", got)
	}
	// Released, the VMM id may hold room again (a saga run again from the
	// start after its undo).
	f.must(f.r.ReservationInsert(f.ctx, r))
	if got := f.bySled(sled); !slices.Equal(got, []vmmstate.ID{r.VMM}) {
		f.t.Errorf("reserved again: %v", got)
	}
}

func testReservationListBySled(f *resvFixture) {
	in := f.instance()
	a, b, empty := f.sled(), f.sled(), f.sled()
	var onA, onB []vmmstate.ID
	// Inserted out of id order: the list is by id.
	var rs []datastore.Reservation
	for i := range 6 {
		sl := a
		if i%3 == 0 {
			sl = b
		}
		rs = append(rs, f.reservation(in.ID, sl))
	}
	for i := len(rs) - 1; i >= 0; i-- {
		f.must(f.r.ReservationInsert(f.ctx, rs[i]))
	}
	for _, r := range rs {
		if r.Sled == a {
			onA = append(onA, r.VMM)
		} else {
			onB = append(onB, r.VMM)
		}
	}
	if got := f.bySled(a); !slices.Equal(got, onA) {
		f.t.Errorf("on sled a: %v; want %v", got, onA)
	}
	if got := f.bySled(b); !slices.Equal(got, onB) {
		f.t.Errorf("on sled b: %v; want %v", got, onB)
	}
	if got := f.bySled(empty); len(got) != 0 {
		f.t.Errorf("on a sled with nothing: %v", got)
	}
	f.expect("release", true, 0)(f.r.ReservationDelete(f.ctx, onA[1]))
	if got, want := f.bySled(a), slices.Delete(slices.Clone(onA), 1, 2); !slices.Equal(got, want) {
		f.t.Errorf("on sled a after a release: %v; want %v", got, want)
	}
}

func testReservationListLeaked(f *resvFixture) {
	in, sled := f.instance(), f.sled()
	// Live: a VMM running, one creating, one destroyed but not yet deleted.
	live := []vmmstate.VMM{f.vmm(in.ID, sled, vmmstate.Running, 3), f.vmm(in.ID, sled, vmmstate.Creating, 1),
		f.vmm(in.ID, sled, vmmstate.Destroyed, 5)}
	// Soft-deleted by the reaper without releasing its room.
	gone := f.vmm(in.ID, sled, vmmstate.SagaUnwound, 2)
	f.expect("delete the VMM", true, 0)(f.st.VMMMarkDeleted(f.ctx, gone.ID, at(2)))
	// Absent: a start saga that reserved and died before its VMM record.
	absent := f.reservation(in.ID, sled)
	for _, v := range append(live, gone) {
		f.must(f.r.ReservationInsert(f.ctx, datastore.Reservation{VMM: v.ID, Instance: in.ID, Sled: sled, TimeCreated: t0}))
	}
	f.must(f.r.ReservationInsert(f.ctx, absent))
	want := []vmmstate.ID{gone.ID, absent.VMM}
	slices.SortFunc(want, func(x, y vmmstate.ID) int { return compareUUID(x.UUID(), y.UUID()) })
	if got := must(f.r.ReservationListLeaked(f.ctx)); !slices.Equal(got, want) {
		f.t.Errorf("leaked %v; want %v", got, want)
	}
	// Released, a leak is no more; a VMM deleted with its room released
	// leaves nothing behind.
	f.expect("release the absent VMM's room", true, 0)(f.r.ReservationDelete(f.ctx, absent.VMM))
	f.expect("release the deleted VMM's room", true, 0)(f.r.ReservationDelete(f.ctx, gone.ID))
	f.expect("release the destroyed VMM's room", true, 0)(f.r.ReservationDelete(f.ctx, live[2].ID))
	f.expect("delete the destroyed VMM", true, 0)(f.st.VMMMarkDeleted(f.ctx, live[2].ID, at(3)))
	if got := must(f.r.ReservationListLeaked(f.ctx)); len(got) != 0 {
		f.t.Errorf("leaked after the releases: %v", got)
	}
}

// testReservationRace: goroutines insert one VMM's reservation at once,
// half the same record and half another sled's: exactly one record is
// stored, each identical retry of it succeeds, every other is a conflict.
func testReservationRace(f *resvFixture) {
	in := f.instance()
	sleds := []vmmstate.SledID{f.sled(), f.sled()}
	vmm := vmmstate.IDFromUUID(f.uid('v'))
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f.r.ReservationInsert(f.ctx, datastore.Reservation{VMM: vmm, Instance: in.ID, Sled: sleds[i%2], TimeCreated: t0})
		}()
	}
	close(start)
	wg.Wait()
	var stored []datastore.Reservation
	for _, sl := range sleds {
		stored = append(stored, must(f.r.ReservationListBySled(f.ctx, sl))...)
	}
	if len(stored) != 1 {
		f.t.Fatalf("%d reservations stored for one VMM: %+v", len(stored), stored)
	}
	for i, err := range errs {
		switch {
		case sleds[i%2] == stored[0].Sled && err != nil:
			f.t.Errorf("racer %d, the stored record: %v", i, err)
		case sleds[i%2] != stored[0].Sled:
			if de := (*datastore.Error)(nil); !errors.As(err, &de) || de.Kind != datastore.KindConflict {
				f.t.Errorf("racer %d, another sled: %v; want a conflict", i, err)
			}
		}
	}
}

package pgstore_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/datastore/storetest"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestReservationsConformance runs the reservations' conformance suite on
// PostgreSQL, each case in a fresh schema: the same cases, the race
// included, that Memory passes.
func TestReservationsConformance(t *testing.T) {
	storetest.RunReservations(t, func(t *testing.T) storetest.ReservationStore { return fresh(t) })
}

// TestReservationsAnswerAsMemory: one history of reservations — inserts
// with nanoseconds, a retry, a conflict, refusals of every field, a VMM
// soft-deleted and one absent, releases made twice — run on PostgreSQL and
// on Memory answers the same at every step, refusals word for word, and
// reads back the same.
func TestReservationsAnswerAsMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	in := vmmstate.InstanceIDFromUUID(uuid.New())
	sled, other := vmmstate.SledIDFromUUID(uuid.New()), vmmstate.SledIDFromUUID(uuid.New())
	live, gone := vmmstate.IDFromUUID(uuid.New()), vmmstate.IDFromUUID(uuid.New())
	r := datastore.Reservation{VMM: live, Instance: in, Sled: sled, TimeCreated: now}
	g := datastore.Reservation{VMM: gone, Instance: in, Sled: sled, TimeCreated: now}
	absent := datastore.Reservation{VMM: vmmstate.IDFromUUID(uuid.New()), Instance: in, Sled: other, TimeCreated: now}
	vmm := func(id vmmstate.ID, state vmmstate.State) vmmstate.VMM {
		return vmmstate.VMM{ID: id, InstanceID: in, SledID: sled,
			Runtime: vmmstate.Runtime{State: state, Generation: generation.Of(2), TimeUpdated: now}}
	}
	type store interface {
		datastore.Store
		datastore.SledReservations
	}
	steps := []struct {
		name string
		do   func(store) (any, error)
	}{
		{"insert", func(s store) (any, error) { return nil, s.ReservationInsert(ctx, r) }},
		{"insert again", func(s store) (any, error) { return nil, s.ReservationInsert(ctx, r) }},
		{"insert as stored", func(s store) (any, error) {
			r := r
			r.TimeCreated = datastore.StoreTime(now)
			return nil, s.ReservationInsert(ctx, r)
		}},
		{"another sled", func(s store) (any, error) {
			r := r
			r.Sled = other
			return nil, s.ReservationInsert(ctx, r)
		}},
		{"no instance", func(s store) (any, error) {
			r := absent
			r.Instance = vmmstate.InstanceID{}
			return nil, s.ReservationInsert(ctx, r)
		}},
		{"no time", func(s store) (any, error) {
			r := absent
			r.TimeCreated = time.Time{}
			return nil, s.ReservationInsert(ctx, r)
		}},
		{"the others", func(s store) (any, error) {
			return nil, errors.Join(s.ReservationInsert(ctx, g), s.ReservationInsert(ctx, absent))
		}},
		{"the VMMs", func(s store) (any, error) {
			_, err1 := s.VMMInsert(ctx, vmm(live, vmmstate.Running))
			_, err2 := s.VMMInsert(ctx, vmm(gone, vmmstate.Destroyed))
			res, err3 := s.VMMMarkDeleted(ctx, gone, now)
			return res, errors.Join(err1, err2, err3)
		}},
		{"by sled", func(s store) (any, error) { return s.ReservationListBySled(ctx, sled) }},
		{"by the other sled", func(s store) (any, error) { return s.ReservationListBySled(ctx, other) }},
		{"leaked", func(s store) (any, error) { return s.ReservationListLeaked(ctx) }},
		{"release", func(s store) (any, error) { return s.ReservationDelete(ctx, gone) }},
		{"release again", func(s store) (any, error) { return s.ReservationDelete(ctx, gone) }},
		{"leaked after", func(s store) (any, error) { return s.ReservationListLeaked(ctx) }},
	}
	pg, mem := fresh(t), datastore.NewMemory()
	for _, s := range steps {
		want, wantErr := s.do(mem)
		got, gotErr := s.do(pg)
		if !sameError(gotErr, wantErr) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: PostgreSQL answers\n\t%#v, %v\nMemory\n\t%#v, %v", s.name, got, gotErr, want, wantErr)
		}
	}
}

// TestReservationRoundTrips: every operation on the reservations is one
// round trip to the server, a retry and a conflict included.
func TestReservationRoundTrips(t *testing.T) {
	st, rt := traced(t)
	ctx := context.Background()
	sled := vmmstate.SledIDFromUUID(uuid.New())
	resv := func() datastore.Reservation {
		return datastore.Reservation{VMM: vmmstate.IDFromUUID(uuid.New()), Instance: vmmstate.InstanceIDFromUUID(uuid.New()),
			Sled: sled, TimeCreated: t0}
	}
	ops := []struct {
		name string
		do   func(r datastore.Reservation) error
	}{
		{"reservation_insert", func(datastore.Reservation) error { return st.ReservationInsert(ctx, resv()) }},
		{"reservation_insert retried", func(r datastore.Reservation) error { return st.ReservationInsert(ctx, r) }},
		{"reservation_insert conflict", func(r datastore.Reservation) error {
			r.Sled = vmmstate.SledIDFromUUID(uuid.New())
			if err := st.ReservationInsert(ctx, r); err == nil {
				t.Fatal("another reservation under a used VMM id was stored")
			}
			return nil
		}},
		{"reservation_list_by_sled", func(datastore.Reservation) error { _, err := st.ReservationListBySled(ctx, sled); return err }},
		{"reservation_list_leaked", func(datastore.Reservation) error { _, err := st.ReservationListLeaked(ctx); return err }},
		{"reservation_delete", func(r datastore.Reservation) error { _, err := st.ReservationDelete(ctx, r.VMM); return err }},
		{"reservation_delete again", func(r datastore.Reservation) error {
			_, err := st.ReservationDelete(ctx, r.VMM)
			return err
		}},
	}
	for _, op := range ops {
		// Once to prepare the statements, then counted.
		for i := range 2 {
			r := resv()
			if err := st.ReservationInsert(ctx, r); err != nil {
				t.Fatal(err)
			}
			before := rt.n.Load()
			if err := op.do(r); err != nil {
				t.Fatalf("%s: %v", op.name, err)
			}
			if n := rt.n.Load() - before; i == 1 && n != 1 {
				t.Errorf("%s: %d round trips, want 1", op.name, n)
			}
		}
	}
}

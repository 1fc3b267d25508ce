package pgstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/datastore/storetest"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestReservationsConformance runs the reservations' conformance suite on
// PostgreSQL, each case in a fresh schema: the same cases, the race
// included, that Memory passes.
func TestReservationsConformance(t *testing.T) {
	storetest.RunReservations(t, func(t *testing.T) storetest.ReservationStore { return fresh(t) })
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

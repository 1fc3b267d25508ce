package pgstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestWriteRowsTouchingNothingIsRetried: a write-back whose insert finds
// the row already there, or whose update finds the row at another
// generation than it read, touches no row; the whole batch is then
// refused as errRetry, and the other writes beside it are not kept.
func TestWriteRowsTouchingNothingIsRetried(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vmm := func(gen uint32) datastore.VMMRow {
		return datastore.VMMRow{VMM: vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()),
			InstanceID: vmmstate.InstanceIDFromUUID(uuid.New()), SledID: vmmstate.SledIDFromUUID(uuid.New()),
			Runtime: vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(gen), TimeUpdated: t0}}}
	}
	stored := vmm(2)
	if _, err := st.VMMInsert(ctx, stored.VMM); err != nil {
		t.Fatal(err)
	}
	readAt := stored
	readAt.VMM.Runtime.Generation = generation.Of(1) // not what is stored
	newer := stored
	newer.VMM.Runtime.Generation = generation.Of(3)
	for _, c := range []struct {
		name          string
		before, after []datastore.VMMRow
	}{
		{"an insert of a row already there", nil, []datastore.VMMRow{stored}},
		{"an update of a row at another generation", []datastore.VMMRow{readAt}, []datastore.VMMRow{newer}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A write that succeeds, sent before the one that touches nothing.
			fresh := vmm(1)
			conn, err := st.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL SERIALIZABLE"); err != nil {
				t.Fatal(err)
			}
			// writeRows sends the writes in after's order.
			after := append([]datastore.VMMRow{fresh}, c.after...)
			err = writeRows(ctx, conn.Conn(), datastore.Tables{VMMs: c.before}, datastore.Tables{VMMs: after})
			_, _ = conn.Exec(ctx, "ROLLBACK")
			if !errors.Is(err, errRetry) {
				t.Fatalf("writeRows = %v, want errRetry", err)
			}
			if _, err := st.VMMFetch(ctx, fresh.VMM.ID); !errors.Is(err, datastore.ErrNotFound) {
				t.Errorf("the write beside it was kept: VMMFetch = %v", err)
			}
			if row, err := st.VMMFetch(ctx, stored.VMM.ID); err != nil || row.VMM != stored.VMM {
				t.Errorf("the stored row changed: %v, %v", row.VMM, err)
			}
		})
	}
}

// TestWriteRowsMatchRowsByID: writeRows finds each row's old version by
// id wherever it stands in before: a changed row is updated, an unchanged
// one not written, a new one inserted, in one commit.
func TestWriteRowsMatchRowsByID(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vmm := func() datastore.VMMRow {
		return datastore.VMMRow{VMM: vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()),
			InstanceID: vmmstate.InstanceIDFromUUID(uuid.New()), SledID: vmmstate.SledIDFromUUID(uuid.New()),
			Runtime: vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(2), TimeUpdated: t0}}}
	}
	a, b, c := vmm(), vmm(), vmm()
	for _, r := range []datastore.VMMRow{a, b} {
		if _, err := st.VMMInsert(ctx, r.VMM); err != nil {
			t.Fatal(err)
		}
	}
	newer := b
	newer.VMM.Runtime.Generation = generation.Of(3)
	// a as read at a generation it is not stored at: written, its update
	// would touch nothing and fail the batch (errRetry).
	unchanged := a
	unchanged.VMM.Runtime.Generation = generation.Of(1)
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL SERIALIZABLE"); err != nil {
		t.Fatal(err)
	}
	err = writeRows(ctx, conn.Conn(), datastore.Tables{VMMs: []datastore.VMMRow{unchanged, b}},
		datastore.Tables{VMMs: []datastore.VMMRow{newer, unchanged, c}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []datastore.VMMRow{a, newer, c} {
		if got, err := st.VMMFetch(ctx, want.VMM.ID); err != nil || got != want {
			t.Errorf("VMM %v = %+v, %v; want %+v", want.VMM.ID, got, err, want)
		}
	}
}

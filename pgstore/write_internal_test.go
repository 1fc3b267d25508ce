package pgstore

import (
	"bytes"
	"context"
	"errors"
	"slices"
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
	// first leads the id, so that rows sort as the test means them to.
	vmm := func(first byte, gen uint32) datastore.VMMRow {
		id := uuid.New()
		id[0] = first
		return datastore.VMMRow{VMM: vmmstate.VMM{ID: vmmstate.IDFromUUID(id),
			InstanceID: vmmstate.InstanceIDFromUUID(uuid.New()), SledID: vmmstate.SledIDFromUUID(uuid.New()),
			Runtime: vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(gen), TimeUpdated: t0}}}
	}
	stored := vmm(0xff, 2)
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
			fresh := vmm(0x00, 1)
			conn, err := st.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL SERIALIZABLE"); err != nil {
				t.Fatal(err)
			}
			after := append([]datastore.VMMRow{fresh}, c.after...)
			err = writeRows(ctx, conn.Conn(), datastore.Tables{VMMs: c.before}, datastore.Tables{VMMs: sortVMMs(after)})
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

// sortVMMs orders rows by id, as writeRows expects them.
func sortVMMs(rows []datastore.VMMRow) []datastore.VMMRow {
	slices.SortFunc(rows, func(a, b datastore.VMMRow) int {
		x, y := a.VMM.ID.UUID(), b.VMM.ID.UUID()
		return bytes.Compare(x[:], y[:])
	})
	return rows
}

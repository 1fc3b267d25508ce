package datastore_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestTablesRoundTrip: the rows of a store, deleted ones included, load
// into an empty store and read back the same, and the loaded store answers
// as the first does.
func TestTablesRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, in, v := benchStore(t)
	m := migration.New(migration.IDFromUUID(uuid.New()), in.ID, v.ID, vmmstate.IDFromUUID(uuid.New()), t0)
	if _, err := st.MigrationInsert(ctx, m); err != nil {
		t.Fatal(err)
	}
	if res, err := st.MigrationMarkDeleted(ctx, m.ID, t0); err != nil || !res.Applied {
		t.Fatal(res, err)
	}
	want, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Instances) != 1 || len(want.VMMs) != 1 || len(want.Migrations) != 1 || want.Migrations[0].TimeDeleted.IsZero() {
		t.Fatalf("Tables = %+v", want)
	}
	loaded := datastore.NewMemory()
	if err := loaded.Load(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := loaded.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(want.Instances, got.Instances) || !slices.Equal(want.VMMs, got.VMMs) || !slices.Equal(want.Migrations, got.Migrations) {
		t.Fatalf("Tables after Load = %+v, want %+v", got, want)
	}
	a, errA := st.InstanceFetchAll(ctx, in.ID)
	b, errB := loaded.InstanceFetchAll(ctx, in.ID)
	if errA != nil || errB != nil || a != b {
		t.Fatalf("fetch differs: %v %v / %v %v", a, errA, b, errB)
	}
}

// TestLoadRefusesBrokenRows: one broken row refuses the whole load, naming
// the record, and nothing is loaded.
func TestLoadRefusesBrokenRows(t *testing.T) {
	ctx := context.Background()
	st, in, v := benchStore(t)
	good, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	broken := in
	broken.ID = vmmstate.InstanceIDFromUUID(uuid.New())
	broken.Runtime.ActiveVMM = vmmstate.ID{} // state vmm without an active VMM (§5.2)
	bad := good
	bad.Instances = append(bad.Instances, datastore.InstanceRow{Instance: broken})
	badVMM := good
	badVMM.VMMs = append(badVMM.VMMs, datastore.VMMRow{VMM: vmmstate.VMM{ID: v.ID}})
	for _, tables := range []datastore.Tables{bad, badVMM} {
		m := datastore.NewMemory()
		err := m.Load(ctx, tables)
		if !errors.Is(err, datastore.ErrInvalidRequest) {
			t.Fatalf("Load = %v, want invalid_request", err)
		}
		got, _ := m.Tables(ctx)
		if len(got.Instances)+len(got.VMMs)+len(got.Migrations) != 0 {
			t.Fatalf("a refused load left rows: %+v", got)
		}
	}
	if _, err := st.InstanceFetchAll(ctx, instancestate.ID(broken.ID)); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("broken instance reached the first store: %v", err)
	}
}

package datastore_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The store keeps no foreign keys: a VMM or migration may name an instance
// that is not there (inserted out of order, or loaded), and an instance may
// name records that are not there. Each operation answers as for a record
// nobody links or nobody can read, and none of them trips on the missing
// row.

// TestRecordsOfNoInstance: a VMM and a migration whose instance is absent
// are linked by nobody — deleted when destroyable, listed as abandoned —
// and no watcher checks the VMM, as it has no live instance.
func TestRecordsOfNoInstance(t *testing.T) {
	ctx := context.Background()
	st := datastore.NewMemory()
	ghost := vmmstate.InstanceIDFromUUID(uuid.New())
	sled := vmmstate.SledIDFromUUID(uuid.New())
	vmm := func(s vmmstate.State) vmmstate.VMM {
		v := vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()), InstanceID: ghost, SledID: sled,
			Runtime: vmmstate.Runtime{State: s, Generation: generation.Of(2), TimeUpdated: t0}}
		if _, err := st.VMMInsert(ctx, v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	running, gone, doomed := vmm(vmmstate.Running), vmm(vmmstate.Destroyed), vmm(vmmstate.Destroyed)
	m, err := st.MigrationInsert(ctx, migration.New(migration.IDFromUUID(uuid.New()), ghost, running.ID, gone.ID, t0))
	if err != nil {
		t.Fatal(err)
	}

	if got, err := st.VMMListBySled(ctx, sled); err != nil || len(got) != 0 {
		t.Errorf("VMMListBySled = %v, %v; want none: no live instance", got, err)
	}
	abandoned, err := st.VMMListAbandoned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sorted(gone.ID, doomed.ID), abandoned, allFields); diff != "" {
		t.Errorf("VMMListAbandoned (-want +got):\n%s", diff)
	}
	if res, err := st.VMMMarkDeleted(ctx, doomed.ID, t0); err != nil || !res.Applied {
		t.Errorf("VMMMarkDeleted = %+v, %v; want applied", res, err)
	}
	if res, err := st.MigrationMarkDeleted(ctx, m.ID, t0); err != nil || !res.Applied {
		t.Errorf("MigrationMarkDeleted = %+v, %v; want applied", res, err)
	}
}

// TestInstanceNamingNoRecords: an instance whose VMM and migration ids name
// no row reads them as absent; a migration started on it is refused as
// invalid_request, the snapshot breaking linked_record_present.
func TestInstanceNamingNoRecords(t *testing.T) {
	ctx := context.Background()
	st, in, v := benchStore(t)
	rt := in.Runtime
	rt.Generation = generation.Of(2)
	rt.TargetVMM, rt.MigrationID = vmmstate.IDFromUUID(uuid.New()), migration.IDFromUUID(uuid.New())
	loose := in
	loose.ID = vmmstate.InstanceIDFromUUID(uuid.New())
	loose.Runtime = rt
	loose.Runtime.ActiveVMM = vmmstate.IDFromUUID(uuid.New())
	if _, err := st.InstanceInsert(ctx, loose); err != nil {
		t.Fatal(err)
	}
	s, err := st.InstanceFetchAll(ctx, loose.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(instancestate.Snapshot{Instance: datastore.StoreInstance(loose)}, s, allFields); diff != "" {
		t.Errorf("fetch of an instance naming no rows (-want +got):\n%s", diff)
	}

	// Its own VMM runs; the target and migration it names are not there
	// (a loaded row: a runtime write links only records it can read).
	tables, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tables.Instances {
		if tables.Instances[i].Instance.ID == in.ID {
			tables.Instances[i].Instance.Runtime = rt
		}
	}
	if err := st.Load(ctx, tables); err != nil {
		t.Fatal(err)
	}
	_, err = st.InstanceSetMigrationIDs(ctx, in.ID, datastore.SetMigrationIDsArgs{Source: v.ID, Migration: migration.IDFromUUID(uuid.New()), Target: vmmstate.IDFromUUID(uuid.New()), Now: t0})
	if !errors.Is(err, datastore.ErrInvalidRequest) {
		t.Fatalf("a new migration while absent ones are named: %v; want invalid_request", err)
	}
}

func sorted(ids ...vmmstate.ID) []vmmstate.ID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b vmmstate.ID) int { ua, ub := a.UUID(), b.UUID(); return bytes.Compare(ua[:], ub[:]) })
	return out
}

package datastore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// migrating returns benchStore's store with a target VMM and a migration of
// the instance inserted, neither linked yet, and the runtime that links
// both at generation 3.
func migrating(t *testing.T) (*datastore.Memory, instancestate.Instance, vmmstate.VMM, migration.Record, instancestate.Runtime) {
	t.Helper()
	ctx := context.Background()
	st, in, src := benchStore(t)
	dst := vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()), InstanceID: in.ID, SledID: vmmstate.SledIDFromUUID(uuid.New()),
		Runtime: vmmstate.Runtime{State: vmmstate.Migrating, Generation: generation.Of(2), TimeUpdated: t0}}
	if _, err := st.VMMInsert(ctx, dst); err != nil {
		t.Fatal(err)
	}
	m, err := st.MigrationInsert(ctx, migration.New(migration.IDFromUUID(uuid.New()), in.ID, src.ID, dst.ID, t0))
	if err != nil {
		t.Fatal(err)
	}
	rt := in.Runtime
	rt.Generation, rt.TargetVMM, rt.MigrationID = generation.Of(3), dst.ID, m.ID
	return st, in, dst, m, rt
}

// TestRuntimeLinksOnlyReadableMigrations: a runtime write that newly links
// a migration the instance could not read — absent, deleted, another
// instance's — is refused as invalid_request, nothing written; its own
// live migration is linked, and unlinking it later is a write like any
// other.
func TestRuntimeLinksOnlyReadableMigrations(t *testing.T) {
	ctx := context.Background()
	st, in, _, m, rt := migrating(t)
	gone, err := st.MigrationInsert(ctx, migration.New(migration.IDFromUUID(uuid.New()), in.ID, m.Source.VMM, m.Target.VMM, t0))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := st.MigrationMarkDeleted(ctx, gone.ID, t0); err != nil || !res.Applied {
		t.Fatalf("delete: %+v, %v", res, err)
	}
	theirs, err := st.MigrationInsert(ctx, migration.New(migration.IDFromUUID(uuid.New()), vmmstate.InstanceIDFromUUID(uuid.New()), m.Source.VMM, m.Target.VMM, t0))
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for what, id := range map[string]migration.ID{
		"absent": migration.IDFromUUID(uuid.New()), "deleted": gone.ID, "another instance's": theirs.ID,
	} {
		bad := rt
		bad.MigrationID = id
		res, err := st.InstanceUpdateRuntime(ctx, in.ID, bad, instancestate.IntentUnchanged)
		if !errors.Is(err, datastore.ErrInvalidRequest) {
			t.Errorf("linking an %s migration: %+v, %v; want invalid_request", what, res, err)
		}
	}
	after, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after, allFields); diff != "" {
		t.Fatalf("refused links wrote (-before +after):\n%s", diff)
	}

	if res, err := st.InstanceUpdateRuntime(ctx, in.ID, rt, instancestate.IntentUnchanged); err != nil || !res.Applied {
		t.Fatalf("linking its own migration: %+v, %v; want applied", res, err)
	}
	unlinked := rt
	unlinked.Generation, unlinked.TargetVMM, unlinked.MigrationID = generation.Of(4), vmmstate.ID{}, migration.ID{}
	if res, err := st.InstanceUpdateRuntime(ctx, in.ID, unlinked, instancestate.IntentUnchanged); err != nil || !res.Applied {
		t.Fatalf("unlinking the migration: %+v, %v; want applied", res, err)
	}
	s, err := st.InstanceFetchAll(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(unlinked, s.Instance.Runtime, allFields); diff != "" {
		t.Fatalf("runtime after unlinking (-want +got):\n%s", diff)
	}
}

// TestRuntimeKeepsLinksItHas: a link the stored runtime already has is
// kept whatever its record — here a target VMM and a migration whose rows
// were deleted under it (rows loaded as another store kept them) — so the
// write that repairs the instance passes; and unlinking the active VMM is
// no new link to check.
func TestRuntimeKeepsLinksItHas(t *testing.T) {
	ctx := context.Background()
	st, in, dst, m, rt := migrating(t)
	if res, err := st.InstanceUpdateRuntime(ctx, in.ID, rt, instancestate.IntentUnchanged); err != nil || !res.Applied {
		t.Fatalf("link: %+v, %v", res, err)
	}
	deleteRows(t, st, dst.ID, m.ID)

	kept := rt
	kept.Generation = generation.Of(4)
	if res, err := st.InstanceUpdateRuntime(ctx, in.ID, kept, instancestate.IntentUnchanged); err != nil || !res.Applied {
		t.Fatalf("a write keeping links to deleted rows: %+v, %v; want applied", res, err)
	}
	none := kept
	none.State, none.Generation = instancestate.NexusNoVMM, generation.Of(5)
	none.ActiveVMM, none.TargetVMM, none.MigrationID = vmmstate.ID{}, vmmstate.ID{}, migration.ID{}
	if res, err := st.InstanceUpdateRuntime(ctx, in.ID, none, instancestate.IntentUnchanged); err != nil || !res.Applied {
		t.Fatalf("unlinking every record: %+v, %v; want applied", res, err)
	}
}

// TestSetMigrationIDsReplacesDeletedLeftovers: §8.1 (c) reads the linked
// target and migration even when their rows are deleted: an unwound
// migrate saga's leftovers — target unwound, migration failed on both
// sides — are replaced by a new migration, deleted or not.
func TestSetMigrationIDsReplacesDeletedLeftovers(t *testing.T) {
	ctx := context.Background()
	st, in, dst, m, rt := migrating(t)
	if res, err := st.InstanceUpdateRuntime(ctx, in.ID, rt, instancestate.IntentUnchanged); err != nil || !res.Applied {
		t.Fatalf("link: %+v, %v", res, err)
	}
	if res, err := st.VMMMarkSagaUnwound(ctx, dst.ID, t0); err != nil || !res.Applied {
		t.Fatalf("unwound: %+v, %v", res, err)
	}
	if res, err := st.MigrationMarkFailed(ctx, m.ID, t0); err != nil || !res.Applied {
		t.Fatalf("failed: %+v, %v", res, err)
	}
	deleteRows(t, st, dst.ID, m.ID)
	mig, target := migration.IDFromUUID(uuid.New()), vmmstate.IDFromUUID(uuid.New())
	got, err := st.InstanceSetMigrationIDs(ctx, in.ID, datastore.SetMigrationIDsArgs{Source: rt.ActiveVMM, Migration: mig, Target: target, Now: t0})
	if err != nil {
		t.Fatalf("a new migration over deleted leftovers: %v", err)
	}
	if got.Runtime.MigrationID != mig || got.Runtime.TargetVMM != target || got.Runtime.Generation != generation.Of(4) {
		t.Fatalf("after the new migration: %+v", got.Runtime)
	}
}

// deleteRows marks a VMM and a migration deleted under the instance that
// links them, as rows loaded from another store may be.
func deleteRows(t *testing.T, st *datastore.Memory, vmm vmmstate.ID, mig migration.ID) {
	t.Helper()
	ctx := context.Background()
	tables, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tables.VMMs {
		if tables.VMMs[i].VMM.ID == vmm {
			tables.VMMs[i].TimeDeleted = t0
		}
	}
	for i := range tables.Migrations {
		if tables.Migrations[i].Migration.ID == mig {
			tables.Migrations[i].TimeDeleted = t0
		}
	}
	if err := st.Load(ctx, tables); err != nil {
		t.Fatal(err)
	}
}

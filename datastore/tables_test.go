package datastore_test

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
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
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

// TestTablesAnswerAsMemory: the operations of a Tables, run on the rows of
// a store, answer as the store does and leave the same rows — an insert
// appended, a change made in place, a refusal changing nothing, a
// deletion marking the instance's migrations — through one history run
// on both, step by step.
func TestTablesAnswerAsMemory(t *testing.T) {
	ctx := context.Background()
	st, in, src := benchStore(t)
	rows, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst := vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()), InstanceID: in.ID, SledID: vmmstate.SledIDFromUUID(uuid.New()),
		Runtime: vmmstate.Runtime{State: vmmstate.Migrating, Generation: generation.Of(2), TimeUpdated: t0}}
	m := migration.New(migration.IDFromUUID(uuid.New()), in.ID, src.ID, dst.ID, t0)
	undated := migration.New(migration.IDFromUUID(uuid.New()), in.ID, src.ID, dst.ID, time.Time{})
	saga, other := instancestate.UpdaterIDFromUUID(uuid.New()), instancestate.UpdaterIDFromUUID(uuid.New())
	missing := vmmstate.IDFromUUID(uuid.New())
	held := func(s ruleStore) instancestate.Lock {
		snap, _ := s.InstanceFetchAll(ctx, in.ID)
		return instancestate.Lock{Updater: snap.Instance.UpdaterID, Gen: snap.Instance.UpdaterGen}
	}
	steps := []struct {
		name string
		do   func(ruleStore) (any, error)
	}{
		{"vmm_insert", func(s ruleStore) (any, error) { return s.VMMInsert(ctx, dst) }},
		{"vmm_insert again", func(s ruleStore) (any, error) { return s.VMMInsert(ctx, dst) }},
		{"migration_insert", func(s ruleStore) (any, error) { return s.MigrationInsert(ctx, m) }},
		{"migration_insert undated", func(s ruleStore) (any, error) { return s.MigrationInsert(ctx, undated) }},
		{"set_intended_state invalid", func(s ruleStore) (any, error) {
			return s.InstanceSetIntendedState(ctx, in.ID, instancestate.IntendedState(99))
		}},
		{"set_migration_ids", func(s ruleStore) (any, error) {
			return s.InstanceSetMigrationIDs(ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: dst.ID, Now: t0})
		}},
		{"migration_mark_deleted linked", func(s ruleStore) (any, error) { return s.MigrationMarkDeleted(ctx, m.ID, t0) }},
		{"sled_report", func(s ruleStore) (any, error) {
			return s.SledReport(ctx, src.ID, instancestate.Report{
				VMM:          vmmstate.SledAgentRuntime{State: vmmstate.SledAgentMigrating, Generation: generation.Of(3), TimeUpdated: t0},
				MigrationOut: &migration.Report{MigrationID: m.ID, State: migration.InProgress, Generation: generation.Of(3), TimeUpdated: t0},
			})
		}},
		{"updater_lock", func(s ruleStore) (any, error) { return s.InstanceUpdaterLock(ctx, in.ID, saga) }},
		{"updater_lock by another", func(s ruleStore) (any, error) {
			return s.InstanceUpdaterLock(ctx, in.ID, other)
		}},
		{"updater_unlock", func(s ruleStore) (any, error) { return s.InstanceUpdaterUnlock(ctx, in.ID, held(s)) }},
		{"vmm_mark_deleted migrating", func(s ruleStore) (any, error) { return s.VMMMarkDeleted(ctx, src.ID, t0) }},
		{"vmm_mark_failed", func(s ruleStore) (any, error) { return s.VMMMarkFailed(ctx, dst.ID, failure.SledExpunged, t0) }},
		{"vmm_mark_deleted linked", func(s ruleStore) (any, error) { return s.VMMMarkDeleted(ctx, dst.ID, t0) }},
		{"unset_migration_ids", func(s ruleStore) (any, error) {
			return s.InstanceUnsetMigrationIDs(ctx, in.ID, datastore.UnsetMigrationIDsArgs{Migration: m.ID, Target: dst.ID, Now: t0})
		}},
		{"vmm_mark_deleted", func(s ruleStore) (any, error) { return s.VMMMarkDeleted(ctx, dst.ID, t0) }},
		{"migration_mark_failed", func(s ruleStore) (any, error) { return s.MigrationMarkFailed(ctx, m.ID, t0) }},
		{"list_migrations", func(s ruleStore) (any, error) { return s.InstanceListMigrations(ctx, in.ID) }},
		{"instance_delete running", func(s ruleStore) (any, error) { return s.InstanceDelete(ctx, in.ID, t0) }},
		{"update_runtime stopped", func(s ruleStore) (any, error) {
			snap, _ := s.InstanceFetchAll(ctx, in.ID)
			rt := snap.Instance.Runtime
			g, _ := rt.Generation.Next()
			rt.State, rt.ActiveVMM, rt.Generation = instancestate.NexusNoVMM, vmmstate.ID{}, g
			return s.InstanceUpdateRuntime(ctx, in.ID, rt, instancestate.IntendStopped)
		}},
		{"instance_delete", func(s ruleStore) (any, error) { return s.InstanceDelete(ctx, in.ID, t0) }},
		{"fetch_all deleted", func(s ruleStore) (any, error) { return s.InstanceFetchAll(ctx, in.ID) }},
		{"migration_fetch", func(s ruleStore) (any, error) { return s.MigrationFetch(ctx, m.ID) }},
		{"vmm_fetch missing", func(s ruleStore) (any, error) { return s.VMMFetch(ctx, missing) }},
	}
	for _, step := range steps {
		want, wantErr := step.do(st)
		got, gotErr := step.do(&rows)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("%s: Tables answers error %v, Memory %v", step.name, gotErr, wantErr)
		}
		if diff := cmp.Diff(want, got, allFields); diff != "" {
			t.Fatalf("%s: Tables answers (-Memory +Tables):\n%s", step.name, diff)
		}
	}
	if rows.Migrations[0].TimeDeleted.IsZero() {
		t.Fatal("the deleted instance's migration is not marked deleted")
	}
	want, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Memory.Tables sorts each table by id; rows holds the rows read, then
	// the rows inserted, in order.
	loaded := datastore.NewMemory()
	if err := loaded.Load(ctx, rows); err != nil {
		t.Fatal(err)
	}
	got, err := loaded.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.VMMs) != 2 || rows.VMMs[1].VMM.ID != dst.ID {
		t.Errorf("the inserted VMM is not appended: %+v", rows.VMMs)
	}
	if diff := cmp.Diff(want, got, allFields); diff != "" {
		t.Fatalf("rows after the history (-Memory +Tables):\n%s", diff)
	}
}

// ruleStore is what Memory and a Tables both implement: every operation
// on rows.
type ruleStore interface {
	datastore.Records
	datastore.InstanceWrites
	datastore.UpdaterLock
	datastore.VMMWrites
	datastore.MigrationWrites
}

package datastore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestCancelledCallsAnswerTheirContext: a call whose context is already
// done answers the context's error and touches nothing — every operation
// of Memory, each given arguments it would otherwise accept, so that the
// answer is the context's and not a refusal of the arguments.
func TestCancelledCallsAnswerTheirContext(t *testing.T) {
	live := context.Background()
	st, in, v := benchStore(t)
	m := migration.New(migration.IDFromUUID(uuid.New()), in.ID, v.ID, vmmstate.IDFromUUID(uuid.New()), t0)
	if _, err := st.MigrationInsert(live, m); err != nil {
		t.Fatal(err)
	}
	saga := newSaga(t, st, "start")
	sec, other := saga.CurrentSEC, uuid.New()
	res := datastore.Reservation{VMM: v.ID, Instance: in.ID, Sled: v.SledID, TimeCreated: t0}
	if err := st.ReservationInsert(live, res); err != nil {
		t.Fatal(err)
	}
	tables, err := st.Tables(live)
	if err != nil {
		t.Fatal(err)
	}
	rec, events, err := st.SagaFetch(live, saga.ID)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(live)
	cancel()
	lock := instancestate.Lock{Updater: instancestate.UpdaterIDFromUUID(uuid.New()), Gen: generation.Of(2)}
	rt := in.Runtime
	rt.Generation = generation.Of(9)
	fresh := in
	fresh.ID = vmmstate.InstanceIDFromUUID(uuid.New())
	event := datastore.NodeEvent{Saga: saga.ID, Node: "a", Type: datastore.EventStarted, Time: t0, Owner: sec}
	newRec := saga
	newRec.ID = uuid.New()
	calls := map[string]func() error{
		"instance_insert":    func() error { _, err := st.InstanceInsert(ctx, fresh); return err },
		"vmm_insert":         func() error { _, err := st.VMMInsert(ctx, v); return err },
		"migration_insert":   func() error { _, err := st.MigrationInsert(ctx, m); return err },
		"instance_fetch_all": func() error { _, err := st.InstanceFetchAll(ctx, in.ID); return err },
		"vmm_fetch":          func() error { _, err := st.VMMFetch(ctx, v.ID); return err },
		"migration_fetch":    func() error { _, err := st.MigrationFetch(ctx, m.ID); return err },
		"instance_update_runtime": func() error {
			_, err := st.InstanceUpdateRuntime(ctx, in.ID, rt, instancestate.IntendStopped)
			return err
		},
		"instance_set_intended_state": func() error {
			_, err := st.InstanceSetIntendedState(ctx, in.ID, instancestate.IntendStopped)
			return err
		},
		"instance_set_migration_ids": func() error {
			_, err := st.InstanceSetMigrationIDs(ctx, in.ID, datastore.SetMigrationIDsArgs{Source: v.ID, Migration: m.ID, Target: m.Target.VMM, Now: t0})
			return err
		},
		"instance_unset_migration_ids": func() error {
			_, err := st.InstanceUnsetMigrationIDs(ctx, in.ID, datastore.UnsetMigrationIDsArgs{Migration: m.ID, Target: m.Target.VMM, Now: t0})
			return err
		},
		"instance_mark_as_starting": func() error {
			_, err := st.InstanceMarkAsStarting(ctx, in.ID, datastore.MarkAsStartingArgs{VMM: v.ID, Reason: failure.StartReasonUser, Now: t0})
			return err
		},
		"instance_record_start_failure": func() error {
			_, err := st.InstanceRecordStartFailure(ctx, in.ID, failure.StartFailure{})
			return err
		},
		"instance_updater_lock": func() error { _, err := st.InstanceUpdaterLock(ctx, in.ID, lock.Updater); return err },
		"instance_updater_inherit_lock": func() error {
			_, err := st.InstanceUpdaterInheritLock(ctx, in.ID, lock, instancestate.UpdaterIDFromUUID(uuid.New()))
			return err
		},
		"instance_updater_unlock": func() error { _, err := st.InstanceUpdaterUnlock(ctx, in.ID, lock); return err },
		"instance_commit_update": func() error {
			_, err := st.InstanceCommitUpdate(ctx, in.ID, lock, instancestate.Plan{Runtime: rt})
			return err
		},
		"instance_delete": func() error { _, err := st.InstanceDelete(ctx, in.ID, t0); return err },
		"vmm_update_runtime": func() error {
			_, err := st.VMMUpdateRuntime(ctx, v.ID, vmmstate.Runtime{State: vmmstate.Stopping, Generation: generation.Of(3), TimeUpdated: t0})
			return err
		},
		"vmm_mark_failed":          func() error { _, err := st.VMMMarkFailed(ctx, v.ID, failure.SledExpunged, t0); return err },
		"vmm_mark_saga_unwound":    func() error { _, err := st.VMMMarkSagaUnwound(ctx, v.ID, t0); return err },
		"vmm_mark_deleted":         func() error { _, err := st.VMMMarkDeleted(ctx, v.ID, t0); return err },
		"migration_mark_failed":    func() error { _, err := st.MigrationMarkFailed(ctx, m.ID, t0); return err },
		"migration_mark_deleted":   func() error { _, err := st.MigrationMarkDeleted(ctx, m.ID, t0); return err },
		"instance_list_migrations": func() error { _, err := st.InstanceListMigrations(ctx, in.ID); return err },
		"sled_report": func() error {
			r := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentStopping, Generation: generation.Of(3), TimeUpdated: t0}}
			_, err := st.SledReport(ctx, v.ID, r)
			return err
		},
		"find_instances_needing_update": func() error { _, err := st.FindInstancesNeedingUpdate(ctx, t0); return err },
		"find_reincarnatable_instances": func() error { _, err := st.FindReincarnatableInstances(ctx, t0); return err },
		"find_instances_to_reconcile":   func() error { _, err := st.FindInstancesToReconcile(ctx, t0); return err },
		"vmm_list_abandoned":            func() error { _, err := st.VMMListAbandoned(ctx); return err },
		"vmm_list_by_sled":              func() error { _, err := st.VMMListBySled(ctx, v.SledID); return err },
		"reservation_insert":            func() error { return st.ReservationInsert(ctx, res) },
		"reservation_delete":            func() error { _, err := st.ReservationDelete(ctx, v.ID); return err },
		"reservation_list_by_sled":      func() error { _, err := st.ReservationListBySled(ctx, v.SledID); return err },
		"reservation_list_leaked":       func() error { _, err := st.ReservationListLeaked(ctx); return err },
		"saga_create": func() error {
			newEvent := event
			newEvent.Saga = newRec.ID
			return st.SagaCreate(ctx, newRec, newEvent)
		},
		"saga_append":           func() error { return st.SagaAppend(ctx, saga.Fence(), saga.ID, event) },
		"saga_set_state":        func() error { return st.SagaSetState(ctx, saga.Fence(), saga.ID, datastore.SagaDone, event) },
		"saga_recovery_attempt": func() error { _, err := st.SagaRecoveryAttempt(ctx, saga.Fence(), saga.ID); return err },
		"saga_abandon": func() error {
			return st.SagaAbandon(ctx, saga.Fence(), saga.ID, datastore.AbandonArgs{Reason: datastore.AbandonOrphaned, Now: t0})
		},
		"saga_fetch":           func() error { _, _, err := st.SagaFetch(ctx, saga.ID); return err },
		"saga_list_unfinished": func() error { _, err := st.SagaListUnfinished(ctx, sec); return err },
		"saga_list_stalled":    func() error { _, err := st.SagaListStalled(ctx, t0); return err },
		"sec_renew":            func() error { _, err := st.SECRenew(ctx, sec, t0); return err },
		"saga_adopt":           func() error { _, err := st.SagaAdopt(ctx, other, sec, t0); return err },
		"load":                 func() error { return st.Load(ctx, tables) },
		"tables":               func() error { _, err := st.Tables(ctx); return err },
	}
	for op, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s on a cancelled context: %v; want %v", op, err, context.Canceled)
		}
	}

	after, err := st.Tables(live)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tables, after, allFields); diff != "" {
		t.Errorf("cancelled calls changed the records (-before +after):\n%s", diff)
	}
	recAfter, eventsAfter, err := st.SagaFetch(live, saga.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, recAfter); diff != "" {
		t.Errorf("cancelled calls changed the saga (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(events, eventsAfter); diff != "" {
		t.Errorf("cancelled calls wrote events (-before +after):\n%s", diff)
	}
	if _, _, err := st.SagaFetch(live, newRec.ID); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("a cancelled saga_create: %v; want no saga", err)
	}
	if got, err := st.ReservationListBySled(live, v.SledID); err != nil || len(got) != 1 {
		t.Errorf("reservations after cancelled calls: %v, %v; want the one", got, err)
	}
}

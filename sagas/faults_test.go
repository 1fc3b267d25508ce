package sagas_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

var errStore = errors.New("the database is unreachable")

// faultyStore fails its failAt-th call (counting from 1) of the
// operations the sagas use, or every call of operation failOp, and counts
// them.
type faultyStore struct {
	datastore.Store
	calls, failAt int
	failOp        string
	failed        string
}

func (s *faultyStore) fail(op string) error {
	s.calls++
	if s.calls == s.failAt || op == s.failOp {
		s.failed = op
		return fmt.Errorf("%s: %w", op, errStore)
	}
	return nil
}

func (s *faultyStore) InstanceInsert(ctx context.Context, in instancestate.Instance) (instancestate.Instance, error) {
	if err := s.fail("instance_insert"); err != nil {
		return instancestate.Instance{}, err
	}
	return s.Store.InstanceInsert(ctx, in)
}

func (s *faultyStore) VMMInsert(ctx context.Context, v vmmstate.VMM) (vmmstate.VMM, error) {
	if err := s.fail("vmm_insert"); err != nil {
		return vmmstate.VMM{}, err
	}
	return s.Store.VMMInsert(ctx, v)
}

func (s *faultyStore) MigrationInsert(ctx context.Context, m migration.Record) (migration.Record, error) {
	if err := s.fail("migration_insert"); err != nil {
		return migration.Record{}, err
	}
	return s.Store.MigrationInsert(ctx, m)
}

func (s *faultyStore) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	if err := s.fail("instance_fetch_all"); err != nil {
		return instancestate.Snapshot{}, err
	}
	return s.Store.InstanceFetchAll(ctx, id)
}

func (s *faultyStore) VMMFetch(ctx context.Context, id vmmstate.ID) (datastore.VMMRow, error) {
	if err := s.fail("vmm_fetch"); err != nil {
		return datastore.VMMRow{}, err
	}
	return s.Store.VMMFetch(ctx, id)
}

func (s *faultyStore) InstanceUpdateRuntime(ctx context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (datastore.Result, error) {
	if err := s.fail("instance_update_runtime"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.InstanceUpdateRuntime(ctx, id, rt, intent)
}

func (s *faultyStore) InstanceSetMigrationIDs(ctx context.Context, id instancestate.ID, p datastore.SetMigrationIDsArgs) (instancestate.Instance, error) {
	if err := s.fail("instance_set_migration_ids"); err != nil {
		return instancestate.Instance{}, err
	}
	return s.Store.InstanceSetMigrationIDs(ctx, id, p)
}

func (s *faultyStore) InstanceMarkAsStarting(ctx context.Context, id instancestate.ID, p datastore.MarkAsStartingArgs) (instancestate.Instance, error) {
	if err := s.fail("instance_mark_as_starting"); err != nil {
		return instancestate.Instance{}, err
	}
	return s.Store.InstanceMarkAsStarting(ctx, id, p)
}

func (s *faultyStore) InstanceRecordStartFailure(ctx context.Context, id instancestate.ID, sf failure.StartFailure) (datastore.Result, error) {
	if err := s.fail("instance_record_start_failure"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.InstanceRecordStartFailure(ctx, id, sf)
}

func (s *faultyStore) InstanceUpdaterLock(ctx context.Context, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error) {
	if err := s.fail("instance_updater_lock"); err != nil {
		return instancestate.Lock{}, err
	}
	return s.Store.InstanceUpdaterLock(ctx, id, saga)
}

func (s *faultyStore) InstanceUpdaterInheritLock(ctx context.Context, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error) {
	if err := s.fail("instance_updater_inherit_lock"); err != nil {
		return instancestate.Lock{}, err
	}
	return s.Store.InstanceUpdaterInheritLock(ctx, id, parent, child)
}

func (s *faultyStore) InstanceUpdaterUnlock(ctx context.Context, id instancestate.ID, l instancestate.Lock) (datastore.Result, error) {
	if err := s.fail("instance_updater_unlock"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.InstanceUpdaterUnlock(ctx, id, l)
}

func (s *faultyStore) InstanceCommitUpdate(ctx context.Context, id instancestate.ID, l instancestate.Lock, p instancestate.Plan) (datastore.Result, error) {
	if err := s.fail("instance_commit_update"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.InstanceCommitUpdate(ctx, id, l, p)
}

func (s *faultyStore) InstanceDelete(ctx context.Context, id instancestate.ID, now time.Time) (datastore.Result, error) {
	if err := s.fail("instance_delete"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.InstanceDelete(ctx, id, now)
}

func (s *faultyStore) VMMMarkFailed(ctx context.Context, id vmmstate.ID, r failure.Reason, now time.Time) (datastore.Result, error) {
	if err := s.fail("vmm_mark_failed"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.VMMMarkFailed(ctx, id, r, now)
}

func (s *faultyStore) VMMMarkSagaUnwound(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	if err := s.fail("vmm_mark_saga_unwound"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.VMMMarkSagaUnwound(ctx, id, now)
}

func (s *faultyStore) VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	if err := s.fail("vmm_mark_deleted"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.VMMMarkDeleted(ctx, id, now)
}

func (s *faultyStore) MigrationMarkFailed(ctx context.Context, id migration.ID, now time.Time) (datastore.Result, error) {
	if err := s.fail("migration_mark_failed"); err != nil {
		return datastore.Result{}, err
	}
	return s.Store.MigrationMarkFailed(ctx, id, now)
}

func (s *faultyStore) SledReport(ctx context.Context, id vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	if err := s.fail("sled_report"); err != nil {
		return datastore.SledReportResult{}, err
	}
	return s.Store.SledReport(ctx, id, r)
}

// TestStoreErrors fails each store call of every saga of the tables in
// turn, and in an unwind too (the saga first failed at each of its
// steps): the error is never swallowed — the saga unwinds or gets stuck
// with it in Err — except where the rules say to go on (§15's failed
// migration mark), and nothing panics.
func TestStoreErrors(t *testing.T) {
	for _, tb := range tables {
		steps := tb.saga().Steps(&sagas.Env{})
		for _, failAt := range append([]string{""}, names(steps)...) {
			for n := 1; ; n++ {
				f := newFixture(t)
				tb.setup(f)
				fs := &faultyStore{Store: f.st, failAt: n}
				f.w.Env.Store = fs
				s := tb.saga()
				r, err := sagas.Run(f.ctx, f.w.Env, s, sagas.Options{FailAt: failAt})
				if err != nil {
					t.Fatal(err)
				}
				if fs.calls < n {
					break // every call has failed once
				}
				where := fmt.Sprintf("%s (fail_at %q), call %d (%s)", tb.name, failAt, n, fs.failed)
				switch {
				case r.Outcome == sagas.Completed && failAt == "" && fs.failed != "migration_mark_failed":
					t.Errorf("%s: completed despite the error", where)
				case r.Outcome != sagas.Completed && !errors.Is(r.Err, errStore) && fs.failed != "migration_mark_failed":
					t.Errorf("%s: %v without the store's error: %v", where, r.Outcome, r.Err)
				}
			}
		}
	}
}

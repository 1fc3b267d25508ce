package script

import (
	"context"
	"errors"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// StoreFailure is a store that failed under a line — a connection lost, a
// server gone, a context ended — rather than answering it: it ends the
// script (exit 1), since the lines after it would run against records
// nobody knows. A store that answers, even with a refusal, never ends a
// script: its answer is the line's result.
type StoreFailure struct {
	Line int    // the line the store failed under
	Op   string // the line's operation
	// Writes says whether the line writes: when it does, the store may
	// have committed the write before it failed (a commit whose answer was
	// lost looks the same as one that never ran).
	Writes bool
	Err    error // the store's error
}

func (e *StoreFailure) Error() string {
	what := "nothing was written"
	switch {
	case e.Op == "saga":
		what = "some of the saga's writes may have been committed: read the records before running it again"
	case e.Writes:
		what = "the write may have been committed: read the records before running the line again"
	}
	return "line " + itoa(e.Line) + ": " + e.Op + ": the store failed: " + e.Err.Error() + "; " + what
}

// Unwrap returns the store's error.
func (e *StoreFailure) Unwrap() error { return e.Err }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// failed reports whether err is the store failing rather than answering:
// anything but a *datastore.Error.
func failed(err error) bool {
	var e *datastore.Error
	return err != nil && !errors.As(err, &e)
}

// watched is a Store that remembers the first time the store under it
// failed (failed), whoever called it: a saga step may swallow a store's
// error into an unwind, and the script must still end.
type watched struct {
	st  datastore.Store
	err error
}

var _ datastore.Store = (*watched)(nil)

// take returns the failure seen since the last take, and forgets it.
func (w *watched) take() error {
	err := w.err
	w.err = nil
	return err
}

func seen[T any](w *watched, v T, err error) (T, error) {
	if failed(err) && w.err == nil {
		w.err = err
	}
	return v, err
}

// InstanceInsert implements datastore.Store.
func (w *watched) InstanceInsert(ctx context.Context, in instancestate.Instance) (instancestate.Instance, error) {
	v, err := w.st.InstanceInsert(ctx, in)
	return seen(w, v, err)
}

// VMMInsert implements datastore.Store.
func (w *watched) VMMInsert(ctx context.Context, v vmmstate.VMM) (vmmstate.VMM, error) {
	v, err := w.st.VMMInsert(ctx, v)
	return seen(w, v, err)
}

// MigrationInsert implements datastore.Store.
func (w *watched) MigrationInsert(ctx context.Context, m migration.Record) (migration.Record, error) {
	v, err := w.st.MigrationInsert(ctx, m)
	return seen(w, v, err)
}

// InstanceFetchAll implements datastore.Store.
func (w *watched) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	v, err := w.st.InstanceFetchAll(ctx, id)
	return seen(w, v, err)
}

// VMMFetch implements datastore.Store.
func (w *watched) VMMFetch(ctx context.Context, id vmmstate.ID) (datastore.VMMRow, error) {
	v, err := w.st.VMMFetch(ctx, id)
	return seen(w, v, err)
}

// MigrationFetch implements datastore.Store.
func (w *watched) MigrationFetch(ctx context.Context, id migration.ID) (datastore.MigrationRow, error) {
	v, err := w.st.MigrationFetch(ctx, id)
	return seen(w, v, err)
}

// InstanceUpdateRuntime implements datastore.Store.
func (w *watched) InstanceUpdateRuntime(ctx context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (datastore.Result, error) {
	v, err := w.st.InstanceUpdateRuntime(ctx, id, rt, intent)
	return seen(w, v, err)
}

// InstanceSetIntendedState implements datastore.Store.
func (w *watched) InstanceSetIntendedState(ctx context.Context, id instancestate.ID, intent instancestate.IntendedState) (datastore.Result, error) {
	v, err := w.st.InstanceSetIntendedState(ctx, id, intent)
	return seen(w, v, err)
}

// InstanceSetMigrationIDs implements datastore.Store.
func (w *watched) InstanceSetMigrationIDs(ctx context.Context, id instancestate.ID, p datastore.SetMigrationIDsArgs) (instancestate.Instance, error) {
	v, err := w.st.InstanceSetMigrationIDs(ctx, id, p)
	return seen(w, v, err)
}

// InstanceUnsetMigrationIDs implements datastore.Store.
func (w *watched) InstanceUnsetMigrationIDs(ctx context.Context, id instancestate.ID, p datastore.UnsetMigrationIDsArgs) (datastore.Result, error) {
	v, err := w.st.InstanceUnsetMigrationIDs(ctx, id, p)
	return seen(w, v, err)
}

// InstanceMarkAsStarting implements datastore.Store.
func (w *watched) InstanceMarkAsStarting(ctx context.Context, id instancestate.ID, p datastore.MarkAsStartingArgs) (instancestate.Instance, error) {
	v, err := w.st.InstanceMarkAsStarting(ctx, id, p)
	return seen(w, v, err)
}

// InstanceRecordStartFailure implements datastore.Store.
func (w *watched) InstanceRecordStartFailure(ctx context.Context, id instancestate.ID, f failure.StartFailure) (datastore.Result, error) {
	v, err := w.st.InstanceRecordStartFailure(ctx, id, f)
	return seen(w, v, err)
}

// InstanceUpdaterLock implements datastore.Store.
func (w *watched) InstanceUpdaterLock(ctx context.Context, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error) {
	v, err := w.st.InstanceUpdaterLock(ctx, id, saga)
	return seen(w, v, err)
}

// InstanceUpdaterInheritLock implements datastore.Store.
func (w *watched) InstanceUpdaterInheritLock(ctx context.Context, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error) {
	v, err := w.st.InstanceUpdaterInheritLock(ctx, id, parent, child)
	return seen(w, v, err)
}

// InstanceUpdaterUnlock implements datastore.Store.
func (w *watched) InstanceUpdaterUnlock(ctx context.Context, id instancestate.ID, lock instancestate.Lock) (datastore.Result, error) {
	v, err := w.st.InstanceUpdaterUnlock(ctx, id, lock)
	return seen(w, v, err)
}

// InstanceCommitUpdate implements datastore.Store.
func (w *watched) InstanceCommitUpdate(ctx context.Context, id instancestate.ID, lock instancestate.Lock, p instancestate.Plan) (datastore.Result, error) {
	v, err := w.st.InstanceCommitUpdate(ctx, id, lock, p)
	return seen(w, v, err)
}

// InstanceDelete implements datastore.Store.
func (w *watched) InstanceDelete(ctx context.Context, id instancestate.ID, now time.Time) (datastore.Result, error) {
	v, err := w.st.InstanceDelete(ctx, id, now)
	return seen(w, v, err)
}

// VMMUpdateRuntime implements datastore.Store.
func (w *watched) VMMUpdateRuntime(ctx context.Context, id vmmstate.ID, rt vmmstate.Runtime) (datastore.Result, error) {
	v, err := w.st.VMMUpdateRuntime(ctx, id, rt)
	return seen(w, v, err)
}

// VMMMarkFailed implements datastore.Store.
func (w *watched) VMMMarkFailed(ctx context.Context, id vmmstate.ID, reason failure.Reason, now time.Time) (datastore.Result, error) {
	v, err := w.st.VMMMarkFailed(ctx, id, reason, now)
	return seen(w, v, err)
}

// VMMMarkSagaUnwound implements datastore.Store.
func (w *watched) VMMMarkSagaUnwound(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	v, err := w.st.VMMMarkSagaUnwound(ctx, id, now)
	return seen(w, v, err)
}

// VMMMarkDeleted implements datastore.Store.
func (w *watched) VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	v, err := w.st.VMMMarkDeleted(ctx, id, now)
	return seen(w, v, err)
}

// MigrationMarkFailed implements datastore.Store.
func (w *watched) MigrationMarkFailed(ctx context.Context, id migration.ID, now time.Time) (datastore.Result, error) {
	v, err := w.st.MigrationMarkFailed(ctx, id, now)
	return seen(w, v, err)
}

// MigrationMarkDeleted implements datastore.Store.
func (w *watched) MigrationMarkDeleted(ctx context.Context, id migration.ID, now time.Time) (datastore.Result, error) {
	v, err := w.st.MigrationMarkDeleted(ctx, id, now)
	return seen(w, v, err)
}

// InstanceListMigrations implements datastore.Store.
func (w *watched) InstanceListMigrations(ctx context.Context, id instancestate.ID) ([]migration.ID, error) {
	v, err := w.st.InstanceListMigrations(ctx, id)
	return seen(w, v, err)
}

// SledReport implements datastore.Store.
func (w *watched) SledReport(ctx context.Context, vmm vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	v, err := w.st.SledReport(ctx, vmm, r)
	return seen(w, v, err)
}

// FindInstancesNeedingUpdate implements datastore.Store.
func (w *watched) FindInstancesNeedingUpdate(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	v, err := w.st.FindInstancesNeedingUpdate(ctx, now)
	return seen(w, v, err)
}

// FindReincarnatableInstances implements datastore.Store.
func (w *watched) FindReincarnatableInstances(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	v, err := w.st.FindReincarnatableInstances(ctx, now)
	return seen(w, v, err)
}

// FindInstancesToReconcile implements datastore.Store.
func (w *watched) FindInstancesToReconcile(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	v, err := w.st.FindInstancesToReconcile(ctx, now)
	return seen(w, v, err)
}

// VMMListAbandoned implements datastore.Store.
func (w *watched) VMMListAbandoned(ctx context.Context) ([]vmmstate.ID, error) {
	v, err := w.st.VMMListAbandoned(ctx)
	return seen(w, v, err)
}

// VMMListBySled implements datastore.Store.
func (w *watched) VMMListBySled(ctx context.Context, sled vmmstate.SledID) ([]vmmstate.ID, error) {
	v, err := w.st.VMMListBySled(ctx, sled)
	return seen(w, v, err)
}

// watchedReservations is a store's reservations, watched as watched
// watches its records: the sleds of a saga line write through it.
type watchedReservations struct {
	w *watched
	r datastore.SledReservations
}

var _ datastore.SledReservations = (*watchedReservations)(nil)

// ReservationInsert implements datastore.SledReservations.
func (w *watchedReservations) ReservationInsert(ctx context.Context, r datastore.Reservation) error {
	_, err := seen(w.w, struct{}{}, w.r.ReservationInsert(ctx, r))
	return err
}

// ReservationDelete implements datastore.SledReservations.
func (w *watchedReservations) ReservationDelete(ctx context.Context, vmm vmmstate.ID) (datastore.Result, error) {
	v, err := w.r.ReservationDelete(ctx, vmm)
	return seen(w.w, v, err)
}

// ReservationListBySled implements datastore.SledReservations.
func (w *watchedReservations) ReservationListBySled(ctx context.Context, sled vmmstate.SledID) ([]datastore.Reservation, error) {
	v, err := w.r.ReservationListBySled(ctx, sled)
	return seen(w.w, v, err)
}

// ReservationListLeaked implements datastore.SledReservations.
func (w *watchedReservations) ReservationListLeaked(ctx context.Context) ([]vmmstate.ID, error) {
	v, err := w.r.ReservationListLeaked(ctx)
	return seen(w.w, v, err)
}

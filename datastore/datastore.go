package datastore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Store is every guarded write and fleet query of §8–§9 (D25). Each write
// answers one of three ways: applied (Result.Applied); not applied because
// a guard held (Result.Reason says which); or an *Error whose Kind says why
// the operation was refused, nothing written. Times are passed in (D1).
//
// Times: a store keeps every time it is given — in a record, a runtime, a
// report, a "now" — as StoreTime makes it: truncated to the microsecond
// (PostgreSQL's precision), in UTC. A caller may pass time.Now(); nothing
// is refused for its nanoseconds, and every store reads back the same
// record.
//
// No instance names a record it cannot read: a VMM or migration that a
// live instance links is not deleted (ReasonLinked) until the update saga
// has unlinked it, so InstanceFetchAll of a live instance always reads a
// snapshot the decisions accept, and the update plan can repair it.
//
// An implementation is safe for concurrent use, and every read it returns
// is a consistent snapshot. storetest.Run checks an implementation against
// all of this.
type Store interface {
	Records
	InstanceWrites
	UpdaterLock
	VMMWrites
	MigrationWrites
	FleetQueries
}

// The parts of a Store, each named for what a consumer uses — as the
// sagas, the control plane's tasks and a user's own code say which they
// need, and a fake for a test implements only that. SagaLog and
// SledReservations, which a store keeps beside the records, are parts of
// their own.

// Records inserts and reads the three records.
type Records interface {
	// InstanceInsert, VMMInsert and MigrationInsert insert a record. An
	// identical retry — the record stored under its id, times as the
	// store keeps them — returns it (idempotent, §8.1–§8.3); any other
	// record under a used id is ErrConflict, nothing written (D29). A
	// record that breaks a row rule (D17, D21), or a migration without
	// its creation time, is ErrInvalidRequest.
	InstanceInsert(ctx context.Context, in instancestate.Instance) (instancestate.Instance, error)
	VMMInsert(ctx context.Context, v vmmstate.VMM) (vmmstate.VMM, error)
	MigrationInsert(ctx context.Context, m migration.Record) (migration.Record, error)

	// InstanceFetchAll reads an instance with its active VMM, target VMM
	// and migration in one consistent read (§8.1); a deleted record reads
	// as absent even when linked. A missing or deleted instance is
	// ErrNotFound.
	InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error)
	// VMMFetch and MigrationFetch read one row, deleted or not.
	VMMFetch(ctx context.Context, id vmmstate.ID) (VMMRow, error)
	MigrationFetch(ctx context.Context, id migration.ID) (MigrationRow, error)
	// InstanceListMigrations lists an instance's migrations not deleted,
	// sorted.
	InstanceListMigrations(ctx context.Context, id instancestate.ID) ([]migration.ID, error)
}

// InstanceWrites are the guarded writes of an instance record outside
// the updater lock: a decision's runtime and intent, the migration ids, a
// start's link and its failure, and deletion.
type InstanceWrites interface {
	// InstanceUpdateRuntime writes rt where the stored generation is older
	// (§8.1), and with it intent unless it is IntentUnchanged — the one
	// write of a decision and the intent that goes with it (D16, D25). It
	// writes the six runtime columns (state, generation, time, the three
	// ids) and leaves rt.TimeLastAutoRestarted as stored: only a start
	// stamps it (D22). A VMM or migration id it newly links must name a
	// record the instance can read — present, not deleted, its own — else
	// ErrInvalidRequest. It does not look at the updater lock (Omicron's own
	// test writes it while the instance is locked, §21.2).
	InstanceUpdateRuntime(ctx context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (Result, error)
	// InstanceSetIntendedState writes the intent of an accepted request
	// (D16); on a deleted instance it is ErrNotFound (§21.2).
	InstanceSetIntendedState(ctx context.Context, id instancestate.ID, intent instancestate.IntendedState) (Result, error)
	// InstanceSetMigrationIDs links a migration and its target (§8.1
	// conditions (a)–(c), instancestate.SetMigrationIDs); a retry with the
	// same ids is an idempotent success that bumps no generation (D5).
	// Anything else is ErrConflict.
	InstanceSetMigrationIDs(ctx context.Context, id instancestate.ID, m SetMigrationIDsArgs) (instancestate.Instance, error)
	// InstanceUnsetMigrationIDs clears both ids when they are the given
	// ones (§8.1), at generation+1.
	InstanceUnsetMigrationIDs(ctx context.Context, id instancestate.ID, m UnsetMigrationIDsArgs) (Result, error)

	// InstanceMarkAsStarting links s.VMM, a VMM a start saga created, as
	// the instance's active VMM (§14, D10): instancestate.MarkAsStarting on
	// the instance's snapshot and the VMM's row, written in one write — the
	// instance becomes s.VMM at generation+1, time_last_auto_restarted is set
	// for an auto_restart (§10.3) and a recorded loss is cleared (D22).
	// Marking it again with the same VMM is an idempotent success that
	// writes nothing. A start that lost a race (§14: another VMM, the
	// intent no longer running) is ErrConflict; a missing or deleted
	// instance or VMM is ErrNotFound.
	InstanceMarkAsStarting(ctx context.Context, id instancestate.ID, s MarkAsStartingArgs) (instancestate.Instance, error)
	// InstanceRecordStartFailure records why the instance's last start
	// failed (D13), or clears the record when f is the zero StartFailure (a
	// start succeeded). It bumps no generation; the same record again is
	// unchanged. An invalid f is ErrInvalidRequest; a deleted instance is
	// ErrNotFound.
	InstanceRecordStartFailure(ctx context.Context, id instancestate.ID, f failure.StartFailure) (Result, error)
	// InstanceDelete marks the instance destroyed and deleted, and its
	// migrations deleted (§8.1); idempotent. A state that forbids deletion
	// is ErrInvalidRequest.
	InstanceDelete(ctx context.Context, id instancestate.ID, now time.Time) (Result, error)
}

// UpdaterLock is the instance-updater lock (§9) and the write that
// commits an update plan under it.
type UpdaterLock interface {
	// InstanceUpdaterLock takes the lock for saga (§9): a free lock at
	// updater_gen+1; one saga holds already, as it is. Held by another
	// it is ErrAlreadyLocked; a deleted instance, ErrNotFound.
	InstanceUpdaterLock(ctx context.Context, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error)
	// InstanceUpdaterInheritLock hands parent's lock to child, a chained
	// update saga, at updater_gen+1 (§9); held by child already, it is
	// that lock. Anything else is ErrAlreadyLocked.
	InstanceUpdaterInheritLock(ctx context.Context, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error)
	// InstanceUpdaterUnlock releases lock when it is the one held (§9); a
	// lock held by another, or none, is not applied, and no error.
	InstanceUpdaterUnlock(ctx context.Context, id instancestate.ID, lock instancestate.Lock) (Result, error)
	// InstanceCommitUpdate writes a plan's runtime, intent and loss (D22)
	// and releases the lock in one write (§9, §13.4). Like
	// InstanceUpdateRuntime it leaves time_last_auto_restarted as stored.
	InstanceCommitUpdate(ctx context.Context, id instancestate.ID, lock instancestate.Lock, p instancestate.Plan) (Result, error)
}

// VMMWrites are the guarded writes of a VMM record, and the report that
// writes a VMM with its migration sides.
type VMMWrites interface {
	// VMMUpdateRuntime writes rt where the stored generation is older and
	// D7 has the edge (D5–D7): a terminal state absorbs (unchanged, D6), an
	// edge D7 forbids is ErrIllegalTransition, leaving a terminal state
	// ErrTerminal. vmlife's store never writes an edge D7 forbids.
	VMMUpdateRuntime(ctx context.Context, id vmmstate.ID, rt vmmstate.Runtime) (Result, error)
	// VMMMarkFailed records proof of death (D18, Runtime.MarkFailed).
	VMMMarkFailed(ctx context.Context, id vmmstate.ID, reason failure.Reason, now time.Time) (Result, error)
	// VMMMarkSagaUnwound marks a VMM its creating saga unwound (§8.2, D7).
	VMMMarkSagaUnwound(ctx context.Context, id vmmstate.ID, now time.Time) (Result, error)
	// VMMMarkDeleted soft-deletes a destroyable VMM (§8.2) that its
	// instance, live, no longer links (else ReasonLinked).
	VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (Result, error)
	// SledReport applies a sled-agent's report about one VMM, linked to its
	// instance or not, in one transaction (§8.2, §12): the VMM by
	// generation and edge, each migration side by generation and by the
	// side's VMM. A refusal writes nothing.
	SledReport(ctx context.Context, vmm vmmstate.ID, r instancestate.Report) (SledReportResult, error)
}

// MigrationWrites are the guarded writes of a migration record.
type MigrationWrites interface {
	// MigrationMarkFailed fails both sides (§8.3; terminal sides kept).
	MigrationMarkFailed(ctx context.Context, id migration.ID, now time.Time) (Result, error)
	// MigrationMarkDeleted soft-deletes a migration its instance, live, no
	// longer links (else ReasonLinked).
	MigrationMarkDeleted(ctx context.Context, id migration.ID, now time.Time) (Result, error)
}

// FleetQueries are the lists the control plane's background tasks work
// from (§8.1, §8.2, §17.2, D19), each sorted by id.
type FleetQueries interface {
	FindInstancesNeedingUpdate(ctx context.Context, now time.Time) ([]instancestate.ID, error)
	FindReincarnatableInstances(ctx context.Context, now time.Time) ([]instancestate.ID, error)
	// FindInstancesToReconcile lists the live, unlocked instances whose
	// instancestate.Next at now, with the default policy, says start or
	// stop (D19): the user's intent is unmet and only the control plane's
	// own act meets it — a start no saga is carrying out, a stop no
	// sled-agent was asked for — which no other query lists.
	FindInstancesToReconcile(ctx context.Context, now time.Time) ([]instancestate.ID, error)
	VMMListAbandoned(ctx context.Context) ([]vmmstate.ID, error)
	// VMMListBySled lists what the instance watcher checks on a sled
	// (§18): the VMMs placed there, not deleted, in a state ListedBySled
	// keeps, whose instance exists and is not deleted — active and target
	// VMMs alike.
	VMMListBySled(ctx context.Context, sled vmmstate.SledID) ([]vmmstate.ID, error)
}

// The arguments of the writes that take more than a few, each named
// after its method: a field added to one breaks no implementation, and each
// argument is named where it is passed.

// SetMigrationIDsArgs is what InstanceSetMigrationIDs links: migration
// Migration, out of the instance's active VMM Source into Target, at Now.
type SetMigrationIDsArgs struct {
	Source    vmmstate.ID
	Migration migration.ID
	Target    vmmstate.ID
	Now       time.Time
}

// UnsetMigrationIDsArgs is what InstanceUnsetMigrationIDs clears: the
// instance's migration Migration and its target Target, when those are
// the ones it links, at Now.
type UnsetMigrationIDsArgs struct {
	Migration migration.ID
	Target    vmmstate.ID
	Now       time.Time
}

// MarkAsStartingArgs is what InstanceMarkAsStarting links: VMM, started
// for Reason, at Now.
type MarkAsStartingArgs struct {
	VMM    vmmstate.ID
	Reason failure.StartReason
	Now    time.Time
}

// InstanceRow is an instance record with its soft-deletion time (zero: not
// deleted).
type InstanceRow struct {
	Instance    instancestate.Instance
	TimeDeleted time.Time
}

// VMMRow is a VMM record with its soft-deletion time (zero: not deleted).
type VMMRow struct {
	VMM         vmmstate.VMM
	TimeDeleted time.Time
}

// MigrationRow is a migration record with its soft-deletion time.
type MigrationRow struct {
	Migration   migration.Record
	TimeDeleted time.Time
}

// Reason says which guard held when a write was not applied (D25).
type Reason uint8

// The reasons.
const (
	// ReasonNone, the zero value, goes with an applied write.
	ReasonNone Reason = iota
	// ReasonStale: the stored generation is not older (D5).
	ReasonStale
	// ReasonDeleted: the record is soft-deleted.
	ReasonDeleted
	// ReasonUnchanged: the write would change nothing — the same state, an
	// idempotent retry, a terminal state absorbing (D6) — and no
	// generation is bumped.
	ReasonUnchanged
	// ReasonNotDestroyable: a VMM not in a destroyable state (§4.2) is not
	// deleted.
	ReasonNotDestroyable
	// ReasonLinked: a VMM its live instance still links, as active or
	// target, or a migration it still links, is not deleted: the update
	// saga unlinks it first (§13.2), so that no instance is left naming a
	// record it cannot read.
	ReasonLinked
)

var reasons = enum.New[Reason]("datastore.Reason", false, "stale", "deleted", "unchanged", "not_destroyable", "linked")

// String returns the reason's wire string ("stale", …), "" for ReasonNone.
func (r Reason) String() string {
	if r == ReasonNone {
		return ""
	}
	return reasons.String(r)
}

// Result is the answer of a guarded write: applied, or the guard that held.
type Result struct {
	Applied bool
	Reason  Reason // why not, when not applied
}

func applied() Result            { return Result{Applied: true} }
func notApplied(r Reason) Result { return Result{Reason: r} }
func fromOutcome(o vmmstate.Outcome) Result {
	switch o {
	case vmmstate.Applied:
		return applied()
	case vmmstate.Stale:
		return notApplied(ReasonStale)
	}
	return notApplied(ReasonUnchanged)
}

// SledReportResult is the answer of SledReport (§8.2, §12).
type SledReportResult struct {
	VMM          Result // the VMM row
	MigrationIn  Result // the target side (zero when the report had none)
	MigrationOut Result // the source side
	// UpdateSagaNeeded is §12 step 2: something terminal was written.
	UpdateSagaNeeded bool
}

// ErrorKind says why an operation was refused.
type ErrorKind uint8

// The kinds, as `vmlife script` names them.
const (
	KindNotFound          ErrorKind = iota + 1 // no such record, or a deleted instance where §8–§9 answer NotFound
	KindConflict                               // §8.1 another migration; §9 commit after the state moved; §8.2 a VMM migrating to itself
	KindAlreadyLocked                          // §9: held by another saga
	KindNotLocked                              // §9: commit or unlock by a saga that does not hold the lock
	KindInternal                               // §9: held by this saga at another generation
	KindIllegalTransition                      // D7: no such edge
	KindTerminal                               // D6: leaving destroyed or failed
	KindInvalidRequest                         // §8.2 not that side's VMM; §8.1 deletion forbidden; contents vmlife refuses
	KindGone                                   // §8.2: the migration is deleted
	KindLostOwnership                          // D27: a saga write by an executor that no longer holds it
)

var errorKinds = enum.New[ErrorKind]("datastore.ErrorKind", false,
	"not_found", "conflict", "already_locked", "not_locked", "internal",
	"illegal_transition", "terminal", "invalid_request", "gone", "lost_ownership")

// String returns the kind's wire string.
func (k ErrorKind) String() string { return errorKinds.String(k) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (k ErrorKind) GoString() string { return errorKinds.GoString(k) }

// The sentinels errors.Is matches for each kind.
var (
	ErrNotFound          = errors.New("not found")
	ErrConflict          = errors.New("conflict")
	ErrAlreadyLocked     = errors.New("already locked")
	ErrNotLocked         = errors.New("not locked")
	ErrInternal          = errors.New("internal error")
	ErrIllegalTransition = errors.New("illegal transition")
	ErrTerminal          = errors.New("terminal state")
	ErrInvalidRequest    = errors.New("invalid request")
	ErrGone              = errors.New("gone")
)

// ErrUnavailable is matched (errors.Is) by the error of a call the store
// did not answer — its server hung past the call's deadline, or the
// connection to it was lost — as opposed to an *Error, a refusal. It is
// safe to retry the same call: nothing was refused, and every write is
// idempotent on retry (D29). The in-memory store always answers.
var ErrUnavailable = errors.New("the store did not answer")

// ErrOutcomeUnknown is matched by the error of a write the store may or
// may not have applied: its answer was lost after the write was sent. A
// commit whose answer was lost looks the same as one that never ran; retry
// the same write, and the retry settles it — an insert answers the record
// as stored, a guarded write the lost attempt applied answers as a repeat
// does, one it did not apply is applied now.
var ErrOutcomeUnknown = errors.New("the write may or may not have been applied")

var sentinels = [...]error{
	KindNotFound: ErrNotFound, KindConflict: ErrConflict, KindAlreadyLocked: ErrAlreadyLocked,
	KindNotLocked: ErrNotLocked, KindInternal: ErrInternal, KindIllegalTransition: ErrIllegalTransition,
	KindTerminal: ErrTerminal, KindInvalidRequest: ErrInvalidRequest, KindGone: ErrGone,
	KindLostOwnership: ErrLostOwnership,
}

// Error is an operation refused: nothing was written.
type Error struct {
	Op      string    // the operation, as `vmlife script` names it
	Kind    ErrorKind // why
	Message string    // for people
	Err     error     // the library's own error, if any
}

func (e *Error) Error() string {
	return "datastore: " + e.Op + ": " + e.Kind.String() + ": " + e.Message
}

// Is matches the kind's sentinel.
func (e *Error) Is(target error) bool {
	return errorKinds.Valid(e.Kind) && target == sentinels[e.Kind]
}

// Unwrap returns the library's error.
func (e *Error) Unwrap() error { return e.Err }

func refuse(op string, kind ErrorKind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// refusal turns a library refusal into the kind of error a store answers.
func refusal(op string, err error) error {
	var ce *instancestate.ConflictError
	kind := KindInvalidRequest
	switch {
	case errors.As(err, &ce) && ce.Status == 500:
		kind = KindInternal
	case errors.Is(err, instancestate.ErrAlreadyLocked):
		kind = KindAlreadyLocked
	case errors.Is(err, instancestate.ErrNotLocked):
		kind = KindNotLocked
	case errors.Is(err, instancestate.ErrConflict), errors.Is(err, instancestate.ErrStaleGeneration),
		errors.Is(err, migration.ErrSameMigration):
		kind = KindConflict
	case errors.Is(err, vmmstate.ErrTerminal):
		kind = KindTerminal
	case errors.Is(err, vmmstate.ErrIllegalTransition), errors.Is(err, migration.ErrIllegalTransition):
		kind = KindIllegalTransition
	}
	return &Error{Op: op, Kind: kind, Message: err.Error(), Err: err}
}

// ListedBySled reports whether VMMListBySled lists a VMM of kind k: one
// that may still run on its sled (§4.2) and has not failed. A failed VMM
// is already known dead (D6: nothing the watcher finds changes it), and a
// creating, unwound or destroyed one has no process to check — Omicron's
// watcher leaves them out too (its PR #11100).
func ListedBySled(k vmmstate.Kind) bool { return k.ExistsOnSled() && k != vmmstate.KindFailed }

package datastore

import (
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The guards of every operation on rows, each a function over the rows it
// reads and writes: the one implementation of the rules, which Memory runs
// over its maps under its lock and a Tables over the rows a store read for
// one operation (pgstore). Each decides before it writes: a refusal, or a
// guard that held, changes no row.

// rowSet is where an operation's rule finds rows by id: Memory's maps, or
// a Tables. A row found is the stored row itself, changed in place; nil is
// a row that does not exist.
type rowSet interface {
	instance(instancestate.ID) *InstanceRow
	vmm(vmmstate.ID) *VMMRow
	migration(migration.ID) *MigrationRow
	// migrationsOf calls fn with every migration row of instance id,
	// deleted or not.
	migrationsOf(id instancestate.ID, fn func(*MigrationRow))
	addInstance(InstanceRow)
	addVMM(VMMRow)
	addMigration(MigrationRow)
}

func instanceInsert(rs rowSet, in instancestate.Instance) (instancestate.Instance, error) {
	in = StoreInstance(in)
	var stored *instancestate.Instance
	if r := rs.instance(in.ID); r != nil {
		stored = &r.Instance
	}
	return insert("instance_insert", in.ID, in, in.Validate(), stored, func() { rs.addInstance(InstanceRow{Instance: in}) })
}

func vmmInsert(rs rowSet, v vmmstate.VMM) (vmmstate.VMM, error) {
	v = StoreVMM(v)
	var stored *vmmstate.VMM
	if r := rs.vmm(v.ID); r != nil {
		stored = &r.VMM
	}
	return insert("vmm_insert", v.ID, v, v.Validate(), stored, func() { rs.addVMM(VMMRow{VMM: v}) })
}

func migrationInsert(rs rowSet, rec migration.Record) (migration.Record, error) {
	rec = StoreMigration(rec)
	// The column is NOT NULL: every store refuses a record without it alike.
	invalid := errNoTimeCreated
	if !rec.TimeCreated.IsZero() {
		invalid = rec.Validate()
	}
	var stored *migration.Record
	if r := rs.migration(rec.ID); r != nil {
		stored = &r.Migration
	}
	return insert("migration_insert", rec.ID, rec, invalid, stored, func() { rs.addMigration(MigrationRow{Migration: rec}) })
}

// insert is the three inserts (§8.1–§8.3): a record that breaks a row rule
// (invalid) is refused, a retry of the record stored under its id returns
// it (idempotent), a different record under a used id is a conflict (D29),
// and anything else becomes a new row (add).
func insert[ID any, Rec comparable](op string, id ID, rec Rec, invalid error, stored *Rec, add func()) (Rec, error) {
	var zero Rec
	switch {
	case invalid != nil:
		return zero, refusal(op, invalid)
	case stored == nil:
		add()
	case *stored != rec:
		return zero, refuse(op, KindConflict, "id %v already names a different record (D29)", id)
	}
	return rec, nil
}

// findInstance returns the row of id, deleted or not, or a not_found
// *Error for op.
func findInstance(rs rowSet, op string, id instancestate.ID) (*InstanceRow, error) {
	row := rs.instance(id)
	if row == nil {
		return nil, refuse(op, KindNotFound, "no instance %v", id)
	}
	return row, nil
}

// findVMM returns the row of id, deleted or not, or a not_found *Error for
// op.
func findVMM(rs rowSet, op string, id vmmstate.ID) (*VMMRow, error) {
	row := rs.vmm(id)
	if row == nil {
		return nil, refuse(op, KindNotFound, "no VMM %v", id)
	}
	return row, nil
}

// findMigration returns the row of id, deleted or not, or a not_found
// *Error for op.
func findMigration(rs rowSet, op string, id migration.ID) (*MigrationRow, error) {
	row := rs.migration(id)
	if row == nil {
		return nil, refuse(op, KindNotFound, "no migration %v", id)
	}
	return row, nil
}

// snapshot reads an instance with its linked records, deleted ones absent
// (§8.1 instance_fetch_all).
func snapshot(rs rowSet, row *InstanceRow) instancestate.Snapshot {
	s := instancestate.Snapshot{Instance: row.Instance}
	rt := row.Instance.Runtime
	if !rt.ActiveVMM.IsZero() {
		if v := rs.vmm(rt.ActiveVMM); v != nil && v.TimeDeleted.IsZero() {
			s.Active = v.VMM
		}
	}
	if !rt.TargetVMM.IsZero() {
		if v := rs.vmm(rt.TargetVMM); v != nil && v.TimeDeleted.IsZero() {
			s.Target = v.VMM
		}
	}
	if !rt.MigrationID.IsZero() {
		if mg := rs.migration(rt.MigrationID); mg != nil && mg.TimeDeleted.IsZero() {
			s.Migration = mg.Migration
		}
	}
	return s
}

func instanceFetchAll(rs rowSet, id instancestate.ID) (instancestate.Snapshot, error) {
	const op = "instance_fetch_all"
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return instancestate.Snapshot{}, err
	case !row.TimeDeleted.IsZero():
		return instancestate.Snapshot{}, refuse(op, KindNotFound, "instance %v is deleted", id)
	}
	return snapshot(rs, row), nil
}

func vmmFetch(rs rowSet, id vmmstate.ID) (VMMRow, error) {
	row, err := findVMM(rs, "vmm_fetch", id)
	if err != nil {
		return VMMRow{}, err
	}
	return *row, nil
}

func migrationFetch(rs rowSet, id migration.ID) (MigrationRow, error) {
	row, err := findMigration(rs, "migration_fetch", id)
	if err != nil {
		return MigrationRow{}, err
	}
	return *row, nil
}

func instanceListMigrations(rs rowSet, id instancestate.ID) ([]migration.ID, error) {
	if _, err := findInstance(rs, "instance_list_migrations", id); err != nil {
		return nil, err
	}
	var out []migration.ID
	rs.migrationsOf(id, func(row *MigrationRow) {
		if row.TimeDeleted.IsZero() {
			out = append(out, row.Migration.ID)
		}
	})
	return sortIDs(out), nil
}

func instanceUpdateRuntime(rs rowSet, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (Result, error) {
	const op = "instance_update_runtime"
	rt = storeRuntime(rt)
	row, err := findInstance(rs, op, id)
	if err != nil {
		return Result{}, err
	}
	next := row.Instance
	next.Runtime = rt
	// The write sets the six runtime columns it is given and leaves
	// time_last_auto_restarted as stored: only a start stamps it (D22).
	next.Runtime.TimeLastAutoRestarted = row.Instance.Runtime.TimeLastAutoRestarted
	if intent != instancestate.IntentUnchanged {
		next.IntendedState = intent
	}
	if err := next.Validate(); err != nil {
		return Result{}, refusal(op, err)
	}
	if err := readableLinks(rs, op, id, row.Instance.Runtime, rt); err != nil {
		return Result{}, err
	}
	switch {
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil
	case !rt.Generation.After(row.Instance.Runtime.Generation):
		return notApplied(ReasonStale), nil
	}
	row.Instance = next
	return applied(), nil
}

// readableLinks refuses a runtime that newly links a record the instance
// could not read: a VMM or migration that is absent, deleted, or
// another instance's. A link the stored runtime already has is kept as it
// is, whatever its record: the write that repairs it must pass.
func readableLinks(rs rowSet, op string, id instancestate.ID, stored, rt instancestate.Runtime) error {
	for _, l := range [...]struct {
		field     string
		old, next vmmstate.ID
	}{{"active_propolis_id", stored.ActiveVMM, rt.ActiveVMM}, {"target_propolis_id", stored.TargetVMM, rt.TargetVMM}} {
		if l.next.IsZero() || l.next == l.old {
			continue
		}
		switch v := rs.vmm(l.next); {
		case v == nil:
			return refuse(op, KindInvalidRequest, "%s: no VMM %v: an instance links only records it can read", l.field, l.next)
		case !v.TimeDeleted.IsZero():
			return refuse(op, KindInvalidRequest, "%s: VMM %v is deleted: an instance links only records it can read", l.field, l.next)
		case v.VMM.InstanceID != id:
			return refuse(op, KindInvalidRequest, "%s: VMM %v is instance %v's", l.field, l.next, v.VMM.InstanceID)
		}
	}
	if mid := rt.MigrationID; !mid.IsZero() && mid != stored.MigrationID {
		switch mg := rs.migration(mid); {
		case mg == nil:
			return refuse(op, KindInvalidRequest, "migration_id: no migration %v: an instance links only records it can read", mid)
		case !mg.TimeDeleted.IsZero():
			return refuse(op, KindInvalidRequest, "migration_id: migration %v is deleted: an instance links only records it can read", mid)
		case mg.Migration.InstanceID != id:
			return refuse(op, KindInvalidRequest, "migration_id: migration %v is instance %v's", mid, mg.Migration.InstanceID)
		}
	}
	return nil
}

func instanceSetIntendedState(rs rowSet, id instancestate.ID, intent instancestate.IntendedState) (Result, error) {
	const op = "instance_set_intended_state"
	if !intent.IsValid() {
		return Result{}, refuse(op, KindInvalidRequest, "intended state %v", intent)
	}
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return Result{}, refuse(op, KindNotFound, "instance %v is deleted", id) // §21.2
	case row.Instance.IntendedState == intent:
		return notApplied(ReasonUnchanged), nil
	}
	row.Instance.IntendedState = intent
	return applied(), nil
}

func instanceSetMigrationIDs(rs rowSet, id instancestate.ID, p SetMigrationIDsArgs) (instancestate.Instance, error) {
	const op = "instance_set_migration_ids"
	now := StoreTime(p.Now)
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return instancestate.Instance{}, err
	case !row.TimeDeleted.IsZero():
		return instancestate.Instance{}, refuse(op, KindConflict, "another migration is already in progress")
	}
	// §8.1 (c) reads the linked target and migration rows even when they
	// are deleted.
	s := snapshot(rs, row)
	rt := row.Instance.Runtime
	if !rt.TargetVMM.IsZero() {
		if v := rs.vmm(rt.TargetVMM); v != nil {
			s.Target = v.VMM
		}
	}
	if !rt.MigrationID.IsZero() {
		if mg := rs.migration(rt.MigrationID); mg != nil {
			s.Migration = mg.Migration
		}
	}
	in, err := instancestate.SetMigrationIDs(s, p.Source, p.Migration, p.Target, now)
	if err != nil {
		return instancestate.Instance{}, refusal(op, err)
	}
	row.Instance = in
	return in, nil
}

func instanceUnsetMigrationIDs(rs rowSet, id instancestate.ID, p UnsetMigrationIDsArgs) (Result, error) {
	const op = "instance_unset_migration_ids"
	now := StoreTime(p.Now)
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil
	case row.Instance.Runtime.MigrationID != p.Migration || row.Instance.Runtime.TargetVMM != p.Target || p.Migration.IsZero():
		return notApplied(ReasonUnchanged), nil
	}
	g, err := row.Instance.Runtime.Generation.Next()
	if err != nil {
		return Result{}, refuse(op, KindInvalidRequest, "%v", err)
	}
	row.Instance.Runtime.MigrationID, row.Instance.Runtime.TargetVMM = migration.ID{}, vmmstate.ID{}
	row.Instance.Runtime.Generation, row.Instance.Runtime.TimeUpdated = g, now
	return applied(), nil
}

func instanceMarkAsStarting(rs rowSet, id instancestate.ID, p MarkAsStartingArgs) (instancestate.Instance, error) {
	const op = "instance_mark_as_starting"
	now := StoreTime(p.Now)
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return instancestate.Instance{}, err
	case !row.TimeDeleted.IsZero():
		return instancestate.Instance{}, refuse(op, KindNotFound, "instance %v is deleted", id)
	}
	v := rs.vmm(p.VMM)
	if v == nil || !v.TimeDeleted.IsZero() {
		return instancestate.Instance{}, refuse(op, KindNotFound, "no VMM %v", p.VMM)
	}
	in, err := instancestate.MarkAsStarting(snapshot(rs, row), v.VMM, p.Reason, now)
	if err == nil {
		err = in.Validate()
	}
	if err != nil {
		return instancestate.Instance{}, refusal(op, err)
	}
	row.Instance = in
	return in, nil
}

func instanceRecordStartFailure(rs rowSet, id instancestate.ID, f failure.StartFailure) (Result, error) {
	const op = "instance_record_start_failure"
	f.Time = StoreTime(f.Time)
	record := f != (failure.StartFailure{})
	if record {
		if err := f.Validate(); err != nil {
			return Result{}, refuse(op, KindInvalidRequest, "start failure: %v", err)
		}
	}
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return Result{}, refuse(op, KindNotFound, "instance %v is deleted", id)
	}
	var in instancestate.Instance
	if record {
		in, err = row.Instance.RecordStartFailure(f)
	} else {
		in = row.Instance.ClearStartFailure()
	}
	switch {
	case err != nil:
		return Result{}, refusal(op, err)
	case in == row.Instance:
		return notApplied(ReasonUnchanged), nil
	}
	row.Instance = in
	return applied(), nil
}

func instanceDelete(rs rowSet, id instancestate.ID, now time.Time) (Result, error) {
	const op = "instance_delete"
	now = StoreTime(now)
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil // idempotent (§21.2)
	}
	in, err := instancestate.Delete(snapshot(rs, row), now)
	if err != nil {
		return Result{}, &Error{Op: op, Kind: KindInvalidRequest, Message: err.Error(), Err: err}
	}
	row.Instance, row.TimeDeleted = in, now
	rs.migrationsOf(id, func(mg *MigrationRow) {
		if mg.TimeDeleted.IsZero() {
			mg.TimeDeleted = now
		}
	})
	return applied(), nil
}

func instanceUpdaterLock(rs rowSet, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error) {
	const op = "instance_updater_lock"
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return instancestate.Lock{}, err
	case !row.TimeDeleted.IsZero():
		return instancestate.Lock{}, refuse(op, KindNotFound, "instance %v is deleted", id) // §21.2
	}
	in, l, err := row.Instance.Lock(saga)
	if err != nil {
		return instancestate.Lock{}, refusal(op, err)
	}
	row.Instance = in
	return l, nil
}

func instanceUpdaterInheritLock(rs rowSet, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error) {
	const op = "instance_updater_inherit_lock"
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return instancestate.Lock{}, err
	case !row.TimeDeleted.IsZero():
		return instancestate.Lock{}, refuse(op, KindNotFound, "instance %v is deleted", id) // §21.2
	}
	in, l, err := row.Instance.InheritLock(parent, child)
	if err != nil {
		return instancestate.Lock{}, refusal(op, err)
	}
	row.Instance = in
	return l, nil
}

func instanceUpdaterUnlock(rs rowSet, id instancestate.ID, l instancestate.Lock) (Result, error) {
	const op = "instance_updater_unlock"
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil // §21.2: unlocking a deleted instance is fine
	}
	in, ok, err := row.Instance.Unlock(l)
	switch {
	case err != nil:
		return Result{}, refusal(op, err)
	case !ok:
		return notApplied(ReasonUnchanged), nil
	}
	row.Instance = in
	return applied(), nil
}

func instanceCommitUpdate(rs rowSet, id instancestate.ID, l instancestate.Lock, p instancestate.Plan) (Result, error) {
	const op = "instance_commit_update"
	p = StorePlan(p)
	row, err := findInstance(rs, op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return Result{}, refuse(op, KindNotFound, "instance %v is deleted", id) // §9
	}
	in, ok, err := row.Instance.Commit(l, p)
	switch {
	case err != nil:
		return Result{}, refusal(op, err)
	case !ok:
		return notApplied(ReasonStale), nil // already committed
	}
	// A plan never moves the time of the last automatic restart: only
	// a start stamps it (D22).
	in.Runtime.TimeLastAutoRestarted = row.Instance.Runtime.TimeLastAutoRestarted
	if err := in.Validate(); err != nil {
		return Result{}, refusal(op, err)
	}
	row.Instance = in
	return applied(), nil
}

// writeVMM applies a runtime change computed by change to the live VMM id.
func writeVMM(rs rowSet, op string, id vmmstate.ID, change func(vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error)) (Result, error) {
	row, err := findVMM(rs, op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil
	}
	rt, outcome, err := change(row.VMM.Runtime)
	if err != nil {
		return Result{}, refusal(op, err)
	}
	row.VMM.Runtime = rt
	return fromOutcome(outcome), nil
}

func vmmUpdateRuntime(rs rowSet, id vmmstate.ID, rt vmmstate.Runtime) (Result, error) {
	// The control plane's write of a runtime obeys what a sled-agent's
	// report does (Runtime.Observe): the generation guard, D6 and D7.
	rt.TimeUpdated = StoreTime(rt.TimeUpdated)
	return writeVMM(rs, "vmm_update_runtime", id, func(stored vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) {
		return stored.Observe(rt)
	})
}

func vmmMarkFailed(rs rowSet, id vmmstate.ID, reason failure.Reason, now time.Time) (Result, error) {
	now = StoreTime(now)
	return writeVMM(rs, "vmm_mark_failed", id, func(stored vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) {
		return stored.MarkFailed(reason, now)
	})
}

func vmmMarkSagaUnwound(rs rowSet, id vmmstate.ID, now time.Time) (Result, error) {
	now = StoreTime(now)
	return writeVMM(rs, "vmm_mark_saga_unwound", id, func(stored vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) {
		return stored.Transition(vmmstate.SagaUnwound, now)
	})
}

func vmmMarkDeleted(rs rowSet, id vmmstate.ID, now time.Time) (Result, error) {
	now = StoreTime(now)
	row, err := findVMM(rs, "vmm_mark_deleted", id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil
	case !row.VMM.Runtime.State.IsDestroyable():
		return notApplied(ReasonNotDestroyable), nil
	case links(rs, row.VMM.InstanceID, id):
		return notApplied(ReasonLinked), nil
	}
	row.TimeDeleted = now
	return applied(), nil
}

// links reports whether instance in, live, links VMM id as its active or
// target VMM. Only a VMM's own instance can link it (a snapshot whose
// records name another instance breaks ids_agree), so it is the one asked.
func links(rs rowSet, in instancestate.ID, id vmmstate.ID) bool {
	row := rs.instance(in)
	return row != nil && row.TimeDeleted.IsZero() &&
		(row.Instance.Runtime.ActiveVMM == id || row.Instance.Runtime.TargetVMM == id)
}

func migrationMarkFailed(rs rowSet, id migration.ID, now time.Time) (Result, error) {
	const op = "migration_mark_failed"
	now = StoreTime(now)
	row, err := findMigration(rs, op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil
	}
	rec, outcome, err := row.Migration.MarkFailed(now)
	if err != nil {
		return Result{}, refusal(op, err)
	}
	row.Migration = rec
	return fromOutcome(outcome), nil
}

func migrationMarkDeleted(rs rowSet, id migration.ID, now time.Time) (Result, error) {
	now = StoreTime(now)
	row, err := findMigration(rs, "migration_mark_deleted", id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil
	case linksMigration(rs, row.Migration.InstanceID, id):
		return notApplied(ReasonLinked), nil
	}
	row.TimeDeleted = now
	return applied(), nil
}

// linksMigration reports whether instance in, live, links migration id.
func linksMigration(rs rowSet, in instancestate.ID, id migration.ID) bool {
	row := rs.instance(in)
	return row != nil && row.TimeDeleted.IsZero() && row.Instance.Runtime.MigrationID == id
}

func sledReport(rs rowSet, vmm vmmstate.ID, r instancestate.Report) (SledReportResult, error) {
	const op = "sled_report"
	r = StoreReport(r)
	if err := migration.CheckInOut(r.MigrationIn, r.MigrationOut); err != nil {
		return SledReportResult{}, refusal(op, err)
	}
	row, err := findVMM(rs, op, vmm)
	if err != nil {
		return SledReportResult{}, err
	}
	// The rows are found first, then instancestate.ApplyReportToRows
	// applies every rule and writes them only if all passed: one
	// transaction.
	var rows instancestate.Rows
	if row.TimeDeleted.IsZero() {
		rows.VMM = &row.VMM.Runtime
	}
	for _, side := range [...]struct {
		rep *migration.Report
		rec **migration.Record
	}{{r.MigrationOut, &rows.MigrationOut}, {r.MigrationIn, &rows.MigrationIn}} {
		if side.rep == nil {
			continue
		}
		mg, err := findMigration(rs, op, side.rep.MigrationID)
		switch {
		case err != nil:
			return SledReportResult{}, err
		case !mg.TimeDeleted.IsZero():
			return SledReportResult{}, refuse(op, KindGone, "migration %v is deleted", side.rep.MigrationID)
		}
		*side.rec = &mg.Migration
	}
	rr, err := instancestate.ApplyReportToRows(vmm, rows, r)
	if err != nil {
		return SledReportResult{}, refusal(op, err)
	}
	res := SledReportResult{VMM: notApplied(ReasonDeleted), UpdateSagaNeeded: rr.UpdateSagaNeeded}
	if rows.VMM != nil {
		res.VMM = fromOutcome(rr.VMMOutcome)
	}
	if rows.MigrationOut != nil {
		res.MigrationOut = fromOutcome(rr.MigrationOutOutcome)
	}
	if rows.MigrationIn != nil {
		res.MigrationIn = fromOutcome(rr.MigrationInOutcome)
	}
	return res, nil
}

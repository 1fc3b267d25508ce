package datastore

import (
	"context"
	"sync"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Memory is the in-memory Store: the embedded default. It keeps the three
// tables as maps under one mutex, so every operation is one atomic step
// and every read a consistent snapshot. It starts no goroutine and reads
// no clock (D1): every time comes in as an argument. Records are
// soft-deleted as in Omicron. The zero value is not ready; use NewMemory.
type Memory struct {
	mu         sync.Mutex
	instances  map[instancestate.ID]*InstanceRow
	vmms       map[vmmstate.ID]*VMMRow
	migrations map[migration.ID]*MigrationRow
	log        memSagaLog // the saga log (SagaLog), beside the records
	// reservations is the sleds' room (SledReservations), made on first use.
	reservations map[vmmstate.ID]Reservation
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		instances:  make(map[instancestate.ID]*InstanceRow),
		vmms:       make(map[vmmstate.ID]*VMMRow),
		migrations: make(map[migration.ID]*MigrationRow),
	}
}

var _ Store = (*Memory)(nil)

func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	return nil
}

// InstanceInsert implements Store.
func (m *Memory) InstanceInsert(ctx context.Context, in instancestate.Instance) (instancestate.Instance, error) {
	in = StoreInstance(in)
	return insert(m, ctx, "instance_insert", m.instances, in.ID, in, in.Validate,
		func(in instancestate.Instance) *InstanceRow { return &InstanceRow{Instance: in} },
		func(r *InstanceRow) instancestate.Instance { return r.Instance })
}

// VMMInsert implements Store.
func (m *Memory) VMMInsert(ctx context.Context, v vmmstate.VMM) (vmmstate.VMM, error) {
	v = StoreVMM(v)
	return insert(m, ctx, "vmm_insert", m.vmms, v.ID, v, v.Validate,
		func(v vmmstate.VMM) *VMMRow { return &VMMRow{VMM: v} },
		func(r *VMMRow) vmmstate.VMM { return r.VMM })
}

// MigrationInsert implements Store.
func (m *Memory) MigrationInsert(ctx context.Context, rec migration.Record) (migration.Record, error) {
	rec = StoreMigration(rec)
	validate := func() error {
		if rec.TimeCreated.IsZero() {
			// The column is NOT NULL: every store refuses it alike.
			return errNoTimeCreated
		}
		return rec.Validate()
	}
	return insert(m, ctx, "migration_insert", m.migrations, rec.ID, rec, validate,
		func(rec migration.Record) *MigrationRow { return &MigrationRow{Migration: rec} },
		func(r *MigrationRow) migration.Record { return r.Migration })
}

// insert is the three inserts (§8.1–§8.3): a record that breaks a row rule
// is refused, a retry of the record stored under its id returns it
// (idempotent), a different record under a used id is a conflict (D29),
// and anything else becomes a new row.
func insert[ID comparable, Rec comparable, Row any](m *Memory, ctx context.Context, op string, table map[ID]*Row, id ID, rec Rec,
	validate func() error, row func(Rec) *Row, stored func(*Row) Rec) (Rec, error) {
	var zero Rec
	if err := validate(); err != nil {
		return zero, refusal(op, err)
	}
	if err := m.lock(ctx); err != nil {
		return zero, err
	}
	defer m.mu.Unlock()
	if r, ok := table[id]; ok {
		if got := stored(r); got != rec {
			return zero, refuse(op, KindConflict, "id %v already names a different record (D29)", id)
		}
		return rec, nil
	}
	table[id] = row(rec)
	return rec, nil
}

// instance returns the live row of id, or a not_found *Error for op.
func (m *Memory) instance(op string, id instancestate.ID) (*InstanceRow, error) {
	row, ok := m.instances[id]
	if !ok {
		return nil, refuse(op, KindNotFound, "no instance %v", id)
	}
	return row, nil
}

// snapshot reads an instance with its linked records, deleted ones absent
// (§8.1 instance_fetch_all).
func (m *Memory) snapshot(row *InstanceRow) instancestate.Snapshot {
	s := instancestate.Snapshot{Instance: row.Instance}
	rt := row.Instance.Runtime
	if v, ok := m.vmms[rt.ActiveVMM]; ok && !rt.ActiveVMM.IsZero() && v.TimeDeleted.IsZero() {
		s.Active = v.VMM
	}
	if v, ok := m.vmms[rt.TargetVMM]; ok && !rt.TargetVMM.IsZero() && v.TimeDeleted.IsZero() {
		s.Target = v.VMM
	}
	if mg, ok := m.migrations[rt.MigrationID]; ok && !rt.MigrationID.IsZero() && mg.TimeDeleted.IsZero() {
		s.Migration = mg.Migration
	}
	return s
}

// InstanceFetchAll implements Store.
func (m *Memory) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	const op = "instance_fetch_all"
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (instancestate.Snapshot, error) {
		if !row.TimeDeleted.IsZero() {
			return instancestate.Snapshot{}, refuse(op, KindNotFound, "instance %v is deleted", id)
		}
		return m.snapshot(row), nil
	})
}

// VMMFetch implements Store.
func (m *Memory) VMMFetch(ctx context.Context, id vmmstate.ID) (VMMRow, error) {
	if err := m.lock(ctx); err != nil {
		return VMMRow{}, err
	}
	defer m.mu.Unlock()
	row, ok := m.vmms[id]
	if !ok {
		return VMMRow{}, refuse("vmm_fetch", KindNotFound, "no VMM %v", id)
	}
	return *row, nil
}

// MigrationFetch implements Store.
func (m *Memory) MigrationFetch(ctx context.Context, id migration.ID) (MigrationRow, error) {
	if err := m.lock(ctx); err != nil {
		return MigrationRow{}, err
	}
	defer m.mu.Unlock()
	row, ok := m.migrations[id]
	if !ok {
		return MigrationRow{}, refuse("migration_fetch", KindNotFound, "no migration %v", id)
	}
	return *row, nil
}

// InstanceUpdateRuntime implements Store.
func (m *Memory) InstanceUpdateRuntime(ctx context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (Result, error) {
	const op = "instance_update_runtime"
	rt = storeRuntime(rt)
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (Result, error) {
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
		if err := m.readableLinks(op, id, row.Instance.Runtime, rt); err != nil {
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
	})
}

// readableLinks refuses a runtime that newly links a record the instance
// could not read: a VMM or migration that is absent, deleted, or
// another instance's. A link the stored runtime already has is kept as it
// is, whatever its record: the write that repairs it must pass.
func (m *Memory) readableLinks(op string, id instancestate.ID, stored, rt instancestate.Runtime) error {
	for _, l := range [...]struct {
		field     string
		old, next vmmstate.ID
	}{{"active_propolis_id", stored.ActiveVMM, rt.ActiveVMM}, {"target_propolis_id", stored.TargetVMM, rt.TargetVMM}} {
		if l.next.IsZero() || l.next == l.old {
			continue
		}
		switch v, ok := m.vmms[l.next]; {
		case !ok:
			return refuse(op, KindInvalidRequest, "%s: no VMM %v: an instance links only records it can read", l.field, l.next)
		case !v.TimeDeleted.IsZero():
			return refuse(op, KindInvalidRequest, "%s: VMM %v is deleted: an instance links only records it can read", l.field, l.next)
		case v.VMM.InstanceID != id:
			return refuse(op, KindInvalidRequest, "%s: VMM %v is instance %v's", l.field, l.next, v.VMM.InstanceID)
		}
	}
	if mid := rt.MigrationID; !mid.IsZero() && mid != stored.MigrationID {
		switch mg, ok := m.migrations[mid]; {
		case !ok:
			return refuse(op, KindInvalidRequest, "migration_id: no migration %v: an instance links only records it can read", mid)
		case !mg.TimeDeleted.IsZero():
			return refuse(op, KindInvalidRequest, "migration_id: migration %v is deleted: an instance links only records it can read", mid)
		case mg.Migration.InstanceID != id:
			return refuse(op, KindInvalidRequest, "migration_id: migration %v is instance %v's", mid, mg.Migration.InstanceID)
		}
	}
	return nil
}

// InstanceSetIntendedState implements Store.
func (m *Memory) InstanceSetIntendedState(ctx context.Context, id instancestate.ID, intent instancestate.IntendedState) (Result, error) {
	const op = "instance_set_intended_state"
	if !intent.IsValid() {
		return Result{}, refuse(op, KindInvalidRequest, "intended state %v", intent)
	}
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (Result, error) {
		switch {
		case !row.TimeDeleted.IsZero():
			return Result{}, refuse(op, KindNotFound, "instance %v is deleted", id) // §21.2
		case row.Instance.IntendedState == intent:
			return notApplied(ReasonUnchanged), nil
		}
		row.Instance.IntendedState = intent
		return applied(), nil
	})
}

// InstanceSetMigrationIDs implements Store.
func (m *Memory) InstanceSetMigrationIDs(ctx context.Context, id instancestate.ID, p SetMigrationIDsArgs) (instancestate.Instance, error) {
	src, mig, target, now := p.Source, p.Migration, p.Target, p.Now
	const op = "instance_set_migration_ids"
	now = StoreTime(now)
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (instancestate.Instance, error) {
		if !row.TimeDeleted.IsZero() {
			return instancestate.Instance{}, refuse(op, KindConflict, "another migration is already in progress")
		}
		// §8.1 (c) reads the linked target and migration rows even when they
		// are deleted.
		s := m.snapshot(row)
		rt := row.Instance.Runtime
		if v, ok := m.vmms[rt.TargetVMM]; ok && !rt.TargetVMM.IsZero() {
			s.Target = v.VMM
		}
		if mg, ok := m.migrations[rt.MigrationID]; ok && !rt.MigrationID.IsZero() {
			s.Migration = mg.Migration
		}
		in, err := instancestate.SetMigrationIDs(s, src, mig, target, now)
		if err != nil {
			return instancestate.Instance{}, refusal(op, err)
		}
		row.Instance = in
		return in, nil
	})
}

// InstanceUnsetMigrationIDs implements Store.
func (m *Memory) InstanceUnsetMigrationIDs(ctx context.Context, id instancestate.ID, p UnsetMigrationIDsArgs) (Result, error) {
	mig, target, now := p.Migration, p.Target, p.Now
	const op = "instance_unset_migration_ids"
	now = StoreTime(now)
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (Result, error) {
		switch {
		case !row.TimeDeleted.IsZero():
			return notApplied(ReasonDeleted), nil
		case row.Instance.Runtime.MigrationID != mig || row.Instance.Runtime.TargetVMM != target || mig.IsZero():
			return notApplied(ReasonUnchanged), nil
		}
		g, err := row.Instance.Runtime.Generation.Next()
		if err != nil {
			return Result{}, refuse(op, KindInvalidRequest, "%v", err)
		}
		row.Instance.Runtime.MigrationID, row.Instance.Runtime.TargetVMM = migration.ID{}, vmmstate.ID{}
		row.Instance.Runtime.Generation, row.Instance.Runtime.TimeUpdated = g, now
		return applied(), nil
	})
}

// InstanceMarkAsStarting implements Store.
func (m *Memory) InstanceMarkAsStarting(ctx context.Context, id instancestate.ID, p MarkAsStartingArgs) (instancestate.Instance, error) {
	vmm, reason, now := p.VMM, p.Reason, p.Now
	const op = "instance_mark_as_starting"
	now = StoreTime(now)
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (instancestate.Instance, error) {
		if !row.TimeDeleted.IsZero() {
			return instancestate.Instance{}, refuse(op, KindNotFound, "instance %v is deleted", id)
		}
		v, ok := m.vmms[vmm]
		if !ok || !v.TimeDeleted.IsZero() {
			return instancestate.Instance{}, refuse(op, KindNotFound, "no VMM %v", vmm)
		}
		in, err := instancestate.MarkAsStarting(m.snapshot(row), v.VMM, reason, now)
		if err == nil {
			err = in.Validate()
		}
		if err != nil {
			return instancestate.Instance{}, refusal(op, err)
		}
		row.Instance = in
		return in, nil
	})
}

// InstanceRecordStartFailure implements Store.
func (m *Memory) InstanceRecordStartFailure(ctx context.Context, id instancestate.ID, f failure.StartFailure) (Result, error) {
	const op = "instance_record_start_failure"
	f.Time = StoreTime(f.Time)
	next := func(in instancestate.Instance) (instancestate.Instance, error) { return in.ClearStartFailure(), nil }
	if f != (failure.StartFailure{}) {
		if err := f.Validate(); err != nil {
			return Result{}, refuse(op, KindInvalidRequest, "start failure: %v", err)
		}
		next = func(in instancestate.Instance) (instancestate.Instance, error) { return in.RecordStartFailure(f) }
	}
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (Result, error) {
		if !row.TimeDeleted.IsZero() {
			return Result{}, refuse(op, KindNotFound, "instance %v is deleted", id)
		}
		in, err := next(row.Instance)
		switch {
		case err != nil:
			return Result{}, refusal(op, err)
		case in == row.Instance:
			return notApplied(ReasonUnchanged), nil
		}
		row.Instance = in
		return applied(), nil
	})
}

// InstanceUpdaterLock implements Store.
func (m *Memory) InstanceUpdaterLock(ctx context.Context, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error) {
	const op = "instance_updater_lock"
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (instancestate.Lock, error) {
		if !row.TimeDeleted.IsZero() {
			return instancestate.Lock{}, refuse(op, KindNotFound, "instance %v is deleted", id) // §21.2
		}
		in, l, err := row.Instance.Lock(saga)
		if err != nil {
			return instancestate.Lock{}, refusal(op, err)
		}
		row.Instance = in
		return l, nil
	})
}

// InstanceUpdaterInheritLock implements Store.
func (m *Memory) InstanceUpdaterInheritLock(ctx context.Context, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error) {
	const op = "instance_updater_inherit_lock"
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (instancestate.Lock, error) {
		if !row.TimeDeleted.IsZero() {
			return instancestate.Lock{}, refuse(op, KindNotFound, "instance %v is deleted", id) // §21.2
		}
		in, l, err := row.Instance.InheritLock(parent, child)
		if err != nil {
			return instancestate.Lock{}, refusal(op, err)
		}
		row.Instance = in
		return l, nil
	})
}

// InstanceUpdaterUnlock implements Store.
func (m *Memory) InstanceUpdaterUnlock(ctx context.Context, id instancestate.ID, l instancestate.Lock) (Result, error) {
	const op = "instance_updater_unlock"
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (Result, error) {
		if !row.TimeDeleted.IsZero() {
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
	})
}

// InstanceCommitUpdate implements Store.
func (m *Memory) InstanceCommitUpdate(ctx context.Context, id instancestate.ID, l instancestate.Lock, p instancestate.Plan) (Result, error) {
	const op = "instance_commit_update"
	p = StorePlan(p)
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (Result, error) {
		if !row.TimeDeleted.IsZero() {
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
	})
}

// InstanceDelete implements Store.
func (m *Memory) InstanceDelete(ctx context.Context, id instancestate.ID, now time.Time) (Result, error) {
	const op = "instance_delete"
	now = StoreTime(now)
	return onInstance(m, ctx, op, id, func(row *InstanceRow) (Result, error) {
		if !row.TimeDeleted.IsZero() {
			return notApplied(ReasonDeleted), nil // idempotent (§21.2)
		}
		in, err := instancestate.Delete(m.snapshot(row), now)
		if err != nil {
			return Result{}, &Error{Op: op, Kind: KindInvalidRequest, Message: err.Error(), Err: err}
		}
		row.Instance, row.TimeDeleted = in, now
		for _, mg := range m.migrations {
			if mg.Migration.InstanceID == id && mg.TimeDeleted.IsZero() {
				mg.TimeDeleted = now
			}
		}
		return applied(), nil
	})
}

// vmm returns the row of id, or a not_found *Error for op.
func (m *Memory) vmm(op string, id vmmstate.ID) (*VMMRow, error) {
	row, ok := m.vmms[id]
	if !ok {
		return nil, refuse(op, KindNotFound, "no VMM %v", id)
	}
	return row, nil
}

// writeVMM applies a runtime change computed by change to the live VMM id.
func (m *Memory) writeVMM(ctx context.Context, op string, id vmmstate.ID, change func(vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error)) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	row, err := m.vmm(op, id)
	if err != nil {
		return Result{}, err
	}
	if !row.TimeDeleted.IsZero() {
		return notApplied(ReasonDeleted), nil
	}
	rt, outcome, err := change(row.VMM.Runtime)
	if err != nil {
		return Result{}, refusal(op, err)
	}
	row.VMM.Runtime = rt
	return fromOutcome(outcome), nil
}

// VMMUpdateRuntime implements Store.
func (m *Memory) VMMUpdateRuntime(ctx context.Context, id vmmstate.ID, rt vmmstate.Runtime) (Result, error) {
	// The control plane's write of a runtime obeys what a sled-agent's
	// report does (Runtime.Observe): the generation guard, D6 and D7.
	rt.TimeUpdated = StoreTime(rt.TimeUpdated)
	return m.writeVMM(ctx, "vmm_update_runtime", id, func(stored vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) {
		return stored.Observe(rt)
	})
}

// VMMMarkFailed implements Store.
func (m *Memory) VMMMarkFailed(ctx context.Context, id vmmstate.ID, reason failure.Reason, now time.Time) (Result, error) {
	now = StoreTime(now)
	return m.writeVMM(ctx, "vmm_mark_failed", id, func(stored vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) {
		return stored.MarkFailed(reason, now)
	})
}

// VMMMarkSagaUnwound implements Store.
func (m *Memory) VMMMarkSagaUnwound(ctx context.Context, id vmmstate.ID, now time.Time) (Result, error) {
	now = StoreTime(now)
	return m.writeVMM(ctx, "vmm_mark_saga_unwound", id, func(stored vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) {
		return stored.Transition(vmmstate.SagaUnwound, now)
	})
}

// VMMMarkDeleted implements Store.
func (m *Memory) VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (Result, error) {
	const op = "vmm_mark_deleted"
	now = StoreTime(now)
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	row, err := m.vmm(op, id)
	switch {
	case err != nil:
		return Result{}, err
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil
	case !row.VMM.Runtime.State.IsDestroyable():
		return notApplied(ReasonNotDestroyable), nil
	case m.links(row.VMM.InstanceID, id):
		return notApplied(ReasonLinked), nil
	}
	row.TimeDeleted = now
	return applied(), nil
}

// links reports whether instance in, live, links VMM id as its active or
// target VMM. Only a VMM's own instance can link it (a snapshot whose
// records name another instance breaks ids_agree), so it is the one asked.
func (m *Memory) links(in instancestate.ID, id vmmstate.ID) bool {
	row, ok := m.instances[in]
	return ok && row.TimeDeleted.IsZero() &&
		(row.Instance.Runtime.ActiveVMM == id || row.Instance.Runtime.TargetVMM == id)
}

// MigrationMarkFailed implements Store.
func (m *Memory) MigrationMarkFailed(ctx context.Context, id migration.ID, now time.Time) (Result, error) {
	const op = "migration_mark_failed"
	now = StoreTime(now)
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	row, ok := m.migrations[id]
	switch {
	case !ok:
		return Result{}, refuse(op, KindNotFound, "no migration %v", id)
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

// MigrationMarkDeleted implements Store.
func (m *Memory) MigrationMarkDeleted(ctx context.Context, id migration.ID, now time.Time) (Result, error) {
	const op = "migration_mark_deleted"
	now = StoreTime(now)
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	row, ok := m.migrations[id]
	switch {
	case !ok:
		return Result{}, refuse(op, KindNotFound, "no migration %v", id)
	case !row.TimeDeleted.IsZero():
		return notApplied(ReasonDeleted), nil
	case m.linksMigration(row.Migration.InstanceID, id):
		return notApplied(ReasonLinked), nil
	}
	row.TimeDeleted = now
	return applied(), nil
}

// linksMigration reports whether instance in, live, links migration id.
func (m *Memory) linksMigration(in instancestate.ID, id migration.ID) bool {
	row, ok := m.instances[in]
	return ok && row.TimeDeleted.IsZero() && row.Instance.Runtime.MigrationID == id
}

// InstanceListMigrations implements Store.
func (m *Memory) InstanceListMigrations(ctx context.Context, id instancestate.ID) ([]migration.ID, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	if _, err := m.instance("instance_list_migrations", id); err != nil {
		return nil, err
	}
	var out []migration.ID
	for mid, row := range m.migrations {
		if row.Migration.InstanceID == id && row.TimeDeleted.IsZero() {
			out = append(out, mid)
		}
	}
	return sortIDs(out), nil
}

// SledReport implements Store.
func (m *Memory) SledReport(ctx context.Context, vmm vmmstate.ID, r instancestate.Report) (SledReportResult, error) {
	const op = "sled_report"
	r = StoreReport(r)
	if err := migration.CheckInOut(r.MigrationIn, r.MigrationOut); err != nil {
		return SledReportResult{}, refusal(op, err)
	}
	if err := m.lock(ctx); err != nil {
		return SledReportResult{}, err
	}
	defer m.mu.Unlock()
	row, err := m.vmm(op, vmm)
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
		mg, ok := m.migrations[side.rep.MigrationID]
		switch {
		case !ok:
			return SledReportResult{}, refuse(op, KindNotFound, "no migration %v", side.rep.MigrationID)
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

// onInstance runs fn on the row of instance id under the store's lock: the
// prologue every instance operation shares. A missing instance is
// not_found.
func onInstance[T any](m *Memory, ctx context.Context, op string, id instancestate.ID, fn func(*InstanceRow) (T, error)) (T, error) {
	var zero T
	if err := m.lock(ctx); err != nil {
		return zero, err
	}
	defer m.mu.Unlock()
	row, err := m.instance(op, id)
	if err != nil {
		return zero, err
	}
	return fn(row)
}

package datastore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Tables holds rows of the three tables, deleted or not: what Memory.Load
// takes and Memory.Tables returns.
//
// A Tables is also the rows one operation works on, and its methods are
// the store's operations on them: the same rules Memory runs over its
// maps. Each finds the rows it needs in t — a row missing from t is a row
// the store does not have — decides, and changes them in place or appends
// the rows it inserts; a refusal, or a guard that held, changes nothing.
// So a store that keeps its rows elsewhere reads into a Tables the rows an
// operation looks at (each method's comment says which), runs the
// operation on it, and writes back, in the same transaction, the rows that
// differ from what it read. The PostgreSQL store does this: every guard
// has one home, and both stores answer alike by construction. Lookups scan
// t, which suits the few rows of one operation; a Tables is not safe for
// concurrent use, and its methods do not read their ctx.
type Tables struct {
	Instances  []InstanceRow
	VMMs       []VMMRow
	Migrations []MigrationRow
}

var _ interface {
	Records
	InstanceWrites
	UpdaterLock
	VMMWrites
	MigrationWrites
} = (*Tables)(nil)

// Validate checks every record of t as an insert checks it (D17, D21):
// the first that breaks a row rule is an ErrInvalidRequest *Error naming
// it. A store checks the rows it read with it before an operation runs on
// them.
func (t Tables) Validate() error { return t.validate("validate") }

func (t Tables) validate(op string) error {
	for _, r := range t.Instances {
		if err := r.Instance.Validate(); err != nil {
			return refusal(op, fmt.Errorf("instance %v: %w", r.Instance.ID, err))
		}
	}
	for _, r := range t.VMMs {
		if err := r.VMM.Validate(); err != nil {
			return refusal(op, fmt.Errorf("VMM %v: %w", r.VMM.ID, err))
		}
	}
	for _, r := range t.Migrations {
		if err := r.Migration.Validate(); err != nil {
			return refusal(op, fmt.Errorf("migration %v: %w", r.Migration.ID, err))
		}
	}
	return nil
}

// Load puts rows into m as they are, replacing a row of the same id. Every
// record is checked first (Tables.Validate): a record that breaks a row
// rule is an ErrInvalidRequest *Error naming it, and m is left as it was.
func (m *Memory) Load(ctx context.Context, t Tables) error {
	if err := t.validate("load"); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	for _, r := range t.Instances {
		m.instances[r.Instance.ID] = &r
	}
	for _, r := range t.VMMs {
		m.vmms[r.VMM.ID] = &r
	}
	for _, r := range t.Migrations {
		m.migrations[r.Migration.ID] = &r
	}
	m.reindexAll()
	return nil
}

// Tables returns a copy of every row of m, each table sorted by id.
func (m *Memory) Tables(ctx context.Context) (Tables, error) {
	if err := m.lock(ctx); err != nil {
		return Tables{}, err
	}
	defer m.mu.Unlock()
	t := Tables{
		Instances:  make([]InstanceRow, 0, len(m.instances)),
		VMMs:       make([]VMMRow, 0, len(m.vmms)),
		Migrations: make([]MigrationRow, 0, len(m.migrations)),
	}
	for _, r := range m.instances {
		t.Instances = append(t.Instances, *r)
	}
	for _, r := range m.vmms {
		t.VMMs = append(t.VMMs, *r)
	}
	for _, r := range m.migrations {
		t.Migrations = append(t.Migrations, *r)
	}
	byID(t.Instances, func(r InstanceRow) uuid.UUID { return r.Instance.ID.UUID() })
	byID(t.VMMs, func(r VMMRow) uuid.UUID { return r.VMM.ID.UUID() })
	byID(t.Migrations, func(r MigrationRow) uuid.UUID { return r.Migration.ID.UUID() })
	return t, nil
}

// byID sorts rows by their ids' bytes, the order of a UUID column.
func byID[R any](rows []R, id func(R) uuid.UUID) {
	slices.SortFunc(rows, func(a, b R) int {
		ua, ub := id(a), id(b)
		return bytes.Compare(ua[:], ub[:])
	})
}

// t is a rowSet over its slices.

func (t *Tables) instance(id instancestate.ID) *InstanceRow {
	return find(t.Instances, func(r *InstanceRow) bool { return r.Instance.ID == id })
}

func (t *Tables) vmm(id vmmstate.ID) *VMMRow {
	return find(t.VMMs, func(r *VMMRow) bool { return r.VMM.ID == id })
}

func (t *Tables) migration(id migration.ID) *MigrationRow {
	return find(t.Migrations, func(r *MigrationRow) bool { return r.Migration.ID == id })
}

func (t *Tables) migrationsOf(id instancestate.ID, fn func(*MigrationRow)) {
	for i := range t.Migrations {
		if t.Migrations[i].Migration.InstanceID == id {
			fn(&t.Migrations[i])
		}
	}
}

func (t *Tables) addInstance(r InstanceRow)   { t.Instances = append(t.Instances, r) }
func (t *Tables) addVMM(r VMMRow)             { t.VMMs = append(t.VMMs, r) }
func (t *Tables) addMigration(r MigrationRow) { t.Migrations = append(t.Migrations, r) }

// find returns the first row for which is holds, or nil.
func find[R any](rows []R, is func(*R) bool) *R {
	for i := range rows {
		if is(&rows[i]) {
			return &rows[i]
		}
	}
	return nil
}

// The operations on t's rows. Each needs in t the rows its comment names,
// deleted or not, where they exist.

// InstanceInsert implements Records on t, which holds the instance's row.
func (t *Tables) InstanceInsert(_ context.Context, in instancestate.Instance) (instancestate.Instance, error) {
	return instanceInsert(t, in)
}

// VMMInsert implements Records on t, which holds the VMM's row.
func (t *Tables) VMMInsert(_ context.Context, v vmmstate.VMM) (vmmstate.VMM, error) {
	return vmmInsert(t, v)
}

// MigrationInsert implements Records on t, which holds the migration's
// row.
func (t *Tables) MigrationInsert(_ context.Context, rec migration.Record) (migration.Record, error) {
	return migrationInsert(t, rec)
}

// InstanceFetchAll implements Records on t, which holds the instance and
// the rows it links.
func (t *Tables) InstanceFetchAll(_ context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	return instanceFetchAll(t, id)
}

// VMMFetch implements Records on t, which holds the VMM.
func (t *Tables) VMMFetch(_ context.Context, id vmmstate.ID) (VMMRow, error) {
	return vmmFetch(t, id)
}

// MigrationFetch implements Records on t, which holds the migration.
func (t *Tables) MigrationFetch(_ context.Context, id migration.ID) (MigrationRow, error) {
	return migrationFetch(t, id)
}

// InstanceListMigrations implements Records on t, which holds the
// instance and every migration of it not deleted.
func (t *Tables) InstanceListMigrations(_ context.Context, id instancestate.ID) ([]migration.ID, error) {
	return instanceListMigrations(t, id)
}

// InstanceUpdateRuntime implements InstanceWrites on t, which holds the
// instance and the VMMs and migration rt links.
func (t *Tables) InstanceUpdateRuntime(_ context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (Result, error) {
	return instanceUpdateRuntime(t, id, rt, intent)
}

// InstanceSetIntendedState implements InstanceWrites on t, which holds the
// instance.
func (t *Tables) InstanceSetIntendedState(_ context.Context, id instancestate.ID, intent instancestate.IntendedState) (Result, error) {
	return instanceSetIntendedState(t, id, intent)
}

// InstanceSetMigrationIDs implements InstanceWrites on t, which holds the
// instance and the rows it links.
func (t *Tables) InstanceSetMigrationIDs(_ context.Context, id instancestate.ID, p SetMigrationIDsArgs) (instancestate.Instance, error) {
	return instanceSetMigrationIDs(t, id, p)
}

// InstanceUnsetMigrationIDs implements InstanceWrites on t, which holds
// the instance.
func (t *Tables) InstanceUnsetMigrationIDs(_ context.Context, id instancestate.ID, p UnsetMigrationIDsArgs) (Result, error) {
	return instanceUnsetMigrationIDs(t, id, p)
}

// InstanceMarkAsStarting implements InstanceWrites on t, which holds the
// instance, the rows it links and the VMM p names.
func (t *Tables) InstanceMarkAsStarting(_ context.Context, id instancestate.ID, p MarkAsStartingArgs) (instancestate.Instance, error) {
	return instanceMarkAsStarting(t, id, p)
}

// InstanceRecordStartFailure implements InstanceWrites on t, which holds
// the instance.
func (t *Tables) InstanceRecordStartFailure(_ context.Context, id instancestate.ID, f failure.StartFailure) (Result, error) {
	return instanceRecordStartFailure(t, id, f)
}

// InstanceDelete implements InstanceWrites on t, which holds the instance,
// the rows it links and every migration of it not deleted.
func (t *Tables) InstanceDelete(_ context.Context, id instancestate.ID, now time.Time) (Result, error) {
	return instanceDelete(t, id, now)
}

// InstanceUpdaterLock implements UpdaterLock on t, which holds the
// instance.
func (t *Tables) InstanceUpdaterLock(_ context.Context, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error) {
	return instanceUpdaterLock(t, id, saga)
}

// InstanceUpdaterInheritLock implements UpdaterLock on t, which holds the
// instance.
func (t *Tables) InstanceUpdaterInheritLock(_ context.Context, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error) {
	return instanceUpdaterInheritLock(t, id, parent, child)
}

// InstanceUpdaterUnlock implements UpdaterLock on t, which holds the
// instance.
func (t *Tables) InstanceUpdaterUnlock(_ context.Context, id instancestate.ID, l instancestate.Lock) (Result, error) {
	return instanceUpdaterUnlock(t, id, l)
}

// InstanceCommitUpdate implements UpdaterLock on t, which holds the
// instance.
func (t *Tables) InstanceCommitUpdate(_ context.Context, id instancestate.ID, l instancestate.Lock, p instancestate.Plan) (Result, error) {
	return instanceCommitUpdate(t, id, l, p)
}

// VMMUpdateRuntime implements VMMWrites on t, which holds the VMM.
func (t *Tables) VMMUpdateRuntime(_ context.Context, id vmmstate.ID, rt vmmstate.Runtime) (Result, error) {
	return vmmUpdateRuntime(t, id, rt)
}

// VMMMarkFailed implements VMMWrites on t, which holds the VMM.
func (t *Tables) VMMMarkFailed(_ context.Context, id vmmstate.ID, reason failure.Reason, now time.Time) (Result, error) {
	return vmmMarkFailed(t, id, reason, now)
}

// VMMMarkSagaUnwound implements VMMWrites on t, which holds the VMM.
func (t *Tables) VMMMarkSagaUnwound(_ context.Context, id vmmstate.ID, now time.Time) (Result, error) {
	return vmmMarkSagaUnwound(t, id, now)
}

// VMMMarkDeleted implements VMMWrites on t, which holds the VMM and its
// instance.
func (t *Tables) VMMMarkDeleted(_ context.Context, id vmmstate.ID, now time.Time) (Result, error) {
	return vmmMarkDeleted(t, id, now)
}

// SledReport implements VMMWrites on t, which holds the VMM and the
// migrations the report names.
func (t *Tables) SledReport(_ context.Context, vmm vmmstate.ID, r instancestate.Report) (SledReportResult, error) {
	return sledReport(t, vmm, r)
}

// MigrationMarkFailed implements MigrationWrites on t, which holds the
// migration.
func (t *Tables) MigrationMarkFailed(_ context.Context, id migration.ID, now time.Time) (Result, error) {
	return migrationMarkFailed(t, id, now)
}

// MigrationMarkDeleted implements MigrationWrites on t, which holds the
// migration and its instance.
func (t *Tables) MigrationMarkDeleted(_ context.Context, id migration.ID, now time.Time) (Result, error) {
	return migrationMarkDeleted(t, id, now)
}

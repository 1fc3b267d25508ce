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
	mu      sync.Mutex
	memRows            // the three tables, each a map by id
	idx     fleetIndex // what the fleet queries read instead of the tables
	log     memSagaLog // the saga log (SagaLog), beside the records
	// reservations is the sleds' room (SledReservations), made on first use.
	reservations map[vmmstate.ID]Reservation
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{memRows: memRows{
		instances:  make(map[instancestate.ID]*InstanceRow),
		vmms:       make(map[vmmstate.ID]*VMMRow),
		migrations: make(map[migration.ID]*MigrationRow),
	}}
}

var _ Store = (*Memory)(nil)

func (m *Memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	return nil
}

// memRows is Memory's three tables: the rowSet its operations' rules run
// over.
type memRows struct {
	instances  map[instancestate.ID]*InstanceRow
	vmms       map[vmmstate.ID]*VMMRow
	migrations map[migration.ID]*MigrationRow
}

func (r *memRows) instance(id instancestate.ID) *InstanceRow { return r.instances[id] }
func (r *memRows) vmm(id vmmstate.ID) *VMMRow                { return r.vmms[id] }
func (r *memRows) migration(id migration.ID) *MigrationRow   { return r.migrations[id] }
func (r *memRows) addInstance(row InstanceRow)               { r.instances[row.Instance.ID] = &row }
func (r *memRows) addVMM(row VMMRow)                         { r.vmms[row.VMM.ID] = &row }
func (r *memRows) addMigration(row MigrationRow)             { r.migrations[row.Migration.ID] = &row }

func (r *memRows) migrationsOf(id instancestate.ID, fn func(*MigrationRow)) {
	for _, mg := range r.migrations {
		if mg.Migration.InstanceID == id {
			fn(mg)
		}
	}
}

// snapshot reads an instance with its linked records, deleted ones absent
// (§8.1 instance_fetch_all).
func (m *Memory) snapshot(row *InstanceRow) instancestate.Snapshot { return snapshot(&m.memRows, row) }

// Each operation runs its rule (rules.go) over the maps, under the lock;
// each write then marks the rows it may have changed for the fleet
// queries' index (memory_fleet.go).

// InstanceInsert implements Store.
func (m *Memory) InstanceInsert(ctx context.Context, in instancestate.Instance) (instancestate.Instance, error) {
	if err := m.lock(ctx); err != nil {
		return instancestate.Instance{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(in.ID)
	return instanceInsert(&m.memRows, in)
}

// VMMInsert implements Store.
func (m *Memory) VMMInsert(ctx context.Context, v vmmstate.VMM) (vmmstate.VMM, error) {
	if err := m.lock(ctx); err != nil {
		return vmmstate.VMM{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteVMM(v.ID)
	return vmmInsert(&m.memRows, v)
}

// MigrationInsert implements Store.
func (m *Memory) MigrationInsert(ctx context.Context, rec migration.Record) (migration.Record, error) {
	if err := m.lock(ctx); err != nil {
		return migration.Record{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteMigration(rec.ID)
	return migrationInsert(&m.memRows, rec)
}

// InstanceFetchAll implements Store.
func (m *Memory) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	if err := m.lock(ctx); err != nil {
		return instancestate.Snapshot{}, err
	}
	defer m.mu.Unlock()
	return instanceFetchAll(&m.memRows, id)
}

// VMMFetch implements Store.
func (m *Memory) VMMFetch(ctx context.Context, id vmmstate.ID) (VMMRow, error) {
	if err := m.lock(ctx); err != nil {
		return VMMRow{}, err
	}
	defer m.mu.Unlock()
	return vmmFetch(&m.memRows, id)
}

// MigrationFetch implements Store.
func (m *Memory) MigrationFetch(ctx context.Context, id migration.ID) (MigrationRow, error) {
	if err := m.lock(ctx); err != nil {
		return MigrationRow{}, err
	}
	defer m.mu.Unlock()
	return migrationFetch(&m.memRows, id)
}

// InstanceListMigrations implements Store.
func (m *Memory) InstanceListMigrations(ctx context.Context, id instancestate.ID) ([]migration.ID, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	return instanceListMigrations(&m.memRows, id)
}

// InstanceUpdateRuntime implements Store.
func (m *Memory) InstanceUpdateRuntime(ctx context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceUpdateRuntime(&m.memRows, id, rt, intent)
}

// InstanceSetIntendedState implements Store.
func (m *Memory) InstanceSetIntendedState(ctx context.Context, id instancestate.ID, intent instancestate.IntendedState) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceSetIntendedState(&m.memRows, id, intent)
}

// InstanceSetMigrationIDs implements Store.
func (m *Memory) InstanceSetMigrationIDs(ctx context.Context, id instancestate.ID, p SetMigrationIDsArgs) (instancestate.Instance, error) {
	if err := m.lock(ctx); err != nil {
		return instancestate.Instance{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceSetMigrationIDs(&m.memRows, id, p)
}

// InstanceUnsetMigrationIDs implements Store.
func (m *Memory) InstanceUnsetMigrationIDs(ctx context.Context, id instancestate.ID, p UnsetMigrationIDsArgs) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceUnsetMigrationIDs(&m.memRows, id, p)
}

// InstanceMarkAsStarting implements Store.
func (m *Memory) InstanceMarkAsStarting(ctx context.Context, id instancestate.ID, p MarkAsStartingArgs) (instancestate.Instance, error) {
	if err := m.lock(ctx); err != nil {
		return instancestate.Instance{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceMarkAsStarting(&m.memRows, id, p)
}

// InstanceRecordStartFailure implements Store.
func (m *Memory) InstanceRecordStartFailure(ctx context.Context, id instancestate.ID, f failure.StartFailure) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceRecordStartFailure(&m.memRows, id, f)
}

// InstanceDelete implements Store.
func (m *Memory) InstanceDelete(ctx context.Context, id instancestate.ID, now time.Time) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceDelete(&m.memRows, id, now)
}

// InstanceUpdaterLock implements Store.
func (m *Memory) InstanceUpdaterLock(ctx context.Context, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error) {
	if err := m.lock(ctx); err != nil {
		return instancestate.Lock{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceUpdaterLock(&m.memRows, id, saga)
}

// InstanceUpdaterInheritLock implements Store.
func (m *Memory) InstanceUpdaterInheritLock(ctx context.Context, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error) {
	if err := m.lock(ctx); err != nil {
		return instancestate.Lock{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceUpdaterInheritLock(&m.memRows, id, parent, child)
}

// InstanceUpdaterUnlock implements Store.
func (m *Memory) InstanceUpdaterUnlock(ctx context.Context, id instancestate.ID, l instancestate.Lock) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceUpdaterUnlock(&m.memRows, id, l)
}

// InstanceCommitUpdate implements Store.
func (m *Memory) InstanceCommitUpdate(ctx context.Context, id instancestate.ID, l instancestate.Lock, p instancestate.Plan) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteInstance(id)
	return instanceCommitUpdate(&m.memRows, id, l, p)
}

// VMMUpdateRuntime implements Store.
func (m *Memory) VMMUpdateRuntime(ctx context.Context, id vmmstate.ID, rt vmmstate.Runtime) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteVMM(id)
	return vmmUpdateRuntime(&m.memRows, id, rt)
}

// VMMMarkFailed implements Store.
func (m *Memory) VMMMarkFailed(ctx context.Context, id vmmstate.ID, reason failure.Reason, now time.Time) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteVMM(id)
	return vmmMarkFailed(&m.memRows, id, reason, now)
}

// VMMMarkSagaUnwound implements Store.
func (m *Memory) VMMMarkSagaUnwound(ctx context.Context, id vmmstate.ID, now time.Time) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteVMM(id)
	return vmmMarkSagaUnwound(&m.memRows, id, now)
}

// VMMMarkDeleted implements Store.
func (m *Memory) VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteVMM(id)
	return vmmMarkDeleted(&m.memRows, id, now)
}

// SledReport implements Store.
func (m *Memory) SledReport(ctx context.Context, vmm vmmstate.ID, r instancestate.Report) (SledReportResult, error) {
	if err := m.lock(ctx); err != nil {
		return SledReportResult{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteVMM(vmm)
	return sledReport(&m.memRows, vmm, r)
}

// MigrationMarkFailed implements Store.
func (m *Memory) MigrationMarkFailed(ctx context.Context, id migration.ID, now time.Time) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteMigration(id)
	return migrationMarkFailed(&m.memRows, id, now)
}

// MigrationMarkDeleted implements Store.
func (m *Memory) MigrationMarkDeleted(ctx context.Context, id migration.ID, now time.Time) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	defer m.wroteMigration(id)
	return migrationMarkDeleted(&m.memRows, id, now)
}

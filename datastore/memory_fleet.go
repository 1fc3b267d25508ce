package datastore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The in-memory store's fleet queries (FleetQueries): the lists the
// control plane's background tasks work from.

// fleetIndex is what the in-memory store keeps beside its tables so that a
// fleet query reads the rows that may be in its answer, not the fleet —
// which, soft-deleted rows included, only grows. Each set holds a superset
// of one query's answer, and a row's membership is a function of the
// records alone, never of the time: the query decides on the members at
// its own now what depends on it, exactly as a scan would. Every write marks the rows it may
// have changed (wrote), and the marks are taken up before the next query
// (reindex).
type fleetIndex struct {
	// plans: live instances whose update plan has work. Whether it has
	// work does not depend on the time — the time only stamps the plan
	// (instancestate.PlanUpdate) — so the query, at its now, asks only
	// for the lock.
	plans map[instancestate.ID]struct{}
	// down: live instances reincarnation says need a restart (Needs,
	// from the records alone); the query asks whether one is due at now.
	down map[instancestate.ID]struct{}
	// unmet: live instances whose intent their records say is unmet
	// (instancestate.IntentUnmet); the query asks Next at now.
	unmet map[instancestate.ID]struct{}
	// ended: VMMs not deleted in a destroyable state; the query asks
	// whether their instance still links them.
	ended map[vmmstate.ID]struct{}
	// onSled: VMMs not deleted in a state the watcher lists, by sled.
	onSled map[vmmstate.SledID]map[vmmstate.ID]struct{}
	// dirtyI and dirtyV are the rows written since the last reindex.
	dirtyI map[instancestate.ID]struct{}
	dirtyV map[vmmstate.ID]struct{}
}

// wroteInstance marks instance id for the index: a write may have changed
// its row, or a record its snapshot reads.
func (m *Memory) wroteInstance(id instancestate.ID) {
	if m.idx.dirtyI == nil {
		m.idx.dirtyI = make(map[instancestate.ID]struct{})
	}
	m.idx.dirtyI[id] = struct{}{}
}

// wroteVMM marks VMM id, and its instance, for the index.
func (m *Memory) wroteVMM(id vmmstate.ID) {
	if m.idx.dirtyV == nil {
		m.idx.dirtyV = make(map[vmmstate.ID]struct{})
	}
	m.idx.dirtyV[id] = struct{}{}
	if row := m.vmms[id]; row != nil {
		m.wroteInstance(row.VMM.InstanceID)
	}
}

// wroteMigration marks the instance of migration id for the index.
func (m *Memory) wroteMigration(id migration.ID) {
	if row := m.migrations[id]; row != nil {
		m.wroteInstance(row.Migration.InstanceID)
	}
}

// reindex takes up the rows written since it last ran. m.mu is held.
func (m *Memory) reindex() {
	for id := range m.idx.dirtyV {
		m.indexVMM(id)
	}
	clear(m.idx.dirtyV)
	for id := range m.idx.dirtyI {
		m.indexInstance(id)
	}
	clear(m.idx.dirtyI)
}

// indexInstance puts instance id in the sets its records say.
func (m *Memory) indexInstance(id instancestate.ID) {
	x := &m.idx
	if x.plans == nil {
		x.plans, x.down, x.unmet = make(map[instancestate.ID]struct{}), make(map[instancestate.ID]struct{}), make(map[instancestate.ID]struct{})
	}
	delete(x.plans, id)
	delete(x.down, id)
	delete(x.unmet, id)
	row := m.instances[id]
	if row == nil || !row.TimeDeleted.IsZero() {
		return
	}
	s := m.snapshot(row)
	// Any time serves: the answers asked of it do not depend on it, and
	// neither does whether the snapshot validates — a snapshot that does
	// not is in no query's answer.
	at := row.Instance.Runtime.TimeUpdated
	if _, required, err := instancestate.PlanUpdate(s, at); err == nil && required {
		x.plans[id] = struct{}{}
	}
	if r, err := instancestate.Reincarnate(s, at); err == nil && r.Needs {
		x.down[id] = struct{}{}
	}
	if instancestate.IntentUnmet(s) {
		x.unmet[id] = struct{}{}
	}
}

// indexVMM puts VMM id in the sets its row says.
func (m *Memory) indexVMM(id vmmstate.ID) {
	x := &m.idx
	if x.ended == nil {
		x.ended, x.onSled = make(map[vmmstate.ID]struct{}), make(map[vmmstate.SledID]map[vmmstate.ID]struct{})
	}
	row := m.vmms[id]
	if row == nil {
		return
	}
	delete(x.ended, id)
	sled := x.onSled[row.VMM.SledID]
	delete(sled, id)
	if !row.TimeDeleted.IsZero() {
		return
	}
	st := row.VMM.Runtime.State
	if st.IsDestroyable() {
		x.ended[id] = struct{}{}
	}
	if ListedBySled(st.Kind()) {
		if sled == nil {
			sled = make(map[vmmstate.ID]struct{})
			x.onSled[row.VMM.SledID] = sled
		}
		sled[id] = struct{}{}
	}
}

// reindexAll rebuilds the index from the tables (Load).
func (m *Memory) reindexAll() {
	m.idx = fleetIndex{}
	for id := range m.vmms {
		m.indexVMM(id)
	}
	for id := range m.instances {
		m.indexInstance(id)
	}
}

// FindInstancesNeedingUpdate implements Store: the live, unlocked instances
// whose update plan (§13.3, D11, D21) has work — at any time, now
// included: whether a plan has work is the records' alone (plans), so of
// those, the unlocked.
func (m *Memory) FindInstancesNeedingUpdate(ctx context.Context, _ time.Time) ([]instancestate.ID, error) {
	return m.findIndexed(ctx, func(x *fleetIndex) map[instancestate.ID]struct{} { return x.plans }, func(row *InstanceRow) bool {
		return !row.Instance.IsLocked()
	})
}

// FindReincarnatableInstances implements Store: exactly the instances whose
// reincarnation decision says will_reincarnate at now with the lock free
// (§17.2, D15, D22).
func (m *Memory) FindReincarnatableInstances(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	now = StoreTime(now)
	return m.findIndexed(ctx, func(x *fleetIndex) map[instancestate.ID]struct{} { return x.down }, func(row *InstanceRow) bool {
		r, err := instancestate.Reincarnate(m.snapshot(row), now)
		return err == nil && r.Should
	})
}

// FindInstancesToReconcile implements Store: exactly the live, unlocked
// instances whose Next at now says start or stop (D19). Those are among
// the instances whose intent the records say is unmet, whatever the time
// (unmet); Next at now says whether a rule before them — the update plan,
// a stalled migration, a restart — comes first.
func (m *Memory) FindInstancesToReconcile(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	now = StoreTime(now)
	return m.findIndexed(ctx, func(x *fleetIndex) map[instancestate.ID]struct{} { return x.unmet }, func(row *InstanceRow) bool {
		n, err := instancestate.Next(m.snapshot(row), now)
		return err == nil && (n.Action == instancestate.NextStart || n.Action == instancestate.NextStop)
	})
}

// findIndexed answers a fleet query of instances from the index: the
// members of the set it names, once the index has taken up every write,
// that keep says are in the answer, sorted by id.
func (m *Memory) findIndexed(ctx context.Context, set func(*fleetIndex) map[instancestate.ID]struct{}, keep func(*InstanceRow) bool) ([]instancestate.ID, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	m.reindex()
	var out []instancestate.ID
	for id := range set(&m.idx) {
		if keep(m.instances[id]) {
			out = append(out, id)
		}
	}
	return sortIDs(out), nil
}

// VMMListAbandoned implements Store: destroyable VMMs, not deleted, that
// their instance — deleted or not, as Omicron's query reads it — links
// neither as active nor as target (§8.2).
func (m *Memory) VMMListAbandoned(ctx context.Context) ([]vmmstate.ID, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	m.reindex()
	var out []vmmstate.ID
	for id := range m.idx.ended {
		row := m.vmms[id]
		if in, ok := m.instances[row.VMM.InstanceID]; ok && (in.Instance.Runtime.ActiveVMM == id || in.Instance.Runtime.TargetVMM == id) {
			continue
		}
		out = append(out, id)
	}
	return sortIDs(out), nil
}

// VMMListBySled implements Store: the VMMs on sled the instance watcher
// checks (ListedBySled), not deleted, of a live instance (§8.1, §18).
func (m *Memory) VMMListBySled(ctx context.Context, sled vmmstate.SledID) ([]vmmstate.ID, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	m.reindex()
	var out []vmmstate.ID
	for id := range m.idx.onSled[sled] {
		if in, ok := m.instances[m.vmms[id].VMM.InstanceID]; ok && in.TimeDeleted.IsZero() {
			out = append(out, id)
		}
	}
	return sortIDs(out), nil
}

// sortIDs sorts ids by their bytes, the order of a UUID column.
func sortIDs[ID interface{ UUID() uuid.UUID }](ids []ID) []ID {
	byID(ids, ID.UUID)
	return ids
}

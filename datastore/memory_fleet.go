package datastore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// The in-memory store's fleet queries (FleetQueries): the lists the
// control plane's background tasks work from.

// FindInstancesNeedingUpdate implements Store: the live, unlocked instances
// whose update plan (§13.3, D11, D21) has work at now.
func (m *Memory) FindInstancesNeedingUpdate(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	now = StoreTime(now)
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var out []instancestate.ID
	for id, row := range m.instances {
		if !row.TimeDeleted.IsZero() || row.Instance.IsLocked() {
			continue
		}
		if _, required, err := instancestate.PlanUpdate(m.snapshot(row), now); err == nil && required {
			out = append(out, id)
		}
	}
	return sortIDs(out), nil
}

// FindReincarnatableInstances implements Store: exactly the instances whose
// reincarnation decision says will_reincarnate at now with the lock free
// (§17.2, D15, D22).
func (m *Memory) FindReincarnatableInstances(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	now = StoreTime(now)
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var out []instancestate.ID
	for id, row := range m.instances {
		if !row.TimeDeleted.IsZero() {
			continue
		}
		if r, err := instancestate.Reincarnate(m.snapshot(row), now); err == nil && r.Should {
			out = append(out, id)
		}
	}
	return sortIDs(out), nil
}

// VMMListAbandoned implements Store: destroyable VMMs, not deleted, that
// their instance links neither as active nor as target (§8.2).
func (m *Memory) VMMListAbandoned(ctx context.Context) ([]vmmstate.ID, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var out []vmmstate.ID
	for id, row := range m.vmms {
		if !row.TimeDeleted.IsZero() || !row.VMM.Runtime.State.IsDestroyable() {
			continue
		}
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
	var out []vmmstate.ID
	for id, row := range m.vmms {
		if row.VMM.SledID != sled || !row.TimeDeleted.IsZero() || !ListedBySled(row.VMM.Runtime.State.Kind()) {
			continue
		}
		if in, ok := m.instances[row.VMM.InstanceID]; ok && in.TimeDeleted.IsZero() {
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

package datastore

import (
	"context"

	"github.com/vmlife/vmlife/vmmstate"
)

// The in-memory reservations (SledReservations): a map by VMM id under the
// store's one mutex, beside the VMMs, so that the leaked list reads both
// in one consistent snapshot.

var _ SledReservations = (*Memory)(nil)

// ReservationInsert implements SledReservations.
func (m *Memory) ReservationInsert(ctx context.Context, r Reservation) error {
	const op = "reservation_insert"
	if err := CheckReservation(op, r); err != nil {
		return err
	}
	r = StoreReservation(r)
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if stored, ok := m.reservations[r.VMM]; ok {
		return CheckReservationRetry(op, stored, r)
	}
	if m.reservations == nil {
		m.reservations = make(map[vmmstate.ID]Reservation)
	}
	m.reservations[r.VMM] = r
	return nil
}

// ReservationDelete implements SledReservations.
func (m *Memory) ReservationDelete(ctx context.Context, vmm vmmstate.ID) (Result, error) {
	if err := m.lock(ctx); err != nil {
		return Result{}, err
	}
	defer m.mu.Unlock()
	_, held := m.reservations[vmm]
	delete(m.reservations, vmm)
	return ReservationDeleted(held), nil
}

// ReservationListBySled implements SledReservations.
func (m *Memory) ReservationListBySled(ctx context.Context, sled vmmstate.SledID) ([]Reservation, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var out []Reservation
	for _, r := range m.reservations {
		if r.Sled == sled {
			out = append(out, r)
		}
	}
	SortReservations(out)
	return out, nil
}

// ReservationListLeaked implements SledReservations.
func (m *Memory) ReservationListLeaked(ctx context.Context) ([]vmmstate.ID, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var out []vmmstate.ID
	for id := range m.reservations {
		var row VMMRow
		stored, found := m.vmms[id]
		if found {
			row = *stored
		}
		if LeakedReservation(row, found) {
			out = append(out, id)
		}
	}
	return sortIDs(out), nil
}

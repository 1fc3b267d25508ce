package datastore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// SledReservations keeps the room each VMM holds on a sled as a record
// (Omicron's sled_resource_vmm), in the same store as the VMMs and the
// saga log, so that room never leaks with a dead process: the start and
// migrate sagas insert a reservation before they insert the VMM, their
// undo deletes it, and so does whoever marks the VMM deleted (the update
// saga's destroy step, the reaper). ReservationListLeaked finds the
// reservations nobody will release.
//
// An implementation is safe for concurrent use. storetest.RunReservations
// checks one against all of this.
type SledReservations interface {
	// ReservationInsert records r. An identical retry (the same record,
	// times as the store keeps them) is no error; another reservation
	// under the same VMM id is ErrConflict (D29), nothing written. A
	// reservation without its VMM, instance, sled or creation time is
	// ErrInvalidRequest naming the field (CheckReservation).
	ReservationInsert(ctx context.Context, r Reservation) error
	// ReservationDelete releases vmm's reservation. Releasing what is not
	// held is not applied, ReasonUnchanged, and no error: an undo or a
	// reaper run again changes nothing.
	ReservationDelete(ctx context.Context, vmm vmmstate.ID) (Result, error)
	// ReservationListBySled lists the reservations on sled, by VMM id.
	ReservationListBySled(ctx context.Context, sled vmmstate.SledID) ([]Reservation, error)
	// ReservationListLeaked lists the VMMs, by id, whose reservation is
	// held while their VMM record is deleted or absent (LeakedReservation).
	ReservationListLeaked(ctx context.Context) ([]vmmstate.ID, error)
}

// Reservation is the room one VMM holds on a sled (a row of Omicron's
// sled_resource_vmm, without the amounts: vmlife counts room in VMMs).
type Reservation struct {
	VMM         vmmstate.ID // the key: one reservation per VMM
	Instance    instancestate.ID
	Sled        vmmstate.SledID
	TimeCreated time.Time
}

// The reservations' guards, pure functions as the saga log's are: every
// store calls these, so that each rule has one home. Each takes op, the
// operation as `vmlife script` names it, for the refusal it returns.

// StoreReservation returns r as a store keeps it: its time as StoreTime
// makes it.
func StoreReservation(r Reservation) Reservation {
	r.TimeCreated = StoreTime(r.TimeCreated)
	return r
}

// CheckReservation refuses a reservation no saga makes (ReservationInsert):
// ErrInvalidRequest, naming the field that is missing.
func CheckReservation(op string, r Reservation) error {
	switch {
	case r.VMM.IsZero():
		return refuse(op, KindInvalidRequest, "a reservation needs its VMM (id)")
	case r.Instance.IsZero():
		return refuse(op, KindInvalidRequest, "reservation for VMM %v: no instance (instance_id)", r.VMM)
	case r.Sled.IsZero():
		return refuse(op, KindInvalidRequest, "reservation for VMM %v: no sled (sled_id)", r.VMM)
	case r.TimeCreated.IsZero():
		return refuse(op, KindInvalidRequest, "reservation for VMM %v: no creation time (time_created)", r.VMM)
	}
	return nil
}

// CheckReservationRetry answers ReservationInsert of r under a VMM id
// stored already holds: nil when stored is r (an idempotent retry, times as
// the store keeps them), else ErrConflict (D29).
func CheckReservationRetry(op string, stored, r Reservation) error {
	r = StoreReservation(r)
	if stored.VMM == r.VMM && stored.Instance == r.Instance && stored.Sled == r.Sled && stored.TimeCreated.Equal(r.TimeCreated) {
		return nil
	}
	return refuse(op, KindConflict, "VMM %v already holds another reservation, on sled %v (D29)", r.VMM, stored.Sled)
}

// ReservationDeleted is the answer of ReservationDelete: applied when held
// says a reservation was there to release, else ReasonUnchanged.
func ReservationDeleted(held bool) Result {
	if held {
		return applied()
	}
	return notApplied(ReasonUnchanged)
}

// LeakedReservation is ReservationListLeaked's rule: a reservation is
// leaked when its VMM's row is absent (found false) or soft-deleted.
func LeakedReservation(vmm VMMRow, found bool) bool {
	return !found || !vmm.TimeDeleted.IsZero()
}

// SortReservations sorts reservations by VMM id, the order the lists
// answer in.
func SortReservations(rs []Reservation) {
	byID(rs, func(r Reservation) uuid.UUID { return r.VMM.UUID() })
}

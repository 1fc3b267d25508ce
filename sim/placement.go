package sim

import (
	"context"

	"fmt"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// constraintKind is a user's placement constraint on an instance; each
// gives its own permanent start-failure cause when it cannot be met (D13).
type constraintKind uint8

const (
	constraintNone constraintKind = iota
	// constraintAffinity: the instance must run on the sled in slot.
	constraintAffinity
	// constraintAntiAffinity: the instance must not run on the sled in
	// slot (where a member of its anti-affinity group runs).
	constraintAntiAffinity
	// constraintLocalStorage: the instance's local disk is on the sled in
	// slot, so it can run only there, and not at all while that sled is
	// off or expunged.
	constraintLocalStorage

	numConstraintKinds = 3
)

// placement is an instance's constraint and the sled slot it names.
type placement struct {
	kind constraintKind
	slot int
}

func (p placement) String() string {
	switch p.kind {
	case constraintAffinity:
		return fmt.Sprintf("affinity to slot %d", p.slot)
	case constraintAntiAffinity:
		return fmt.Sprintf("anti-affinity to slot %d", p.slot)
	case constraintLocalStorage:
		return fmt.Sprintf("local storage on slot %d", p.slot)
	}
	return "none"
}

// unsatisfiable is the permanent cause a constraint gives when no sled
// meets it (D13).
func (p placement) unsatisfiable() failure.Cause {
	switch p.kind {
	case constraintAffinity:
		return failure.CauseAffinityUnsatisfiable
	case constraintAntiAffinity:
		return failure.CauseAntiAffinityUnsatisfiable
	case constraintLocalStorage:
		return failure.CauseLocalStorageUnavailable
	}
	return failure.CauseInsufficientCapacity
}

// allows reports whether the constraint lets the instance run on sl.
func (p placement) allows(sl *sled) bool {
	switch p.kind {
	case constraintAffinity, constraintLocalStorage:
		return sl.slot == p.slot
	case constraintAntiAffinity:
		return sl.slot != p.slot
	}
	return true
}

// place is the start saga's ALLOC_SERVER (§14): the in-service sleds with
// room that p allows, or the cause of a start that cannot be placed. Under
// FaultStartPermanent a constrained instance also finds its constraint
// unsatisfiable now and then — its group's other members fill the sleds it
// may use — so that the permanent causes occur at a useful rate in any
// world, not only when a sled is full or down.
func (w *World) place(p placement) ([]*sled, failure.Cause) {
	if p.kind != constraintNone && w.fault(FaultStartPermanent) && w.chance(4) {
		w.stats.Faults[FaultStartPermanent]++
		return nil, p.unsatisfiable()
	}
	var cands []*sled
	allowedUp := false // an in-service sled the constraint allows exists
	for _, sl := range w.sleds {
		if !p.allows(sl) {
			continue
		}
		if sl.inService() {
			allowedUp = true
		}
		if sl.inService() && sl.free() > 0 {
			cands = append(cands, sl)
		}
	}
	switch {
	case len(cands) > 0:
		return cands, 0
	case p.kind == constraintLocalStorage && allowedUp:
		// The disk's sled is up but full: capacity, not the disk.
		return nil, failure.CauseInsufficientCapacity
	case p.kind != constraintNone:
		w.stats.Faults[FaultStartPermanent]++
		return nil, p.unsatisfiable()
	}
	return nil, failure.CauseInsufficientCapacity
}

// sledRoom is the world's table of sled reservations as package sagas
// uses it (sagas.Sleds). A VMM's reservation is found by its id whether or
// not its record exists yet.
type sledRoom World

// Reserve implements sagas.Sleds: ALLOC_SERVER under the instance's
// placement constraint (place).
func (r *sledRoom) Reserve(_ context.Context, instance instancestate.ID, vmm vmmstate.ID) (vmmstate.SledID, error) {
	w := (*World)(r)
	if sl := w.heldOn[vmm]; sl != nil {
		return sl.id, nil
	}
	in := w.instByID[instance]
	if in == nil {
		return vmmstate.SledID{}, &sagas.PlacementError{Cause: failure.CauseInternal}
	}
	cands, cause := w.place(in.placement)
	if cause != 0 {
		return vmmstate.SledID{}, &sagas.PlacementError{Cause: cause}
	}
	sl := cands[w.intn(len(cands))]
	if err := w.reserve(sl, instance, vmm); err != nil {
		return vmmstate.SledID{}, err
	}
	return sl.id, nil
}

// ReserveOn implements sagas.Sleds: a migration's destination must be in
// service with room.
func (r *sledRoom) ReserveOn(_ context.Context, instance instancestate.ID, sled vmmstate.SledID, vmm vmmstate.ID) error {
	w := (*World)(r)
	sl := w.sledByID(sled)
	switch {
	case sl != nil && w.heldOn[vmm] == sl:
		return nil
	case sl == nil || !sl.inService() || sl.free() <= 0:
		return &sagas.PlacementError{Cause: failure.CauseInsufficientCapacity}
	}
	return w.reserve(sl, instance, vmm)
}

// Release implements sagas.Sleds. The world reads the VMM back after the
// call into the control plane (readBack): whoever released its room — the
// reaper, an update saga's destroy step — may have deleted it.
func (r *sledRoom) Release(_ context.Context, vmm vmmstate.ID) error {
	w := (*World)(r)
	w.answered(vmm)
	return w.release(vmm)
}

// reserve takes room for vmm on sl: a reservation record first, in a
// store that keeps them (Omicron's sled_resource_vmm, so that room never
// leaks with a dead process), then the sled's slot.
func (w *World) reserve(sl *sled, instance instancestate.ID, vmm vmmstate.ID) error {
	if w.rsv != nil {
		err := w.rsv.ReservationInsert(w.ctx, datastore.Reservation{VMM: vmm, Instance: instance, Sled: sl.id, TimeCreated: w.now})
		if err != nil {
			return err
		}
	}
	sl.reserve(vmm)
	w.heldOn[vmm] = sl
	return nil
}

// release drops vmm's reservation, wherever it is held, and its record.
func (w *World) release(vmm vmmstate.ID) error {
	if w.rsv != nil {
		if _, err := w.rsv.ReservationDelete(w.ctx, vmm); err != nil {
			return err
		}
	}
	if sl := w.heldOn[vmm]; sl != nil {
		sl.release(vmm)
		delete(w.heldOn, vmm)
	}
	return nil
}

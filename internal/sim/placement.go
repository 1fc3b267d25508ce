package sim

import (
	"fmt"

	"github.com/vmlife/vmlife/failure"
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

package vmmstate

// kindSet is a set of kinds, one bit per kind.
type kindSet uint16

func setOf(ks ...Kind) kindSet {
	var s kindSet
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

func (s kindSet) has(k Kind) bool { return k.IsValid() && s&(1<<k) != 0 }

// The lifecycle phases of D7 move only forward:
//
//	creating → {starting, running, rebooting, migrating} → stopping → stopped → {failed, destroyed}
//
// The four active kinds move freely among themselves, a phase may be skipped
// (a report can arrive late), nothing re-enters creating, nothing leaves
// stopping or stopped backward, and failed and destroyed are absorbing (D6).
// saga_unwound is entered from any non-terminal kind, only by the control
// plane (Transition, never Observe), and left only for failed or destroyed.
var (
	active      = setOf(KindStarting, KindRunning, KindRebooting, KindMigrating)
	halted      = setOf(KindFailed, KindDestroyed)
	fromStopped = halted | setOf(KindSagaUnwound)
	fromStop    = setOf(KindStopped) | fromStopped
	fromActive  = active | setOf(KindStopping) | fromStop
)

// edges is the edge table of D7: edges[from] holds every kind a VMM may move
// to from a different kind. Staying in the same kind is not an edge: it is
// "unchanged" for Transition and a newer observation of the same state for
// Observe.
var edges = [...]kindSet{
	KindCreating:    fromActive,
	KindStarting:    fromActive &^ setOf(KindStarting),
	KindRunning:     fromActive &^ setOf(KindRunning),
	KindRebooting:   fromActive &^ setOf(KindRebooting),
	KindMigrating:   fromActive &^ setOf(KindMigrating),
	KindStopping:    fromStop,
	KindStopped:     fromStopped,
	KindSagaUnwound: halted,
	KindFailed:      0,
	KindDestroyed:   0,
}

// CanTransition reports whether the edge table (D7) has an edge from one kind
// to a different one. It is false for from == to and for invalid kinds.
func CanTransition(from, to Kind) bool {
	if !from.IsValid() || from == to {
		return false
	}
	return edges[from].has(to)
}

// Successors returns the kinds reachable from k in one edge, in declaration
// order: the row of the edge table (D7) that the docs and diagrams print.
func Successors(k Kind) []Kind {
	var out []Kind
	for _, to := range AllKinds() {
		if CanTransition(k, to) {
			out = append(out, to)
		}
	}
	return out
}

// ReportableSuccessors returns the successors of k that a sled-agent report
// may reach (Observe); the others are reached only by the control plane
// (Transition into saga_unwound).
func ReportableSuccessors(k Kind) []Kind {
	var out []Kind
	for _, to := range Successors(k) {
		if to.IsReportable() {
			out = append(out, to)
		}
	}
	return out
}

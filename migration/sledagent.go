package migration

import (
	"time"

	"github.com/vmlife/vmlife/generation"
)

// This file holds the sled-agent's side of §3.5: how the sled-agent that
// runs a VMM keeps the Report it will send for each side the VMM takes part
// in. Nexus never runs these; the simulator and the property tests use them
// to produce report sequences a real sled-agent could produce.

// firstReported is the generation a sled-agent gives a side it had no record
// of: one ahead of the database's initial 1, so that the first report is
// newer than the row the migrate saga inserted (§3.5).
var firstReported = generation.Of(2)

// Registered returns the migration_in a sled-agent holds for a VMM
// registered as the target of migration id (§3.5): pending, at the initial
// generation 1, stamped now. Its generation is not newer than the record's,
// so applying it is Stale: it only says the target knows the migration.
func Registered(id ID, now time.Time) Report {
	return Report{MigrationID: id, State: Pending, Generation: generation.Initial(), TimeUpdated: now}
}

// Fold folds one Propolis observation of a migration (its id and the State
// the sled-agent maps it to) into the side the sled-agent currently holds,
// cur, which it has only when have is true (§3.5). It returns the new side
// and whether it changed (and so must be reported):
//
//   - no side yet (have false): {id, observed, generation 2, now}, changed;
//   - a different migration id: replaced by {id, observed, generation 2,
//     now}, changed — a new migration starts its own generations;
//   - the same id and state: cur, unchanged;
//   - the same id, cur terminal: cur, unchanged. §3.5 would move it and bump
//     the generation; vmlife keeps the first outcome (D6), as Apply does;
//   - the same id, along an edge of the state table: the observed state at
//     generation+1, stamped now (D5), changed.
//
// A nil id or an invalid observed or current state is an *Error matching
// ErrInvalidID or ErrInvalidState; moving back to pending is
// ErrIllegalTransition; a generation past the largest is
// generation.ErrOverflow. On error cur is returned unchanged.
func Fold(cur Report, have bool, id ID, observed State, now time.Time) (Report, bool, error) {
	switch {
	case id.IsZero():
		return cur, false, &Error{Field: "migration_id", Got: "nil UUID", Want: "a migration id", Err: ErrInvalidID}
	case !observed.IsValid():
		return cur, false, &Error{Field: "state", Got: observed.String(), Want: stateNames(), Err: ErrInvalidState}
	case !have || cur.MigrationID != id:
		return Report{MigrationID: id, State: observed, Generation: firstReported, TimeUpdated: now}, true, nil
	case !cur.State.IsValid():
		return cur, false, &Error{Field: "state", Got: cur.State.String(), Want: stateNames(), Err: ErrInvalidState}
	case cur.State == observed, cur.State.IsTerminal():
		return cur, false, nil
	case !CanTransition(cur.State, observed):
		return cur, false, &Error{Field: "state", Got: observed.String(),
			Want: "a successor of " + cur.State.String() + ": " + stateList(Successors(cur.State)), Err: ErrIllegalTransition}
	}
	return cur.moveTo(observed, now)
}

// Halt is what a sled-agent does to a side when its VMM halts — is observed
// destroyed or failed, or is forced to either (§3.5): a side still in flight
// (pending or in_progress) fails at generation+1, stamped now, changed; a
// terminal side keeps its outcome and generation, unchanged. Call it for
// each side the VMM holds after an observation whose VMM state is terminal
// (vmmstate.SledAgentState.IsTerminal).
//
// An invalid cur state is an *Error matching ErrInvalidState, and a
// generation past the largest generation.ErrOverflow; on error cur is
// returned unchanged.
func Halt(cur Report, now time.Time) (Report, bool, error) {
	switch {
	case !cur.State.IsValid():
		return cur, false, &Error{Field: "state", Got: cur.State.String(), Want: stateNames(), Err: ErrInvalidState}
	case cur.State.IsTerminal():
		return cur, false, nil
	}
	return cur.moveTo(Failed, now)
}

// moveTo is the generation discipline of D5 for a sled-agent's side.
func (r Report) moveTo(s State, now time.Time) (Report, bool, error) {
	g, err := r.Generation.Next()
	if err != nil {
		return r, false, &Error{Field: "gen", Got: r.Generation.String(), Want: "a generation below the largest", Err: generation.ErrOverflow}
	}
	return Report{MigrationID: r.MigrationID, State: s, Generation: g, TimeUpdated: now}, true, nil
}

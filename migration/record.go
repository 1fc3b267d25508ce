package migration

import (
	"fmt"
	"time"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// Side is one side of a migration record (§5.4, §6.8): the VMM on that side
// and the runtime its sled-agent last reported. Its generation is owned by
// that sled-agent; Nexus advances it only by MarkFailed (§8.3).
type Side struct {
	VMM         vmmstate.ID           // column source_propolis_id / target_propolis_id
	State       State                 // column source_state / target_state
	Generation  generation.Generation // column source_gen / target_gen
	TimeUpdated time.Time             // column time_source_updated / time_target_updated; zero (NULL) until first written
}

// IsTerminal reports whether the side has an outcome: completed or failed.
func (s Side) IsTerminal() bool { return s.State.IsTerminal() }

// String returns "<vmm> in_progress@3".
func (s Side) String() string {
	return s.VMM.String() + " " + s.State.String() + "@" + s.Generation.String()
}

// Record is a migration row (§5.4, §6.8): one attempt to move an instance
// from a source VMM to a target VMM, with each side's state kept apart
// because each is owned by a different sled-agent (§0). It is a comparable
// value; operations return a new Record and never modify the receiver (D2).
type Record struct {
	ID          ID                  // column id
	InstanceID  vmmstate.InstanceID // column instance_id
	Source      Side                // the VMM migrating out
	Target      Side                // the VMM migrating in
	TimeCreated time.Time           // column time_created
}

// New returns the record a migrate saga inserts (§6.8, §15): both sides
// pending at the initial generation 1, neither updated yet, created now.
func New(id ID, instance vmmstate.InstanceID, source, target vmmstate.ID, now time.Time) Record {
	return Record{
		ID:          id,
		InstanceID:  instance,
		Source:      Side{VMM: source, State: Pending, Generation: generation.Initial()},
		Target:      Side{VMM: target, State: Pending, Generation: generation.Initial()},
		TimeCreated: now,
	}
}

// Side returns the side that plays role; an invalid role gives the zero Side.
func (r Record) Side(role Role) Side {
	switch role {
	case Source:
		return r.Source
	case Target:
		return r.Target
	}
	return Side{}
}

func (r *Record) side(role Role) *Side {
	if role == Source {
		return &r.Source
	}
	return &r.Target
}

// IsTerminal reports whether either side is terminal (§6.8): the migration
// has an outcome the instance-update saga must act on (§13.3), although the
// other side may not have reported it yet.
func (r Record) IsTerminal() bool {
	// Through the states, not Side.IsTerminal, which would copy each side.
	return r.Source.State.IsTerminal() || r.Target.State.IsTerminal()
}

// EitherSideFailed reports whether either side is failed (§6.8). It takes
// precedence over EitherSideCompleted when both hold (§13.3 step 3).
func (r Record) EitherSideFailed() bool { return r.Source.State == Failed || r.Target.State == Failed }

// EitherSideCompleted reports whether either side is completed (§6.8).
func (r Record) EitherSideCompleted() bool {
	return r.Source.State == Completed || r.Target.State == Completed
}

// Validate reports the first field of r that no stored migration could
// have, as an *Error matching ErrInvalidRecord: a nil id, instance id or
// side VMM id; the same VMM on both sides (a VMM cannot migrate to itself,
// §8.2 step 1); an invalid side state; or a side at generation 0 (sides are
// inserted at 1 and only move forward, §5.4, D5). Times are not checked: a
// zero side time is the database's NULL.
func (r Record) Validate() error { return r.validate() }

func (r *Record) validate() error {
	switch {
	case r.ID.IsZero():
		return &Error{Field: "id", Got: "nil UUID", Want: "a migration id", Err: ErrInvalidRecord}
	case r.InstanceID.IsZero():
		return &Error{Field: "instance_id", Got: "nil UUID", Want: "the migrating instance's id", Err: ErrInvalidRecord}
	}
	if err := r.Source.validate(Source); err != nil {
		return err
	}
	if err := r.Target.validate(Target); err != nil {
		return err
	}
	if r.Source.VMM == r.Target.VMM {
		return &Error{Role: Target, Field: "target_propolis_id", Got: r.Target.VMM.String(),
			Want: "a VMM other than source_propolis_id", Err: ErrInvalidRecord}
	}
	return nil
}

func (s *Side) validate(role Role) error {
	switch {
	case s.VMM.IsZero():
		return &Error{Role: role, Field: role.row().vmmColumn, Got: "nil UUID", Want: "a VMM id", Err: ErrInvalidRecord}
	case !s.State.IsValid():
		return &Error{Role: role, Field: role.row().stateColumn, Got: s.State.String(), Want: stateNames(), Err: ErrInvalidRecord}
	}
	return nil
}

// String returns a short description for logs:
// "migration <id>: source <vmm> in_progress@2 → target <vmm> pending@1".
func (r Record) String() string {
	return fmt.Sprintf("migration %v: source %v → target %v", r.ID, r.Source, r.Target)
}

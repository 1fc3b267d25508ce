package instancestate

import (
	"fmt"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// MarkAsStarting is the start saga's step that links its new VMM to the
// instance (§14). vmm is the record the saga inserted. Its preconditions,
// on the snapshot re-read by the saga:
//
//   - vmm is already the active VMM: done before (the step is replayed), the
//     instance is returned unchanged;
//   - otherwise vmm must still be creating — a replayed step must not link a
//     VMM that has since failed, been destroyed or unwound — and the instance
//     must still be intended to run: a start that lost a race with a stop or
//     a guest shutdown must not bring the instance back (every start path
//     writes intent running first, §10.1);
//   - no active VMM, or a saga_unwound one (which the new VMM replaces, D10):
//     the instance becomes vmm with vmm active, at generation+1, stamped now,
//     and with time_last_auto_restarted = now when the reason is
//     auto_restart (the only start that sets it, §10.3);
//   - any other active VMM, or an instance created or deleted meanwhile:
//     a *ConflictError (409, ErrConflict).
//
// The target and migration ids are left as they are (§14), except that
// replacing an unwound VMM also unlinks a migration it was the source of
// (D17: the new VMM is no side of it).
func MarkAsStarting(s Snapshot, vmm vmmstate.VMM, reason failure.StartReason, now time.Time) (Instance, error) {
	if err := s.validate(); err != nil {
		return s.Instance, err
	}
	if err := vmm.Validate(); err != nil {
		return s.Instance, &RuleError{Rule: RuleValidFields, Field: "vmm", Detail: err.Error(), Err: err}
	}
	if vmm.InstanceID != s.Instance.ID {
		return s.Instance, broken(RuleIDsAgree, "vmm.instance_id", "%v, but the instance is %v", vmm.InstanceID, s.Instance.ID)
	}
	if !reason.IsValid() {
		return s.Instance, &RuleError{Rule: "start reason is user, auto_start or auto_restart", Field: "reason", Detail: reason.String()}
	}
	in := s.Instance
	conflict := func(format string, args ...any) error {
		return &ConflictError{Op: "mark as starting", Message: fmt.Sprintf(format, args...), Status: 409, Err: ErrConflict}
	}
	switch {
	case in.Runtime.ActiveVMM == vmm.ID:
		return in, nil
	case vmm.Runtime.State != vmmstate.Creating:
		return in, conflict("VMM %v is %v: only a VMM still being created can be started", vmm.ID, vmm.Runtime.State)
	case in.IntendedState != IntendRunning:
		return in, conflict("instance is no longer intended to run (intended state %v)", in.IntendedState)
	case s.hasActive() && s.Active.Runtime.State != vmmstate.SagaUnwound,
		// Created or deleted meanwhile: neither creating nor destroyed has
		// an edge into vmm (NexusMoves).
		in.Runtime.State != NexusVMM && !CanMove(in.Runtime.State, NexusVMM):
		return in, conflict("instance changed state before it could be started")
	}
	rt, err := in.Runtime.next(now)
	if err != nil {
		return in, overflowed("state_generation", err)
	}
	if rt.ActiveVMM != (vmmstate.ID{}) && !rt.MigrationID.IsZero() {
		// Replacing an unwound VMM that a migration names as its source:
		// the new VMM is no side of that migration, which can never finish,
		// so it is unlinked with the VMM it belonged to (D17). §14 keeps
		// the ids, leaving an instance whose migration runs elsewhere.
		rt.TargetVMM, rt.MigrationID = vmmstate.ID{}, migration.ID{}
	}
	rt.State, rt.ActiveVMM = NexusVMM, vmm.ID
	if reason == failure.StartReasonAutoRestart {
		rt.TimeLastAutoRestarted = now
	}
	in.Runtime = rt
	in.VMMLost = VMMLost{} // D22: it has a VMM again
	return in, nil
}

// UnwindStart is the start saga's undo of MarkAsStarting (§14): the instance
// goes back to no_vmm with no active VMM, at the next generation after the
// one the saga wrote (started). When the instance has moved on since, the
// undo does not apply (the generation guard fails, §14) and the instance is
// returned unchanged with applied false: it keeps a linked VMM, which the
// saga marks saga_unwound and the update plan unlinks (D11).
func UnwindStart(in Instance, started Instance, now time.Time) (Instance, bool, error) {
	if in.Runtime != started.Runtime {
		return in, false, nil
	}
	rt, err := in.Runtime.next(now)
	if err != nil {
		return in, false, overflowed("state_generation", err)
	}
	rt.State, rt.ActiveVMM = NexusNoVMM, vmmstate.ID{}
	// A target or migration the start saga never set cannot be linked to an
	// instance with no VMM (D17).
	rt.TargetVMM, rt.MigrationID = vmmstate.ID{}, migration.ID{}
	in.Runtime = rt
	return in, true, nil
}

// SetMigrationIDs is the migrate saga's step that links a migration and its
// target VMM to the instance (§8.1). It applies when the instance still runs
// on src, src is running or rebooting, and either no migration is linked,
// the same ids are (a retry: the instance is returned unchanged), or the
// linked target VMM's saga unwound and its migration failed on both sides
// (an earlier migrate saga's leftovers, which this one replaces). The new
// runtime is at generation+1, stamped now. Anything else is a
// *ConflictError (409, "another migration is already in progress").
func SetMigrationIDs(s Snapshot, src vmmstate.ID, id migration.ID, target vmmstate.ID, now time.Time) (Instance, error) {
	if err := s.validate(); err != nil {
		return s.Instance, err
	}
	in := s.Instance
	rt := in.Runtime
	conflict := &ConflictError{Op: "set migration ids", Message: "another migration is already in progress", Status: 409, Err: ErrConflict}
	switch {
	case id.IsZero() || target.IsZero():
		return in, &RuleError{Rule: "a migration links a migration id and a target VMM", Field: "migration_id", Detail: "nil UUID"}
	case rt.ActiveVMM != src || !s.hasActive():
		return in, conflict
	case s.Active.Runtime.State != vmmstate.Running && s.Active.Runtime.State != vmmstate.Rebooting:
		return in, conflict
	case rt.MigrationID == id && rt.TargetVMM == target:
		return in, nil // §8.1 (b): an idempotent retry
	case rt.MigrationID.IsZero() && rt.TargetVMM.IsZero():
		// §8.1 (a)
	case s.hasTarget() && s.Target.Runtime.State == vmmstate.SagaUnwound &&
		s.hasMigration() && s.Migration.Source.State == migration.Failed && s.Migration.Target.State == migration.Failed:
		// §8.1 (c): clobber an unwound migrate saga's leftovers.
	default:
		return in, conflict
	}
	next, err := rt.next(now)
	if err != nil {
		return in, overflowed("state_generation", err)
	}
	next.MigrationID, next.TargetVMM = id, target
	in.Runtime = next
	return in, nil
}

// Delete is the delete saga's step that marks the instance destroyed (§8.1):
// allowed only with no active VMM and state no_vmm or failed; idempotent on
// an instance already destroyed. Other states are a *ConflictError with the
// API's status and message (400). The new runtime is at generation+1.
func Delete(s Snapshot, now time.Time) (Instance, error) {
	if err := s.validate(); err != nil {
		return s.Instance, err
	}
	d := s.decideDelete()
	switch d.Action {
	case ActionAlreadyDone:
		return s.Instance, nil
	case ActionReject:
		return s.Instance, &ConflictError{Op: "delete", Message: d.Message, Status: d.Status, Err: ErrConflict}
	}
	in := s.Instance
	rt, err := in.Runtime.next(now)
	if err != nil {
		return in, overflowed("state_generation", err)
	}
	rt.State = NexusDestroyed
	in.Runtime = rt
	in.IntendedState = IntendDestroyed
	return in, nil
}

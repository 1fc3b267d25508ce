package instancestate

import (
	"time"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// NetworkAction says what to do with the instance's network configuration
// (NAT, V2P mappings) when an update is committed (§13.3). The zero value
// means "leave it".
type NetworkAction uint8

// The network actions.
const (
	// NetworkUnchanged, the zero value, leaves the configuration as it is.
	// It is not one of the actions a plan takes (IsValid is false).
	NetworkUnchanged NetworkAction = iota
	NetworkUpdate                  // point the configuration at Network.VMM on Network.Sled
	NetworkDelete                  // the instance has no VMM: remove it
)

var networkActions = enum.New[NetworkAction]("instancestate.NetworkAction", false, "update", "delete")

// AllNetworkActions returns the two network actions in declaration order.
func AllNetworkActions() []NetworkAction { return networkActions.All() }

// IsValid reports whether a is update or delete.
func (a NetworkAction) IsValid() bool { return networkActions.Valid(a) }

// String returns "update", "delete", or "instancestate.NetworkAction(n)".
func (a NetworkAction) String() string { return networkActions.String(a) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (a NetworkAction) GoString() string { return networkActions.GoString(a) }

// MarshalText implements encoding.TextMarshaler.
func (a NetworkAction) MarshalText() ([]byte, error) { return networkActions.Append(nil, a) }

// AppendText implements encoding.TextAppender.
func (a NetworkAction) AppendText(b []byte) ([]byte, error) { return networkActions.Append(b, a) }

// UnmarshalText implements encoding.TextUnmarshaler; on error a is unchanged.
func (a *NetworkAction) UnmarshalText(b []byte) error { return unmarshal(networkActions, a, b) }

// Network is the network step of a plan. Its zero value means no change.
type Network struct {
	Action NetworkAction
	VMM    vmmstate.ID     // NetworkUpdate: the VMM now running the instance
	Sled   vmmstate.SledID // NetworkUpdate: its sled
}

// Reservations is the sled-reservation swap after a successful migration
// (§13.2): the source's reservation is retired, the target's made active.
// Its zero value means no swap.
type Reservations struct {
	Active vmmstate.ID // the migration's source VMM
	Target vmmstate.ID // the migration's target VMM
}

// Plan is the update the instance-update saga commits (§13.3 as amended by
// D11): the new runtime at generation+1, the intended state to write (zero:
// unchanged), the VMMs to destroy after the commit (zero: none), and the
// side effects.
type Plan struct {
	Runtime Runtime
	Intent  IntendedState
	// Lost is recorded on the instance with the runtime when the plan
	// leaves it, meant to run, without a VMM that no guest shutdown or
	// failure explains (D22); zero: nothing to record.
	Lost             VMMLost
	DestroyActiveVMM vmmstate.ID
	DestroyTargetVMM vmmstate.ID
	// StopTargetVMM is a target VMM the plan unlinks while it still lives
	// (its migration failed or can no longer finish): ask its sled-agent
	// to stop it, so that no VMM the records no longer link keeps a guest
	// running (D37); zero: none.
	StopTargetVMM vmmstate.ID
	// RestartFailures is the instance's count of failed restarts to write
	// when the plan leaves it down needing a restart (D33); zero: unchanged.
	RestartFailures int
	Network         Network
	Deprovision     bool // release virtual provisioning and the metrics producer
	Reservations    Reservations
}

// unlinkable reports whether the update plan unlinks a VMM in state st:
// destroyed or failed (§13.3), and saga_unwound, treated as destroyed (D11).
func unlinkable(st vmmstate.State) bool {
	return st.IsTerminal() || st == vmmstate.SagaUnwound
}

// PlanUpdate decides what the instance-update saga must change (§13.3 as
// amended by D11). It returns the plan and true when an update is required,
// and a zero Plan and false when nothing needs doing. It validates the
// snapshot first (D17).
//
// The steps, in order:
//
//  1. An active VMM that is destroyed, failed or saga_unwound (D11) is
//     unlinked and destroyed. A destroyed one with intent running and no
//     migration means the guest shut itself down: intent guest_shutdown. An
//     unwound one is not a shutdown and leaves the intent alone (D11).
//  2. A target VMM in one of those states is unlinked and destroyed.
//  3. A migration with a failed side, or whose target is gone before any
//     side completed, is cleared, the network re-pointed at the surviving
//     active VMM. Otherwise one with a completed side moves the
//     instance to the target VMM (or to no VMM if the target is gone), and
//     is cleared once the target itself reports completed, swapping the
//     sled reservations. A target that failed after taking the guest over
//     leaves the instance failed, not stopped (D19).
//  4. With no active VMM left, the instance becomes failed (if its VMM
//     failed) or no_vmm, any migration left is unlinked (D17: a migration
//     needs an active VMM), its network is deleted and its resources released.
//
// A stale migration link (D21) — one kept by an instance that has no
// active VMM, or whose active VMM is neither side — is cleared with its
// target id, and changes nothing else: the instance keeps its state and
// its VMM, and the migration is not read as in flight (a destroyed active
// VMM beside it is a guest shutdown, as with no migration).
func PlanUpdate(s Snapshot, now time.Time) (Plan, bool, error) {
	if err := s.validate(); err != nil {
		return Plan{}, false, err
	}
	return s.plan(now)
}

// planless reports whether the update plan has nothing to do whatever the
// time: no migration or target linked, and an active VMM (if any) that is
// not dead. It is most of a fleet, answered before a runtime and a plan
// are built; none of plan's steps would change anything for it.
func (s *Snapshot) planless() bool {
	return !s.hasMigration() && !s.hasTarget() &&
		!(s.hasActive() && unlinkable(s.Active.Runtime.State))
}

// plan is PlanUpdate on a snapshot already validated.
func (s *Snapshot) plan(now time.Time) (Plan, bool, error) {
	if s.planless() {
		return Plan{}, false, nil
	}
	// An overflow matters only if there is something to write: a snapshot
	// that needs nothing says so even at the largest generation.
	rt, overflow := s.Instance.Runtime.next(now)
	var (
		p             = Plan{Runtime: rt}
		required      bool
		activeFailed  bool
		activeGone    bool // step 1 unlinked the active VMM
		targetGone    bool // step 2 unlinked the target VMM
		m             = s.Migration
		hasMigration  = s.liveMigration()
		staleLink     = s.hasMigration() && !hasMigration // D21
		intentRunning = s.Instance.IntendedState == IntendRunning
	)
	if staleLink && !s.hasActive() {
		// A failed, stopped or deleted instance that kept its migration's
		// ids (the watcher failed its VMM mid-migration): only the link
		// goes, with an unwound or dead target (D11). It has no VMM, so
		// nothing else is the plan's to change.
		if overflow != nil {
			return Plan{}, false, overflowed("state_generation", overflow)
		}
		p.Runtime.MigrationID, p.Runtime.TargetVMM = migration.ID{}, vmmstate.ID{}
		if s.hasTarget() && unlinkable(s.Target.Runtime.State) {
			p.DestroyTargetVMM = s.Target.ID
		}
		p.StopTargetVMM = s.targetToStop(&p)
		return p, true, nil
	}

	// Step 1.
	if s.hasActive() && unlinkable(s.Active.Runtime.State) {
		st := s.Active.Runtime.State
		p.Runtime.ActiveVMM = vmmstate.ID{}
		p.DestroyActiveVMM = s.Active.ID
		required, activeGone = true, true
		switch {
		case st.IsFailed():
			activeFailed = true
		case st == vmmstate.Destroyed && intentRunning && !hasMigration:
			p.Intent = IntendGuestShutdown
		}
	}

	// Step 2.
	if s.hasTarget() && unlinkable(s.Target.Runtime.State) {
		p.Runtime.TargetVMM = vmmstate.ID{}
		p.DestroyTargetVMM = s.Target.ID
		required, targetGone = true, true
	}

	// Step 3.
	switch {
	case staleLink:
		// D21: the instance runs on a VMM that is no side of the linked
		// migration (a start kept the old ids). The link goes; the VMM
		// and its network stay.
		p.Runtime.MigrationID, p.Runtime.TargetVMM = migration.ID{}, vmmstate.ID{}
		required = true
	case !hasMigration:
	case m.EitherSideFailed(), targetGone && !m.EitherSideCompleted():
		// A failed side ends the migration (§13.3). So does a target that
		// is gone before either side completed — its saga unwound, or it
		// died — even if no side has said so yet: the migration can never
		// finish, and left linked it would make the instance read
		// migrating forever (§7 rule 1) and refuse every new migration.
		p.Runtime.MigrationID, p.Runtime.TargetVMM = migration.ID{}, vmmstate.ID{}
		required = true
		if !activeGone && s.hasActive() {
			p.Network = Network{Action: NetworkUpdate, VMM: s.Active.ID, Sled: s.Active.SledID}
		}
	case m.EitherSideCompleted():
		target := m.Target.VMM
		if p.Runtime.ActiveVMM != target && !targetGone && s.hasTarget() {
			p.Runtime.ActiveVMM = target
			p.Network = Network{Action: NetworkUpdate, VMM: target, Sled: s.Target.SledID}
			required = true
		}
		if targetGone || !s.hasTarget() && p.Runtime.ActiveVMM != target {
			// The target is gone (or was unlinked earlier): the source has
			// handed the guest over, so nothing runs it any more. If the
			// target failed, the guest died with it: the instance failed,
			// it did not stop (D19; Omicron shows no_vmm here).
			p.Runtime.ActiveVMM = vmmstate.ID{}
			required = true
			if targetGone && s.Target.Runtime.State.IsFailed() {
				activeFailed = true
			}
		}
		if m.Target.State == migration.Completed {
			p.Runtime.MigrationID, p.Runtime.TargetVMM = migration.ID{}, vmmstate.ID{}
			required = true
			// Swap the reservations only when the instance ends up on the
			// target (§13.2): not when the target is gone or unlinked.
			if p.Runtime.ActiveVMM == target {
				p.Reservations = Reservations{Active: m.Source.VMM, Target: m.Target.VMM}
			}
		}
	}

	// Step 4.
	if p.Runtime.ActiveVMM.IsZero() && required {
		// An instance without an active VMM cannot be migrating (D17): a
		// migration the dead source never finished is unlinked with it.
		// Omicron leaves it linked until a sled-agent fails it; a target
		// still alive is left to the abandoned-VMM reaper.
		p.Runtime.MigrationID, p.Runtime.TargetVMM = migration.ID{}, vmmstate.ID{}
		if activeFailed && s.Instance.IntendedState != IntendStopped {
			p.Runtime.State = NexusFailed
		} else {
			// D36: a VMM found gone while the user's stop was under way
			// leaves the instance stopped, as asked — not failed, and so
			// not restarted.
			p.Runtime.State = NexusNoVMM
			// D22: an instance meant to run, left with no VMM by anything
			// but its guest, says why, so that only the policy restarts it
			// (and the unwound start's reason of D15 survives the unlink).
			if intentRunning && p.Intent == IntentUnchanged && s.Instance.Runtime.State == NexusVMM {
				cause := LostMidMigration
				if s.hasActive() && s.Active.Runtime.State == vmmstate.SagaUnwound {
					cause = LostStartUnwound
				}
				p.Lost = VMMLost{Cause: cause, Time: now}
			}
		}
		p.Network = Network{Action: NetworkDelete}
		p.Deprovision = true
		// D33: going down needing a restart counts as a failed restart,
		// unless a start found no room (retried on its own schedule).
		if intentRunning && (p.Runtime.State == NexusFailed || p.Lost.IsSet()) &&
			!(s.Instance.hasStartFailure() && placementFailure(s.Instance.StartFailure)) {
			at := now
			if s.hasActive() && activeGone {
				at = s.Active.Runtime.TimeUpdated
			}
			p.RestartFailures = s.failureCount(at)
		}
	}
	if !required {
		return Plan{}, false, nil
	}
	p.StopTargetVMM = s.targetToStop(&p)
	if overflow != nil {
		return Plan{}, false, overflowed("state_generation", overflow)
	}
	return p, true, nil
}

// targetToStop is D37: the target VMM that plan p unlinks while it still
// lives — not destroyed by the plan, not made active — or zero.
func (s *Snapshot) targetToStop(p *Plan) vmmstate.ID {
	if !s.hasTarget() || !p.Runtime.TargetVMM.IsZero() || p.Runtime.ActiveVMM == s.Target.ID || !p.DestroyTargetVMM.IsZero() {
		return vmmstate.ID{}
	}
	switch s.Target.Runtime.State.Kind() {
	case vmmstate.KindCreating, vmmstate.KindStarting, vmmstate.KindRunning, vmmstate.KindRebooting, vmmstate.KindMigrating:
		return s.Target.ID
	}
	return vmmstate.ID{}
}

// Apply returns the snapshot after the plan is committed and the VMMs it
// names are destroyed (§13.2): the new runtime and intent written, the
// updater lock untouched, and the VMM and migration records that are no
// longer linked dropped from the snapshot. It validates the result (D17),
// so a plan can never leave an invalid snapshot behind unnoticed.
func (s Snapshot) Apply(p Plan) (Snapshot, error) {
	if !p.Runtime.Generation.After(s.Instance.Runtime.Generation) {
		return s, &ConflictError{Op: "commit update", Message: "instance state has changed", Status: 409, Err: ErrStaleGeneration}
	}
	out := s
	out.Instance = s.Instance.withPlan(p)
	out.Active = s.linked(p.Runtime.ActiveVMM)
	out.Target = s.linked(p.Runtime.TargetVMM)
	if p.Runtime.MigrationID.IsZero() {
		out.Migration = migration.Record{}
	}
	if err := out.Validate(); err != nil {
		return s, err
	}
	return out, nil
}

// linked returns the record of VMM id among the snapshot's VMMs (the zero
// VMM for a zero id).
func (s *Snapshot) linked(id vmmstate.ID) vmmstate.VMM {
	switch {
	case id.IsZero():
		return vmmstate.VMM{}
	case s.Active.ID == id:
		return s.Active
	case s.Target.ID == id:
		return s.Target
	}
	return vmmstate.VMM{}
}

// withPlan returns i with the plan's runtime and, when it sets one, its
// intent written: the instance part of a commit (§9, §13.4), shared by
// Instance.Commit and Snapshot.Apply.
func (i Instance) withPlan(p Plan) Instance {
	i.Runtime = p.Runtime
	if p.Intent != IntentUnchanged {
		i.IntendedState = p.Intent
	}
	if p.Lost.IsSet() {
		i.VMMLost = p.Lost
	}
	if p.RestartFailures > 0 {
		i.RestartFailures = p.RestartFailures
	}
	return i
}

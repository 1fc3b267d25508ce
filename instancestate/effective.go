package instancestate

import "github.com/vmlife/vmlife/vmmstate"

// byNexusState is §7 rule 13: an instance with no active VMM shows its own
// record's state.
var byNexusState = [...]State{
	NexusCreating:  Creating,
	NexusNoVMM:     Stopped, // §7 rule 10
	NexusFailed:    Failed,
	NexusDestroyed: Destroyed,
}

// byActiveVMM is §7 rules 2–9 as amended by D10: with an active VMM and no
// migration that dominates, the instance shows its active VMM's kind so.
var byActiveVMM = [...]State{
	vmmstate.KindCreating:    Starting, // rule 5: the instance is being started
	vmmstate.KindStarting:    Starting, // rule 5
	vmmstate.KindRunning:     Running,  // rule 6
	vmmstate.KindStopping:    Stopping, // rule 7
	vmmstate.KindStopped:     Stopping, // rule 2: resources held until the update plan unlinks it
	vmmstate.KindRebooting:   Rebooting,
	vmmstate.KindMigrating:   Migrating,
	vmmstate.KindFailed:      Stopping, // rule 3: a failed VMM must be unlinked before the instance reads failed
	vmmstate.KindDestroyed:   Stopping, // rule 2
	vmmstate.KindSagaUnwound: Stopped,  // D10: a new start may proceed at once
}

// EffectiveState is the state the external API shows for the instance (§7 as
// amended by D10 and D12). It validates the snapshot first (D17) and is total
// on valid snapshots; it never reads saga_unwound as anything but stopped.
func EffectiveState(s Snapshot) (State, error) {
	if err := s.validate(); err != nil {
		return 0, err
	}
	return s.effective(), nil
}

// effective is EffectiveState on a snapshot already validated.
func (s *Snapshot) effective() State {
	if st := s.Instance.Runtime.State; st != NexusVMM {
		return byNexusState[st]
	}
	active := s.Active.Runtime.State
	if active != vmmstate.SagaUnwound && s.migrationDominates() {
		// §7 rule 1, limited by D12. An unwound active VMM is never
		// dominated: it reads stopped whatever is linked beside it (D10),
		// because a start may replace it at once.
		return Migrating
	}
	return byActiveVMM[active.Kind()]
}

// migrationDominates reports whether the instance reads migrating because of
// its migration rather than its active VMM (§7 rule 1). D12 limits the rule
// to a migration still in flight, or succeeded but not yet folded in: once a
// side has failed, or the target VMM's saga unwound, the active VMM decides.
func (s *Snapshot) migrationDominates() bool {
	if !s.liveMigration() {
		return false // D21: a stale link decides nothing
	}
	if s.Migration.EitherSideFailed() {
		return false
	}
	if s.hasTarget() && s.Target.Runtime.State == vmmstate.SagaUnwound {
		return false
	}
	return true
}

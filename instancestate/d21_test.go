package instancestate

import (
	"testing"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// staleOnNoVMM is D21's shape (a): an instance left failed or stopped by an
// update that did not clear its migration (the watcher failed the VMM in
// the middle of one), with the migration and its target still linked.
func staleOnNoVMM(n NexusState) Snapshot {
	s := snap().migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating).build()
	s.Instance.Runtime.State = n
	return s
}

// staleOnOtherVMM is D21's shape (b): a start linked a new VMM (vmmD) and
// kept the migration ids of an earlier, unwound migration.
func staleOnOtherVMM(st vmmstate.State) Snapshot {
	s := snap().vmm(st).migration(migration.Failed, migration.Failed).target(vmmstate.SagaUnwound).build()
	s.Active.ID, s.Instance.Runtime.ActiveVMM = vmmD, vmmD
	return s
}

// TestD21ValidateReadsOmicronsRows: both shapes validate; creating with a
// migration (which no writer produces) still does not.
func TestD21ValidateReadsOmicronsRows(t *testing.T) {
	for name, s := range map[string]Snapshot{
		"failed with a migration":       staleOnNoVMM(NexusFailed),
		"no_vmm with a migration":       staleOnNoVMM(NexusNoVMM),
		"destroyed with a migration":    staleOnNoVMM(NexusDestroyed),
		"active VMM on neither side":    staleOnOtherVMM(vmmstate.Running),
		"unwound VMM on neither side":   staleOnOtherVMM(vmmstate.SagaUnwound),
		"destroyed VMM on neither side": staleOnOtherVMM(vmmstate.Destroyed),
	} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	checkRuleErr(t, "creating with a migration", staleOnNoVMM(NexusCreating).Validate(), RuleNoMigrationInCreating, "migration_id")
}

// TestD21StaleLinkDecidesNothing: the effective state ignores a stale
// migration (§7 rule 1 is for a migration the instance takes part in).
func TestD21StaleLinkDecidesNothing(t *testing.T) {
	for s, want := range map[*Snapshot]State{
		ptr(staleOnNoVMM(NexusFailed)):          Failed,
		ptr(staleOnNoVMM(NexusNoVMM)):           Stopped,
		ptr(staleOnOtherVMM(vmmstate.Running)):  Running,
		ptr(staleOnOtherVMM(vmmstate.Starting)): Starting,
	} {
		if got, err := EffectiveState(*s); err != nil || got != want {
			t.Errorf("%v on %v: %v, %v; want %v", s.Instance.Runtime.State, s.Active.Runtime.State, got, err, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestD21PlanClearsTheStaleLink: the update plan clears the migration and
// target ids, at generation+1, and changes nothing else — the state, the
// VMM, the intent and the network stay — and the snapshot after it is the
// ordinary shape.
func TestD21PlanClearsTheStaleLink(t *testing.T) {
	for _, n := range []NexusState{NexusFailed, NexusNoVMM, NexusDestroyed} {
		s := staleOnNoVMM(n)
		p, ok, err := PlanUpdate(s, t1)
		if err != nil || !ok {
			t.Fatalf("%v: %v, %v", n, ok, err)
		}
		want := s.Instance.Runtime
		want.MigrationID, want.TargetVMM = migration.ID{}, vmmstate.ID{}
		want.Generation, want.TimeUpdated = gen(instGen+1), t1
		if p.Runtime != want || p.Intent != 0 || p.Network != (Network{}) || p.Deprovision || !p.DestroyActiveVMM.IsZero() {
			t.Errorf("%v: plan %+v", n, p)
		}
		after, err := s.Apply(p)
		if err != nil || after.HasMigration() || after.HasTarget() || after.Instance.Runtime.State != n {
			t.Errorf("%v: after %+v, %v", n, after.Instance.Runtime, err)
		}
		if next, err := Next(s, t1); err != nil || next.Action != NextRunUpdate {
			t.Errorf("%v: next %v, %v; want run_update", n, next.Action, err)
		}
	}
	// A deleted instance's link is cleared the same way, its state kept.
	if p, ok, err := PlanUpdate(staleOnNoVMM(NexusDestroyed), t1); !ok || err != nil || p.Runtime.State != NexusDestroyed || !p.Runtime.MigrationID.IsZero() {
		t.Errorf("destroyed: plan %+v, %v, %v", p, ok, err)
	}

	s := staleOnOtherVMM(vmmstate.Running)
	p, ok, err := PlanUpdate(s, t1)
	if err != nil || !ok {
		t.Fatalf("stale on a running VMM: %v, %v", ok, err)
	}
	if p.Runtime.ActiveVMM != vmmD || p.Runtime.State != NexusVMM || !p.Runtime.MigrationID.IsZero() || !p.Runtime.TargetVMM.IsZero() ||
		p.Network != (Network{}) || p.Deprovision || p.DestroyTargetVMM != vmmB {
		t.Errorf("stale on a running VMM: plan %+v", p)
	}
	// Beside a stale link a destroyed VMM is an ordinary guest shutdown:
	// the migration is not the instance's (§13.3 step 1).
	s = staleOnOtherVMM(vmmstate.Destroyed)
	if p, ok, err := PlanUpdate(s, t1); err != nil || !ok || p.Intent != IntendGuestShutdown || p.Runtime.State != NexusNoVMM {
		t.Errorf("destroyed beside a stale link: %+v, %v, %v", p, ok, err)
	}
	s = staleOnOtherVMM(vmmstate.Failed(failure.SledOff))
	if p, ok, err := PlanUpdate(s, t1); err != nil || !ok || p.Runtime.State != NexusFailed || !p.Runtime.MigrationID.IsZero() {
		t.Errorf("failed beside a stale link: %+v, %v, %v", p, ok, err)
	}
}

package instancestate

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Snapshot is everything vmlife needs to decide about one instance, read in
// one consistent query (§8.1's instance_fetch_all): the instance record, its
// active VMM, its migration target VMM and its migration. A record that is
// absent (not linked, or deleted) is the zero value: see HasActive,
// HasTarget and HasMigration.
//
// SledUnreachableSince is an observation, not a record: when the instance
// watcher last found the active VMM's sled unreachable without proof of
// death (D18), the time of the first failed check; zero otherwise. It feeds
// the SledUnreachable condition (D14) and nothing else.
//
// Policy, MemoryGiB, MigrationsInFlight and Saga are inputs of the
// liveness decisions, passed in like now (D30, D32–D35); their zero values
// are the defaults: deadlines on, restart backoff off, no migration limits
// or budgets, memory unknown, no migration counted, no saga known.
type Snapshot struct {
	Instance             Instance
	Active               vmmstate.VMM
	Target               vmmstate.VMM
	Migration            migration.Record
	SledUnreachableSince time.Time
	Policy               Policy
	MemoryGiB            int           // the instance's memory, for the migration budget (D34); zero: unknown
	MigrationsInFlight   MigrationLoad // for the migration limits (D35)
	Saga                 SagaProgress  // an unfinished saga working on the instance, from the saga log (D30)
}

// SagaProgress is an unfinished saga working on an instance, as its log
// says (the caller reads it: sagas.Stalled, or the log's unfinished
// sagas): its id and name, and its last event — the node and when — or,
// with none, when it was created. The zero value is no saga. Past its
// deadline (Deadlines.Saga) the snapshot has a NotProgressing condition on
// the saga and Next asks to inspect it (D30): a stalled saga is a reason
// to look at its executor's lease, never to undo anything.
type SagaProgress struct {
	ID    uuid.UUID
	Name  string // the saga's kind: create, start, migrate, update, delete
	Node  string // its last event's node; "" when it has none
	Since time.Time
}

// HasActive reports whether the snapshot holds the active VMM's record.
func (s Snapshot) HasActive() bool { return s.hasActive() }

// HasTarget reports whether the snapshot holds the migration target VMM's record.
func (s Snapshot) HasTarget() bool { return s.hasTarget() }

// HasMigration reports whether the snapshot holds the migration record.
func (s Snapshot) HasMigration() bool { return s.hasMigration() }

// The package calls these, not the exported forms: a method on a Snapshot
// value called through a pointer copies all 832 bytes of it first, even
// inlined, and the decisions ask these questions many times per snapshot.
func (s *Snapshot) hasActive() bool    { return !s.Active.ID.IsZero() }
func (s *Snapshot) hasTarget() bool    { return !s.Target.ID.IsZero() }
func (s *Snapshot) hasMigration() bool { return !s.Migration.ID.IsZero() }

// The rules of D17 as narrowed by D21, by the names Validate reports. The
// first three hold for every row any writer produces (the database's CHECK
// constraint and the pairing of the migration ids); the rest say that the
// records of a snapshot agree with each other.
const (
	RuleVMMIffActive          = "vmm_iff_active_propolis"        // §5.2: state = vmm ⇔ active_propolis_id set
	RuleTargetNeedsMigr       = "target_needs_migration"         // D17: target_propolis_id ⇒ migration_id
	RuleNoMigrationInCreating = "no_migration_while_creating"    // D21: no writer links a migration before create finishes
	RuleLinkedRecord          = "linked_record_present"          // a linked id comes with its record
	RuleIDsAgree              = "ids_agree"                      // records carry the ids the instance links
	RuleMigrationSides        = "migration_sides_match_instance" // the linked target is its migration's target
	RuleValidFields           = "fields_valid"                   // every enum and record is valid
	RuleUnlinkedRecord        = "no_unlinked_record"             // a record is present only when linked
)

func broken(rule, field, format string, args ...any) error {
	return &RuleError{Rule: rule, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// Validate checks the snapshot against every rule of D17 as narrowed by D21
// and returns a *RuleError (matching ErrInvalidRecord) naming the first one
// broken. Every decision in this package validates first, so none of them
// has to guess what an impossible combination means (Omicron panics in
// debug builds and falls back in release, §7 rules 11–14).
//
// D21: rows Omicron's own sagas write are accepted — a failed, stopped or
// deleted instance whose migration id is still set (the watcher failed its
// VMM mid-migration), and an active VMM that is no side of the linked
// migration (a start kept a stale migration id). The decisions read them
// (the stale migration is ignored) and the update plan clears the link.
func (s Snapshot) Validate() error { return s.validate() }

// validate is Validate without a copy of the snapshot per check.
func (s *Snapshot) validate() error {
	if err := s.Instance.validate(); err != nil {
		return err
	}
	rt := &s.Instance.Runtime

	// Each linked id comes with its record, and each record is the one linked.
	if err := s.checkVMM("active_vmm", rt.ActiveVMM, &s.Active); err != nil {
		return err
	}
	if err := s.checkVMM("target_vmm", rt.TargetVMM, &s.Target); err != nil {
		return err
	}
	if err := s.checkMigration(); err != nil {
		return err
	}
	return s.checkInputs()
}

// checkInputs checks the liveness inputs: the policy (Policy.Validate), no
// negative count, a memory size in range.
func (s *Snapshot) checkInputs() error {
	if s.Policy == (Policy{}) && s.MemoryGiB == 0 && s.MigrationsInFlight == (MigrationLoad{}) && s.Saga.ID == uuid.Nil {
		return nil // the defaults: most snapshots, answered without a look at each field
	}
	if sg := &s.Saga; sg.ID != uuid.Nil || sg.Name != "" || sg.Node != "" || !sg.Since.IsZero() {
		switch {
		case sg.ID == uuid.Nil:
			return broken(RuleValidFields, "saga.id", "missing (accepted: the saga's UUID, not the nil one)")
		case sg.Name == "" || len(sg.Name) > 128:
			return broken(RuleValidFields, "saga.name", "%q (accepted: 1 to 128 bytes)", sg.Name)
		case len(sg.Node) > 128:
			return broken(RuleValidFields, "saga.node", "%d bytes (accepted: at most 128)", len(sg.Node))
		case sg.Since.IsZero():
			return broken(RuleValidFields, "saga.since", "missing (accepted: the time of its last event)")
		}
	}
	if err := s.Policy.validate(); err != nil {
		return err
	}
	load := &s.MigrationsInFlight
	for _, f := range [...]struct {
		name string
		n    int
	}{
		{"migrations_in_flight.fleet", load.Fleet}, {"migrations_in_flight.sled", load.Sled},
	} {
		if f.n < 0 {
			return broken(RuleValidFields, f.name, "%d (accepted: a count, 0 or more)", f.n)
		}
	}
	if s.MemoryGiB < 0 || s.MemoryGiB > MaxMemoryGiB {
		return broken(RuleValidFields, "memory_gib", "%d (accepted: 0 to %d)", s.MemoryGiB, MaxMemoryGiB)
	}
	return nil
}

// Validate checks a liveness policy (D32–D35) and returns a *RuleError
// (matching ErrInvalidRecord) naming the first field out of range: no
// negative duration but a deadline's (negative: off), no negative limit.
func (p Policy) Validate() error { return p.validate() }

func (p *Policy) validate() error {
	b, mp := &p.Backoff, &p.Migration
	for _, f := range [...]struct {
		name string
		d    time.Duration
	}{
		{"policy.restart_backoff.base", b.Base}, {"policy.restart_backoff.cap", b.Cap},
		{"policy.restart_backoff.stable", b.StableAfter}, {"policy.restart_backoff.placement_retry", b.PlacementRetry},
		{"policy.migration.progress_deadline", mp.ProgressDeadline}, {"policy.migration.budget_per_gib", mp.BudgetPerGiB},
	} {
		if f.d < 0 {
			return broken(RuleValidFields, f.name, "%v (accepted: a positive duration, or zero for the default)", f.d)
		}
	}
	for _, f := range [...]struct {
		name string
		n    int
	}{
		{"policy.migration.fleet_limit", mp.FleetLimit}, {"policy.migration.sled_limit", mp.SledLimit},
	} {
		if f.n < 0 {
			return broken(RuleValidFields, f.name, "%d (accepted: a count, 0 or more)", f.n)
		}
	}
	return nil
}

func (s *Snapshot) checkVMM(field string, linked vmmstate.ID, v *vmmstate.VMM) error {
	present := !v.ID.IsZero()
	switch {
	case linked.IsZero() && present:
		return broken(RuleUnlinkedRecord, field, "VMM %v given but the instance links none", v.ID)
	case linked.IsZero():
		return nil
	case !present:
		return broken(RuleLinkedRecord, field, "missing: the instance links VMM %v", linked)
	case v.ID != linked:
		return broken(RuleIDsAgree, field+".id", "%v, but the instance links %v", v.ID, linked)
	case v.InstanceID != s.Instance.ID:
		return broken(RuleIDsAgree, field+".instance_id", "%v, but the instance is %v", v.InstanceID, s.Instance.ID)
	}
	if err := v.Validate(); err != nil {
		return &RuleError{Rule: RuleValidFields, Field: field, Detail: err.Error(), Err: err}
	}
	return nil
}

func (s *Snapshot) checkMigration() error {
	rt, m := &s.Instance.Runtime, &s.Migration
	present := s.hasMigration()
	switch {
	case rt.MigrationID.IsZero() && present:
		return broken(RuleUnlinkedRecord, "migration", "migration %v given but the instance links none", m.ID)
	case rt.MigrationID.IsZero():
		return nil
	case !present:
		return broken(RuleLinkedRecord, "migration", "missing: the instance links migration %v", rt.MigrationID)
	case m.ID != rt.MigrationID:
		return broken(RuleIDsAgree, "migration.id", "%v, but the instance links %v", m.ID, rt.MigrationID)
	case m.InstanceID != s.Instance.ID:
		return broken(RuleIDsAgree, "migration.instance_id", "%v, but the instance is %v", m.InstanceID, s.Instance.ID)
	}
	if err := m.Validate(); err != nil {
		return &RuleError{Rule: RuleValidFields, Field: "migration", Detail: err.Error(), Err: err}
	}
	// The linked target is the migration's target (§8.1: both ids are
	// written together). The active VMM may be neither side (D21).
	if !rt.TargetVMM.IsZero() && rt.TargetVMM != m.Target.VMM {
		return broken(RuleMigrationSides, "target_propolis_id", "%v is not the target of migration %v (%v)", rt.TargetVMM, m.ID, m.Target.VMM)
	}
	return nil
}

// liveMigration reports whether the linked migration concerns the active
// VMM: one is linked and the instance runs on one of its sides. A migration
// linked to an instance with no active VMM, or whose sides are both other
// VMMs, is a stale link (D21) that only the update plan acts on.
func (s *Snapshot) liveMigration() bool {
	if !s.hasMigration() || !s.hasActive() {
		return false
	}
	id := s.Active.ID
	return id == s.Migration.Source.VMM || id == s.Migration.Target.VMM
}

// Validate checks the instance row alone against the rules that need no
// other record (D17 as narrowed by D21): every field valid, the CHECK
// constraint (state vmm exactly when an active VMM is linked), a target only
// with a migration, no migration while creating. It returns a *RuleError
// matching ErrInvalidRecord. Snapshot.Validate checks these and then the
// records linked beside it.
func (in Instance) Validate() error { return in.validate() }

func (in *Instance) validate() error {
	rt := &in.Runtime
	switch {
	case in.ID.IsZero():
		return broken(RuleValidFields, "id", "nil UUID")
	case !rt.State.IsValid():
		return broken(RuleValidFields, "state", "%v (accepted: %s)", rt.State, strings.Join(nexusStates.Names(), ", "))
	case !in.IntendedState.IsValid():
		return broken(RuleValidFields, "intended_state", "%v (accepted: %s)", in.IntendedState, strings.Join(intendedStates.Names(), ", "))
	case in.AutoRestart.Policy != 0 && !in.AutoRestart.Policy.IsValid():
		return broken(RuleValidFields, "auto_restart_policy", "%v (accepted: %s, null)", in.AutoRestart.Policy, strings.Join(policies.Names(), ", "))
	case in.AutoRestart.Cooldown < 0:
		return broken(RuleValidFields, "auto_restart_cooldown", "%v (accepted: a positive duration or null)", in.AutoRestart.Cooldown)
	}
	if in.hasStartFailure() {
		if err := in.StartFailure.Validate(); err != nil {
			return &RuleError{Rule: RuleValidFields, Field: "start_failure", Detail: err.Error(), Err: err}
		}
	}
	if in.RestartFailures < 0 || in.RestartFailures > MaxRestartFailures {
		return broken(RuleValidFields, "restart_failures", "%d (accepted: 0 to %d)", in.RestartFailures, MaxRestartFailures)
	}
	if l := in.VMMLost; l.IsSet() && !l.Cause.IsValid() {
		return broken(RuleValidFields, "vmm_lost", "cause %v (accepted: %s)", l.Cause, lostCauses.Accepted())
	}

	// The CHECK constraint and D17's rules on the instance row alone.
	switch hasActive := !rt.ActiveVMM.IsZero(); {
	case rt.State == NexusVMM && !hasActive:
		return broken(RuleVMMIffActive, "active_propolis_id", "NULL while state is vmm")
	case rt.State != NexusVMM && hasActive:
		return broken(RuleVMMIffActive, "active_propolis_id", "%v while state is %v", rt.ActiveVMM, rt.State)
	case !rt.TargetVMM.IsZero() && rt.MigrationID.IsZero():
		return broken(RuleTargetNeedsMigr, "target_propolis_id", "%v without a migration_id", rt.TargetVMM)
	case !rt.MigrationID.IsZero() && rt.State == NexusCreating:
		return broken(RuleNoMigrationInCreating, "migration_id", "%v while state is %v", rt.MigrationID, rt.State)
	}
	return nil
}

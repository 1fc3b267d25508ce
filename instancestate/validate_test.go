package instancestate

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// invalid is a snapshot that breaks its rule (the key of rulesCases) on
// field.
type invalid struct {
	name, field string
	s           Snapshot
	cause       error // an underlying error the RuleError must also match, if any
}

func tamper(b builder, f func(*Snapshot)) Snapshot {
	s := b.build()
	f(&s)
	return s
}

// rulesCases has, for every rule constant, the snapshots that break it.
var rulesCases = map[string][]invalid{
	RuleValidFields: {
		{name: "nil instance id", field: "id", s: tamper(snap(), func(s *Snapshot) { s.Instance.ID = ID{} })},
		{name: "state 0", field: "state", s: snap().nexus(0).build()},
		{name: "state out of range", field: "state", s: snap().nexus(NexusDestroyed + 1).build()},
		{name: "intended state 0", field: "intended_state", s: snap().intent(0).build()},
		{name: "policy out of range", field: "auto_restart_policy", s: snap().policy(PolicyBestEffort + 1).build()},
		{name: "negative cooldown", field: "auto_restart_cooldown", s: snap().cooldown(-time.Nanosecond).build()},
		{name: "start failure without a reason", field: "start_failure", cause: failure.ErrInvalidStartFailure,
			s: tamper(snap(), func(s *Snapshot) {
				s.Instance.StartFailure = failure.StartFailure{Cause: failure.CauseInternal, Time: t0}
			})},
		{name: "start failure without a time", field: "start_failure", cause: failure.ErrInvalidStartFailure,
			s: tamper(snap(), func(s *Snapshot) {
				s.Instance.StartFailure = failure.StartFailure{Cause: failure.CauseInternal, Reason: failure.StartReasonUser}
			})},
		{name: "active VMM state 0", field: "active_vmm", cause: vmmstate.ErrInvalidRecord,
			s: tamper(snap().vmm(vmmstate.Running), func(s *Snapshot) { s.Active.Runtime.State = 0 })},
		{name: "active VMM without a sled", field: "active_vmm", cause: vmmstate.ErrInvalidRecord,
			s: tamper(snap().vmm(vmmstate.Running), func(s *Snapshot) { s.Active.SledID = vmmstate.SledID{} })},
		{name: "target VMM state 0", field: "target_vmm", cause: vmmstate.ErrInvalidRecord,
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating), func(s *Snapshot) { s.Target.Runtime.State = 0 })},
		{name: "migration side state 0", field: "migration", cause: migration.ErrInvalidRecord,
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending), func(s *Snapshot) { s.Migration.Target.State = 0 })},
	},
	RuleVMMIffActive: {
		{name: "vmm without an active VMM", field: "active_propolis_id", s: snap().nexus(NexusVMM).build()},
		{name: "no_vmm with an active VMM", field: "active_propolis_id", s: snap().vmm(vmmstate.Running).nexus(NexusNoVMM).build()},
		{name: "failed with an active VMM", field: "active_propolis_id", s: snap().vmm(vmmstate.Failed(failure.SledOff)).nexus(NexusFailed).build()},
		{name: "creating with an active VMM", field: "active_propolis_id", s: snap().vmm(vmmstate.Creating).nexus(NexusCreating).build()},
		{name: "destroyed with an active VMM", field: "active_propolis_id", s: snap().vmm(vmmstate.Destroyed).nexus(NexusDestroyed).build()},
	},
	RuleTargetNeedsMigr: {
		{name: "target without a migration", field: "target_propolis_id", s: snap().vmm(vmmstate.Running).target(vmmstate.Migrating).build()},
	},
	RuleNoMigrationInCreating: {
		{name: "creating with a migration", field: "migration_id", s: snap().nexus(NexusCreating).migration(migration.Pending, migration.Pending).build()},
	},
	RuleLinkedRecord: {
		{name: "active VMM record missing", field: "active_vmm",
			s: tamper(snap().vmm(vmmstate.Running), func(s *Snapshot) { s.Active = vmmstate.VMM{} })},
		{name: "target VMM record missing", field: "target_vmm",
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating), func(s *Snapshot) { s.Target = vmmstate.VMM{} })},
		{name: "migration record missing", field: "migration",
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending), func(s *Snapshot) { s.Migration = migration.Record{} })},
	},
	RuleIDsAgree: {
		{name: "another active VMM's record", field: "active_vmm.id",
			s: tamper(snap().vmm(vmmstate.Running), func(s *Snapshot) { s.Active.ID = vmmC })},
		{name: "active VMM of another instance", field: "active_vmm.instance_id",
			s: tamper(snap().vmm(vmmstate.Running), func(s *Snapshot) { s.Active.InstanceID = otherID })},
		{name: "another target VMM's record", field: "target_vmm.id",
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating), func(s *Snapshot) { s.Target.ID = vmmC })},
		{name: "target VMM of another instance", field: "target_vmm.instance_id",
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating), func(s *Snapshot) { s.Target.InstanceID = otherID })},
		{name: "another migration's record", field: "migration.id",
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending), func(s *Snapshot) { s.Migration.ID = migN })},
		{name: "migration of another instance", field: "migration.instance_id",
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending), func(s *Snapshot) { s.Migration.InstanceID = otherID })},
	},
	RuleMigrationSides: {
		{name: "linked target is not the migration's", field: "target_propolis_id",
			s: tamper(snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating), func(s *Snapshot) { s.Migration.Target.VMM = vmmD })},
	},
	RuleUnlinkedRecord: {
		{name: "active VMM record without a link", field: "active_vmm",
			s: tamper(snap(), func(s *Snapshot) { s.Active = vmmRecord(vmmA, sled1, vmmstate.Destroyed, 3) })},
		{name: "target VMM record without a link", field: "target_vmm",
			s: tamper(snap().vmm(vmmstate.Running), func(s *Snapshot) { s.Target = vmmRecord(vmmB, sled2, vmmstate.Destroyed, 3) })},
		{name: "migration record without a link", field: "migration",
			s: tamper(snap().vmm(vmmstate.Running), func(s *Snapshot) {
				s.Migration = migration.New(migM, instID, vmmA, vmmB, t0)
			})},
	},
}

// checkRule runs every case of one rule through Validate: a *RuleError
// matching ErrInvalidRecord that names the rule and the field (and matches
// the underlying error, for a field that is itself invalid).
func checkRule(t *testing.T, rule string) {
	t.Helper()
	cases := rulesCases[rule]
	if len(cases) == 0 {
		t.Fatalf("no cases for %s", rule)
	}
	for _, c := range cases {
		err := c.s.Validate()
		checkRuleErr(t, c.name, err, rule, c.field)
		if !strings.Contains(err.Error(), rule) {
			t.Errorf("%s: %q does not name the rule", c.name, err)
		}
		if c.cause != nil && !errors.Is(err, c.cause) {
			t.Errorf("%s: %v does not match the underlying %v", c.name, err, c.cause)
		}
	}
}

func TestRuleVMMIffActive(t *testing.T)          { checkRule(t, RuleVMMIffActive) }
func TestRuleTargetNeedsMigration(t *testing.T)  { checkRule(t, RuleTargetNeedsMigr) }
func TestRuleNoMigrationInCreating(t *testing.T) { checkRule(t, RuleNoMigrationInCreating) }
func TestRuleLinkedRecord(t *testing.T)          { checkRule(t, RuleLinkedRecord) }
func TestRuleIDsAgree(t *testing.T)              { checkRule(t, RuleIDsAgree) }
func TestRuleMigrationSides(t *testing.T)        { checkRule(t, RuleMigrationSides) }
func TestRuleValidFields(t *testing.T)           { checkRule(t, RuleValidFields) }
func TestRuleUnlinkedRecord(t *testing.T)        { checkRule(t, RuleUnlinkedRecord) }

// TestRulesAreDistinct: the rule names are distinct database-style names,
// and every one has a test above.
func TestRulesAreDistinct(t *testing.T) {
	rules := []string{RuleVMMIffActive, RuleTargetNeedsMigr, RuleNoMigrationInCreating, RuleLinkedRecord, RuleIDsAgree, RuleMigrationSides, RuleValidFields, RuleUnlinkedRecord}
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r] || r == "" || strings.ToLower(r) != r || strings.Contains(r, " ") {
			t.Errorf("rule %q is repeated or not a snake_case name", r)
		}
		seen[r] = true
	}
	if len(rulesCases) != len(rules) {
		t.Errorf("%d rules have cases, want %d", len(rulesCases), len(rules))
	}
	if RuleVMMIffActive != "vmm_iff_active_propolis" {
		t.Errorf("the CHECK constraint's name is %q, want §5.2's vmm_iff_active_propolis", RuleVMMIffActive)
	}
}

// TestEveryDecisionValidatesFirst: every decision of the package refuses
// every invalid snapshot with the same *RuleError Validate gives, and no
// answer beside it (D17).
func TestEveryDecisionValidatesFirst(t *testing.T) {
	ops := map[string]func(Snapshot) error{
		"EffectiveState": func(s Snapshot) error { _, err := EffectiveState(s); return err },
		"DecideMigrate":  func(s Snapshot) error { _, err := DecideMigrate(s, sled3); return err },
		"PlanUpdate":     func(s Snapshot) error { _, _, err := PlanUpdate(s, t1); return err },
		"ApplyReport": func(s Snapshot) error {
			_, _, err := ApplyReport(s, vmmA, vmmReport(vmmstate.Stopping, 9))
			return err
		},
		"Reincarnate": func(s Snapshot) error { _, err := Reincarnate(s, t1); return err },
		"Conditions":  func(s Snapshot) error { _, err := Conditions(s, t1); return err },
		"Next":        func(s Snapshot) error { _, err := Next(s, t1); return err },
		"MarkAsStarting": func(s Snapshot) error {
			_, err := MarkAsStarting(s, newVMM(vmmD), failure.StartReasonUser, t1)
			return err
		},
		"SetMigrationIDs": func(s Snapshot) error {
			_, err := SetMigrationIDs(s, vmmA, migN, vmmC, t1)
			return err
		},
		"Delete": func(s Snapshot) error { _, err := Delete(s, t1); return err },
	}
	for _, r := range AllRequests() {
		ops["Decide "+r.String()] = func(s Snapshot) error { _, err := Decide(s, r, t1); return err }
	}
	for rule, cases := range rulesCases {
		for _, c := range cases {
			for name, op := range ops {
				checkRuleErr(t, name+" on "+c.name, op(c.s), rule, c.field)
			}
		}
	}
}

// TestRuleErrorUnwrap: a RuleError matches ErrInvalidRecord and, when it
// has one, its underlying error; its text names field, detail and rule.
func TestRuleErrorUnwrap(t *testing.T) {
	base := &RuleError{Rule: "r", Field: "f", Detail: "d"}
	if !errors.Is(base, ErrInvalidRecord) || errors.Is(base, ErrConflict) {
		t.Fatal("RuleError without Err")
	}
	if got := base.Error(); got != "instancestate: f: d breaks r" {
		t.Fatalf("Error() = %q", got)
	}
	inner := errors.New("inner")
	wrapped := &RuleError{Rule: "r", Field: "f", Detail: "d", Err: inner}
	if !errors.Is(wrapped, ErrInvalidRecord) || !errors.Is(wrapped, inner) {
		t.Fatal("RuleError with Err")
	}
	ce := &ConflictError{Op: "op", Message: "m", Status: 409, Err: ErrConflict}
	if !errors.Is(ce, ErrConflict) || errors.Is(ce, ErrInvalidRecord) || ce.Error() != "instancestate: op: m" {
		t.Fatalf("ConflictError: %v", ce)
	}
}

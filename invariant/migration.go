package invariant

import (
	"errors"
	"fmt"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// CheckMigration reports the first invariant r breaks: it must pass
// migration.Record.Validate, and a side still at generation 1 must be the
// side the migrate saga inserted — pending, never updated (zero time) —
// because every write to a side raises its generation above 1 (§3.5, §8.2,
// §8.3).
func CheckMigration(r migration.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	for _, role := range migration.AllRoles() {
		s := r.Side(role)
		if s.Generation == generation.Initial() && (s.State != migration.Pending || !s.TimeUpdated.IsZero()) {
			return fmt.Errorf("%v side at generation 1 was written: %v, time %v", role, s, s.TimeUpdated)
		}
	}
	return nil
}

// CheckMigrationStep reports the first invariant broken by one update of a record —
// before is the record given, after, outcome and err what the operation
// (Apply, ApplySource, ApplyTarget or MarkFailed) returned:
//
//   - on error the outcome is zero and after == before (never half-updated);
//   - Stale and Unchanged leave after == before;
//   - Applied changes something, and only side states, generations and
//     times: ids, VMMs and the creation time stay;
//   - no side's generation decreases, and a side that changed has a strictly
//     greater one (D5);
//   - a side that was terminal is identical after (D6);
//   - after passes CheckMigration whenever before did.
func CheckMigrationStep(before, after migration.Record, outcome vmmstate.Outcome, err error) error {
	if err != nil {
		if outcome != 0 {
			return fmt.Errorf("error %v came with outcome %v", err, outcome)
		}
		if after != before {
			return fmt.Errorf("refused (%v), yet the record changed:\n before %v\n after  %v", err, before, after)
		}
		var me *migration.Error
		if !errors.As(err, &me) {
			return fmt.Errorf("error %v (%T) is not a *migration.Error", err, err)
		}
		return nil
	}
	switch outcome {
	case vmmstate.Stale, vmmstate.Unchanged:
		if after != before {
			return fmt.Errorf("%v, yet the record changed:\n before %v\n after  %v", outcome, before, after)
		}
		return nil
	case vmmstate.Applied:
		if after == before {
			return fmt.Errorf("applied, yet nothing changed: %v", before)
		}
	default:
		return fmt.Errorf("no error and no valid outcome (%v)", outcome)
	}
	if after.ID != before.ID || after.InstanceID != before.InstanceID || !after.TimeCreated.Equal(before.TimeCreated) ||
		after.Source.VMM != before.Source.VMM || after.Target.VMM != before.Target.VMM {
		return fmt.Errorf("an update changed the record's identity:\n before %v\n after  %v", before, after)
	}
	for _, role := range migration.AllRoles() {
		b, a := before.Side(role), after.Side(role)
		if a.Generation.Before(b.Generation) {
			return fmt.Errorf("%v generation went back from %v to %v", role, b.Generation, a.Generation)
		}
		if a != b && !a.Generation.After(b.Generation) {
			return fmt.Errorf("%v side changed without a newer generation: %v → %v", role, b, a)
		}
		if b.IsTerminal() && a != b {
			return fmt.Errorf("terminal %v side changed: %v → %v", role, b, a)
		}
	}
	if CheckMigration(before) == nil {
		if err := CheckMigration(after); err != nil {
			return fmt.Errorf("a valid record became invalid: %w", err)
		}
	}
	return nil
}

// CheckApply is CheckMigrationStep for an update of one side (Apply with role,
// ApplySource, ApplyTarget), which must also leave the other side exactly as
// it was.
func CheckApply(role migration.Role, before, after migration.Record, outcome vmmstate.Outcome, err error) error {
	if err := CheckMigrationStep(before, after, outcome, err); err != nil {
		return err
	}
	if o := role.Other(); after.Side(o) != before.Side(o) {
		return fmt.Errorf("an update of the %v side changed the %v side: %v → %v", role, o, before.Side(o), after.Side(o))
	}
	return nil
}

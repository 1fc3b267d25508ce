package invariant

import (
	"fmt"

	"github.com/vmlife/vmlife/vmmstate"
)

// Violation is the error every checker returns: the rule that broke and
// what was seen. Match it with errors.As.
type Violation struct {
	Rule   string // the invariant, with the rule it comes from, e.g. "D5: generation never decreases"
	Detail string // the values that broke it
}

func (v *Violation) Error() string { return "invariant: " + v.Rule + ": " + v.Detail }

func violation(rule, format string, args ...any) error {
	return &Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// The rules the checkers name.
const (
	RuleValidState      = "D4: the state is valid"
	RuleOneTruth        = "D8: the database row reads back as the same runtime"
	RuleRecord          = "§6.3: the VMM record is valid"
	RuleGenerationOrder = "D5: generation never decreases"
	RuleAppliedBumps    = "D5: Applied moves the generation forward"
	RuleNoChange        = "D5, D7: Unchanged, Stale or an error leaves the runtime as it was"
	RuleOutcome         = "an outcome is returned exactly when there is no error"
	RuleTerminal        = "D6: a terminal state absorbs, keeping the first failure reason"
	RuleEdge            = "D7: Applied follows an edge of the table"
)

// CheckRuntime returns a *Violation if r is not a runtime vmmstate could
// have produced: its state must be valid (D4), and writing it as a
// database row and reading the row back strictly must give r again (D8).
func CheckRuntime(r vmmstate.Runtime) error {
	if !r.State.IsValid() {
		return violation(RuleValidState, "state %v", r.State)
	}
	back, err := r.Row().Runtime()
	if err != nil || !same(back, r) {
		return violation(RuleOneTruth, "%v wrote %+v, read back %v, %v", r, r.Row(), back, err)
	}
	return nil
}

// CheckVMM returns a *Violation if v is not a VMM record vmmstate could
// have produced: v.Validate must accept it (non-nil ids) and its runtime
// must pass CheckRuntime.
func CheckVMM(v vmmstate.VMM) error {
	if err := v.Validate(); err != nil {
		return violation(RuleRecord, "%v", err)
	}
	return CheckRuntime(v.Runtime)
}

// CheckVMMStep returns a *Violation if one call of Runtime.Transition or
// Runtime.Observe broke an invariant. before is the runtime the call was
// made on, and after, outcome and err are what it returned:
//
//   - the generation never decreases (D5);
//   - an error comes with no outcome, and no error with a valid one;
//   - Applied: after is a valid runtime (CheckRuntime), its generation is
//     greater than before's, and it follows an edge of vmmstate's table or
//     is a newer observation of the same non-terminal kind (D5, D7);
//   - Unchanged, Stale or an error: after is before (D5, D7: a refused
//     change leaves the stored runtime untouched);
//   - a terminal state stays exactly as it was, so a failed VMM keeps its
//     first reason (D6).
//
// Runtimes are compared field by field, times with time.Time.Equal.
func CheckVMMStep(before, after vmmstate.Runtime, outcome vmmstate.Outcome, err error) error {
	if after.Generation.Before(before.Generation) {
		return violation(RuleGenerationOrder, "%v@%v became %v@%v", before.State, before.Generation, after.State, after.Generation)
	}
	if (err != nil) == outcome.IsValid() {
		return violation(RuleOutcome, "outcome %v with error %v", outcome, err)
	}
	if before.State.IsTerminal() && after.State != before.State {
		return violation(RuleTerminal, "%v became %v", before.State, after.State)
	}
	if err != nil || outcome != vmmstate.Applied {
		if !same(before, after) {
			return violation(RuleNoChange, "%v (error %v) changed %+v to %+v", outcome, err, before, after)
		}
		return nil
	}
	if err := CheckRuntime(after); err != nil {
		return err
	}
	if !after.Generation.After(before.Generation) {
		return violation(RuleAppliedBumps, "%v@%v → %v@%v", before.State, before.Generation, after.State, after.Generation)
	}
	from, to := before.State.Kind(), after.State.Kind()
	// The same kind again is only ever a newer sled-agent observation, so
	// it must be a kind a sled-agent can report.
	if from.IsTerminal() || (from != to && !vmmstate.CanTransition(from, to)) || (from == to && !to.IsReportable()) {
		return violation(RuleEdge, "%v → %v", before.State, after.State)
	}
	return nil
}

// same reports whether a and b hold the same state, generation and instant.
func same(a, b vmmstate.Runtime) bool {
	return a.State == b.State && a.Generation == b.Generation && a.TimeUpdated.Equal(b.TimeUpdated)
}

package vmmstate

import (
	"database/sql"
	"strings"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
)

// Row is a VMM runtime as the database stores it (§5.3, §6.3): the state
// column without a reason, the nullable failure_reason column beside it, the
// generation and the time. Scan the columns straight into its fields.
//
// The table's CHECK constraint failure_reason_iff_failed says the reason is
// set exactly when the state is failed. Runtime enforces it on read (D8);
// LenientRuntime reads legacy rows the way Omicron does.
type Row struct {
	State            Kind                     // column state
	FailureReason    sql.Null[failure.Reason] // column failure_reason
	StateGeneration  generation.Generation    // column state_generation
	TimeStateUpdated time.Time                // column time_state_updated
}

// The rule a row breaks when its reason and state disagree.
const ruleReasonIffFailed = "CHECK failure_reason_iff_failed"

// Row returns the columns to write for r (§6.3): a failed state writes its
// reason, every other state writes NULL, which also clears a stale reason.
func (r Runtime) Row() Row {
	// Each result is built where it is returned: assembling a Row in a local
	// and returning that copies it through memory and took twice as long
	// (see Runtime.Transition and BenchmarkConversions).
	if reason, ok := r.State.FailureReason(); ok {
		return Row{State: KindFailed, FailureReason: sql.Null[failure.Reason]{V: reason, Valid: true}, StateGeneration: r.Generation, TimeStateUpdated: r.TimeUpdated}
	}
	return Row{State: r.State.Kind(), StateGeneration: r.Generation, TimeStateUpdated: r.TimeUpdated}
}

// Runtime reads the row strictly (D8): a failed row without a reason, a
// reason on a non-failed row, or an invalid state or reason is a
// *RecordError matching ErrInvalidRecord.
func (row Row) Runtime() (Runtime, error) {
	return row.read(false)
}

// LenientRuntime reads the row with Omicron's rule for legacy rows (§6.3,
// D8): a failed row without a reason reads as Failed(Prehistoric), and a
// reason on a non-failed row is ignored. An invalid state or an invalid
// non-NULL reason on a failed row is still an error.
func (row Row) LenientRuntime() (Runtime, error) {
	return row.read(true)
}

func (row Row) read(lenient bool) (Runtime, error) {
	if !row.State.IsValid() {
		return Runtime{}, &RecordError{Field: "state", Value: row.State.String(), Rule: "vmm_state enum (accepted: " + strings.Join(kinds.Names(), ", ") + ")"}
	}
	var s State
	reason, hasReason := row.FailureReason.V, row.FailureReason.Valid
	switch {
	case row.State == KindFailed && !hasReason && lenient:
		s = Failed(failure.Prehistoric) // §5.5: what the backfill wrote
	case row.State == KindFailed && !hasReason:
		return Runtime{}, &RecordError{Field: "failure_reason", Value: "NULL", Rule: ruleReasonIffFailed + " (state is failed)"}
	case row.State == KindFailed && !reason.IsValid():
		return Runtime{}, &RecordError{Field: "failure_reason", Value: reason.String(), Rule: "vmm_failure_reason enum"}
	case row.State == KindFailed:
		s = Failed(reason)
	case hasReason && !lenient:
		return Runtime{}, &RecordError{Field: "failure_reason", Value: reason.String(), Rule: ruleReasonIffFailed + " (state is " + row.State.String() + ")"}
	default:
		s = State(row.State) // a stray reason on a lenient read is ignored (§6.3)
	}
	return Runtime{State: s, Generation: row.StateGeneration, TimeUpdated: row.TimeStateUpdated}, nil
}

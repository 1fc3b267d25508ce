package vmmstate

import (
	"errors"
	"fmt"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/internal/typedid"
)

// Sentinel errors (D3), matched with errors.Is. Errors from this package
// wrap exactly one of them (ErrTerminal also matches ErrIllegalTransition).
var (
	// ErrIllegalTransition: the edge table (D7) has no such edge, or a report
	// tried to take an edge only the control plane may take.
	ErrIllegalTransition = errors.New("illegal VMM state transition")
	// ErrTerminal: the VMM is failed or destroyed and cannot move (D6).
	ErrTerminal = errors.New("VMM state is terminal")
	// ErrInvalidState: a State, or a Runtime holding one, is not valid (the
	// zero value, for example).
	ErrInvalidState = errors.New("invalid VMM state")
	// ErrInvalidRecord: a database row or VMM record breaks a rule (D8).
	ErrInvalidRecord = errors.New("invalid VMM record")
	// ErrUnknown: a string, number or column names no value of an enum. It
	// is the same sentinel in every vmlife package.
	ErrUnknown = enum.ErrUnknown
	// ErrInvalidID: text that is not a UUID was given for an id.
	ErrInvalidID = typedid.ErrInvalid
)

// TransitionError is returned when Transition or Observe refuses a change.
// The stored runtime is unchanged and the error keeps everything needed to
// log or quarantine what was refused (D7): nothing is lost.
type TransitionError struct {
	From     Runtime // the stored runtime, which was left as it was
	To       State   // the requested or reported state
	Report   Runtime // the whole report, when Observed
	Observed bool    // true when the change came from a sled-agent report (Observe)
	Err      error   // ErrIllegalTransition, ErrTerminal, ErrInvalidState or generation.ErrOverflow
}

func (e *TransitionError) Error() string {
	verb := "transition"
	if e.Observed {
		verb = fmt.Sprintf("report at generation %v", e.Report.Generation)
	}
	return fmt.Sprintf("vmmstate: %s %v → %v refused (stored generation %v): %v",
		verb, e.From.State, e.To, e.From.Generation, e.Err)
}

// Unwrap returns the sentinel.
func (e *TransitionError) Unwrap() error { return e.Err }

// Is makes a terminal refusal match ErrIllegalTransition as well.
func (e *TransitionError) Is(target error) bool {
	return target == ErrIllegalTransition && e.Err == ErrTerminal
}

// RecordError reports a database row or record that breaks a rule (D8, D17).
type RecordError struct {
	Field string // the column or field, for example "failure_reason"
	Value string // the offending value as text ("NULL" for a null)
	Rule  string // the rule, for example the CHECK constraint's name
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("vmmstate: invalid record: %s = %s breaks %s", e.Field, e.Value, e.Rule)
}

// Unwrap returns ErrInvalidRecord.
func (e *RecordError) Unwrap() error { return ErrInvalidRecord }

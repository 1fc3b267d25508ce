package migration

import (
	"errors"
	"strings"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/internal/typedid"
)

// Sentinel errors (D3), matched with errors.Is. Every *Error wraps exactly
// one of them, or generation.ErrOverflow.
var (
	// ErrWrongVMM: a side was reported by a VMM that is not that side of
	// the migration (§8.2 steps 3 and 4: "… is not the source VMM of this
	// migration"). It is an error even when the report is stale.
	ErrWrongVMM = errors.New("VMM is not that side of the migration")
	// ErrSameMigration: one report names the same migration as both
	// migration_in and migration_out (§8.2 step 1: "migrating from a VMM to
	// itself is nonsensical").
	ErrSameMigration = errors.New("same migration reported in and out")
	// ErrIDMismatch: a report's migration_id is not the id of the record it
	// was applied to.
	ErrIDMismatch = errors.New("report is for another migration")
	// ErrIllegalTransition: a newer report moves a side along no edge of
	// the state table (back to pending).
	ErrIllegalTransition = errors.New("illegal migration state transition")
	// ErrInvalidState: a report or observation holds no valid State (the
	// zero value, for example).
	ErrInvalidState = errors.New("invalid migration state")
	// ErrInvalidRecord: a migration record breaks a rule no stored row can
	// break (a nil id, the same VMM on both sides, generation 0).
	ErrInvalidRecord = errors.New("invalid migration record")
	// ErrUnknown: a string, number or column names no value of an enum. It
	// is the same sentinel in every vmlife package.
	ErrUnknown = enum.ErrUnknown
	// ErrInvalidID: text that is not a UUID was given for an id, or a nil
	// UUID was given where a migration id is required.
	ErrInvalidID = typedid.ErrInvalid
)

// Error is the one error type of this package's operations, found with
// errors.As. It names the side, the field and what was wrong with it; its
// Unwrap returns the sentinel. Decoders (ParseState, ParseID, the JSON and
// SQL methods) return the shared enum, id and JSON errors instead.
type Error struct {
	// Role is the side the error is about; zero when it concerns the record
	// as a whole or both reports of a pair (ErrSameMigration).
	Role Role
	// Field is a database column of the record ("source_propolis_id",
	// "target_gen") or a key of the report ("migration_out.state").
	Field string
	Got   string // the offending value, as text
	Want  string // what was accepted instead
	Err   error  // the sentinel
}

// Error says which side and field were refused, what they held, what was
// wanted, and the sentinel's reason.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("migration: ")
	if e.Role.IsValid() {
		b.WriteString(e.Role.String())
		b.WriteString(" side: ")
	}
	b.WriteString(e.Field)
	b.WriteString(" = ")
	b.WriteString(e.Got)
	if e.Want != "" {
		b.WriteString(", want ")
		b.WriteString(e.Want)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// stateNames lists the accepted states for error messages.
func stateNames() string { return strings.Join(states.Names(), ", ") }

// stateList names the states ss for an illegal-transition message. It is
// only asked about a state that is not terminal (a report for a terminal
// side is Unchanged before any edge is checked), so ss is never empty.
func stateList(ss []State) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.String()
	}
	return strings.Join(names, ", ")
}

package instancestate

import (
	"errors"
	"fmt"

	"github.com/vmlife/vmlife/vmmstate"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrInvalidRecord: a snapshot or record breaks a rule of D17 (a CHECK
	// constraint, or records that disagree). It is the same sentinel as
	// vmmstate.ErrInvalidRecord.
	ErrInvalidRecord = vmmstate.ErrInvalidRecord
	// ErrConflict: a saga precondition does not hold because the instance
	// changed (§14, §8.1): the caller should re-read and decide again.
	ErrConflict = errors.New("instance changed state")
	// ErrAlreadyLocked: another updater holds the instance-updater lock (§9).
	ErrAlreadyLocked = errors.New("instance already locked by another saga")
	// ErrNotLocked: the lock given is not the one the instance holds (§9).
	ErrNotLocked = errors.New("instance is not locked by this saga")
	// ErrStaleGeneration: a guarded write carries a generation that is not
	// newer than the stored one (§8.1, §9).
	ErrStaleGeneration = errors.New("stale generation")
	// ErrUnknownVMM: a report names a VMM that is neither the instance's
	// active nor its target VMM.
	ErrUnknownVMM = errors.New("VMM is not linked to this instance")
	// ErrUnknown: a string names no value of an enum; the same sentinel in
	// every vmlife package.
	ErrUnknown = vmmstate.ErrUnknown
)

// RuleError names the rule a snapshot, record or request breaks (D17).
type RuleError struct {
	Rule   string // the rule, for example "vmm_iff_active_propolis"
	Field  string // the field that breaks it, in the database column's name
	Detail string // what was found
	Err    error  // the underlying error, if any
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("instancestate: %s: %s breaks %s", e.Field, e.Detail, e.Rule)
}

// Unwrap returns ErrInvalidRecord and the underlying error, if any.
func (e *RuleError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidRecord}
	}
	return []error{ErrInvalidRecord, e.Err}
}

// NotLinkedError reports a sled-agent report about a VMM the snapshot does
// not link (ApplyReport). That is not an invalid record: the watcher polls
// VMMs that are no longer linked but not yet reaped, and a migration
// source keeps reporting after the instance moved on. Its report belongs to
// that VMM's own record, not to this instance's snapshot.
type NotLinkedError struct {
	VMM    vmmstate.ID // the VMM the report came from
	Active vmmstate.ID // the snapshot's active VMM (zero: none)
	Target vmmstate.ID // the snapshot's target VMM (zero: none)
}

func (e *NotLinkedError) Error() string {
	return fmt.Sprintf("instancestate: report from VMM %v, which is neither the active (%v) nor the target (%v) VMM of this instance", e.VMM, orNone(e.Active), orNone(e.Target))
}

// Unwrap returns ErrUnknownVMM.
func (e *NotLinkedError) Unwrap() error { return ErrUnknownVMM }

func orNone(id vmmstate.ID) string {
	if id.IsZero() {
		return "none"
	}
	return id.String()
}

// overflowed is the error for a change that would take the generation in
// field past 2^63−1 (D5: never a wrap, never a panic).
func overflowed(field string, err error) error {
	return &RuleError{Rule: "generation below 2^63-1", Field: field, Detail: err.Error(), Err: err}
}

// ConflictError reports a saga precondition or guarded write that no longer
// holds (§8.1, §9, §14). Status is the HTTP status the API answers.
type ConflictError struct {
	Op      string // the operation, for example "mark as starting"
	Message string // the API message
	Status  int    // 409, or 400 for a request that can never succeed
	Err     error  // ErrConflict, ErrAlreadyLocked, ErrNotLocked or ErrStaleGeneration
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("instancestate: %s: %s", e.Op, e.Message)
}

// Unwrap returns the sentinel.
func (e *ConflictError) Unwrap() error { return e.Err }

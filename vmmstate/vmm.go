package vmmstate

import (
	"fmt"
	"time"
)

// VMM is the part of a vmm record vmlife reasons about (§5.3, §6.3): which
// VMM, for which instance, on which sled, and its runtime.
type VMM struct {
	ID         ID
	InstanceID InstanceID
	SledID     SledID
	Runtime    Runtime
}

// New returns the record of a VMM just inserted by a start or migrate saga:
// creating, generation 1, stamped now (§6.3, §14, §15).
func New(id ID, instance InstanceID, sled SledID, now time.Time) VMM {
	return VMM{ID: id, InstanceID: instance, SledID: sled, Runtime: NewRuntime(now)}
}

// Validate reports the first field of v that no stored VMM could have: a nil
// id, instance or sled id, or an invalid state. The error is a *RecordError.
func (v VMM) Validate() error {
	switch {
	case v.ID.IsZero():
		return &RecordError{Field: "id", Value: "nil UUID", Rule: "a VMM has an id"}
	case v.InstanceID.IsZero():
		return &RecordError{Field: "instance_id", Value: "nil UUID", Rule: "a VMM belongs to an instance"}
	case v.SledID.IsZero():
		return &RecordError{Field: "sled_id", Value: "nil UUID", Rule: "a VMM runs on a sled"}
	}
	return v.Runtime.Validate()
}

// String returns a short description for logs: "VMM <id> on sled <id>: running@4".
func (v VMM) String() string {
	return fmt.Sprintf("VMM %v on sled %v: %v@%v", v.ID, v.SledID, v.Runtime.State, v.Runtime.Generation)
}

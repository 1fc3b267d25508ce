package instancestate

import (
	"github.com/vmlife/vmlife/generation"
)

// Lock is a held instance-updater lock (§9): who holds it and the updater
// generation at which it was taken. Only Lock and InheritLock make one.
type Lock struct {
	Updater UpdaterID
	Gen     generation.Generation
}

// Lock takes the instance-updater lock for updater (§9). Taking a lock the
// same updater already holds returns it at the same generation (§21.2); a
// free lock is taken at updater_gen+1; one held by another updater is a
// *ConflictError matching ErrAlreadyLocked.
func (i Instance) Lock(updater UpdaterID) (Instance, Lock, error) {
	switch {
	case updater.IsZero():
		return i, Lock{}, &RuleError{Rule: "an updater has an id", Field: "updater_id", Detail: "nil UUID"}
	case i.UpdaterID == updater:
		return i, Lock{Updater: updater, Gen: i.UpdaterGen}, nil
	case i.isLocked():
		return i, Lock{}, &ConflictError{Op: "lock", Message: "instance already locked by another saga", Status: 409, Err: ErrAlreadyLocked}
	}
	g, err := i.UpdaterGen.Next()
	if err != nil {
		return i, Lock{}, overflowed("updater_gen", err)
	}
	i.UpdaterID, i.UpdaterGen = updater, g
	return i, Lock{Updater: updater, Gen: g}, nil
}

// InheritLock hands a held lock from the parent saga to child (§9): the
// child holds it at parent.Gen+1. Inheriting a lock the child already holds
// is a no-op; anything else is a *ConflictError matching ErrAlreadyLocked.
func (i Instance) InheritLock(parent Lock, child UpdaterID) (Instance, Lock, error) {
	switch {
	case child.IsZero():
		return i, Lock{}, &RuleError{Rule: "an updater has an id", Field: "updater_id", Detail: "nil UUID"}
	case i.UpdaterID == child:
		return i, Lock{Updater: child, Gen: i.UpdaterGen}, nil
	case i.UpdaterID != parent.Updater || i.UpdaterGen != parent.Gen:
		return i, Lock{}, &ConflictError{Op: "inherit lock", Message: "instance already locked by another saga", Status: 409, Err: ErrAlreadyLocked}
	}
	g, err := parent.Gen.Next()
	if err != nil {
		return i, Lock{}, overflowed("updater_gen", err)
	}
	i.UpdaterID, i.UpdaterGen = child, g
	return i, Lock{Updater: child, Gen: g}, nil
}

// Unlock releases a held lock (§9): true when it was released. A lock held by
// someone else, or no longer held, releases nothing (false, no error); the
// same updater holding it at another generation is a *ConflictError
// matching ErrNotLocked.
func (i Instance) Unlock(l Lock) (Instance, bool, error) {
	switch {
	case i.UpdaterID != l.Updater:
		return i, false, nil
	case i.UpdaterGen != l.Gen:
		return i, false, &ConflictError{Op: "unlock", Message: "instance is locked by this saga, but at a different generation", Status: 500, Err: ErrNotLocked}
	}
	g, err := l.Gen.Next()
	if err != nil {
		return i, false, overflowed("updater_gen", err)
	}
	i.UpdaterID, i.UpdaterGen = UpdaterID{}, g
	return i, true, nil
}

// Commit writes an update plan's runtime and intent and releases the lock in
// one step (§9, §13.4). It applies only while l is held at its generation
// and the plan's generation is newer than the stored one. Committing the
// same plan again reports false (already committed). A state generation that
// moved on while the lock is still held is a *ConflictError matching
// ErrStaleGeneration ("instance state has changed": the saga unwinds); a
// lock not held is one matching ErrNotLocked.
func (i Instance) Commit(l Lock, p Plan) (Instance, bool, error) {
	held := i.UpdaterID == l.Updater && i.UpdaterGen == l.Gen
	newer := p.Runtime.Generation.After(i.Runtime.Generation)
	switch {
	case held && newer:
		g, err := l.Gen.Next()
		if err != nil {
			return i, false, overflowed("updater_gen", err)
		}
		i = i.withPlan(p)
		i.UpdaterID, i.UpdaterGen = UpdaterID{}, g
		return i, true, nil
	case !held && !newer:
		return i, false, nil // §9: already committed
	case held:
		return i, false, &ConflictError{Op: "commit update", Message: "instance state has changed", Status: 409, Err: ErrStaleGeneration}
	}
	return i, false, &ConflictError{Op: "commit update", Message: "instance is not locked by this saga", Status: 500, Err: ErrNotLocked}
}

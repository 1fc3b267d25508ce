package instancestate

import "time"

// FinishCreate is the create saga's last step (§16): the instance record
// moves from creating to no_vmm at generation+1, stamped now. Finishing an
// instance that is no longer creating returns it unchanged with applied
// false: the step already ran, or the instance moved on (§16 ignores the
// failed guard too).
func FinishCreate(in Instance, now time.Time) (Instance, bool, error) {
	if in.Runtime.State != NexusCreating {
		return in, false, nil
	}
	rt, err := in.Runtime.next(now)
	if err != nil {
		return in, false, overflowed("state_generation", err)
	}
	rt.State = NexusNoVMM
	in.Runtime = rt
	return in, true, nil
}

// UnwindCreate is the create saga's undo (§16): the record is deleted
// straight from creating — state destroyed at generation+1, stamped now —
// so that it never passes through failed, which would make it a candidate
// for auto-restart. An instance no longer creating is returned unchanged
// with applied false: the saga got past the point its undo covers.
func UnwindCreate(in Instance, now time.Time) (Instance, bool, error) {
	if in.Runtime.State != NexusCreating {
		return in, false, nil
	}
	rt, err := in.Runtime.next(now)
	if err != nil {
		return in, false, overflowed("state_generation", err)
	}
	rt.State = NexusDestroyed
	in.Runtime = rt
	in.IntendedState = IntendDestroyed
	return in, true, nil
}

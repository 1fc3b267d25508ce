package datastore

import (
	"context"
	"errors"
	"time"

	"github.com/vmlife/vmlife/instancestate"
)

// RequestResult is what InstanceRequest decided and wrote.
type RequestResult struct {
	// Decision is the library's answer (§10, D16, D23): the action the
	// control plane takes next and the status the API answers.
	Decision instancestate.Decision
	// Intent is the intended state written, or IntentUnchanged.
	Intent instancestate.IntendedState
}

// InstanceRequest decides a user's request on the instance as it is stored
// and records what the decision writes (RecordDecision). Sagas are not
// run: the decision says which to run. A request on an absent or deleted
// instance is decided like any other — rejected with status 404 (D23).
func InstanceRequest(ctx context.Context, st Store, id instancestate.ID, r instancestate.Request, now time.Time) (RequestResult, error) {
	s, err := st.InstanceFetchAll(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return RequestResult{Decision: instancestate.NotFound(id)}, nil
	}
	if err != nil {
		return RequestResult{}, err
	}
	d, err := instancestate.Decide(s, r, now)
	if err != nil {
		return RequestResult{}, err
	}
	return RecordDecision(ctx, st, id, d)
}

// RecordDecision records what decision d, made on instance id, writes: the
// intent of an accepted request (D16), and for update_runtime the runtime
// with it, in one guarded write (D25) — the one home of this write (D31),
// for a caller that decided on a snapshot of its own (InstanceRequest
// decides on the stored one). A rejected decision, or one that writes
// nothing, is returned as it is. A write that loses a generation race is
// answered 409, as §10.2 answers it, and one on an instance deleted
// meanwhile 404, with nothing written.
func RecordDecision(ctx context.Context, st InstanceWrites, id instancestate.ID, d instancestate.Decision) (RequestResult, error) {
	if !d.Accepted() {
		return RequestResult{Decision: d}, nil
	}
	var res Result
	var err error
	switch {
	case d.Action == instancestate.ActionUpdateRuntime:
		res, err = st.InstanceUpdateRuntime(ctx, id, d.Runtime, d.Intent)
	case d.Intent != instancestate.IntentUnchanged:
		res, err = st.InstanceSetIntendedState(ctx, id, d.Intent)
		if err == nil && res.Reason == ReasonUnchanged {
			res.Applied = true // the intent was already what the request asks
		}
	default:
		return RequestResult{Decision: d}, nil
	}
	switch {
	case errors.Is(err, ErrNotFound), res.Reason == ReasonDeleted:
		// InstanceSetIntendedState refuses a deleted instance as not
		// found; InstanceUpdateRuntime answers it not applied, deleted.
		return RequestResult{Decision: instancestate.NotFound(id)}, nil
	case err != nil:
		return RequestResult{}, err
	case !res.Applied:
		return RequestResult{Decision: instancestate.Decision{Action: instancestate.ActionReject, Status: 409,
			Message: "The instance was previously in a state that allowed the requested state change, but the instance's state changed before the request could be completed"}}, nil
	}
	return RequestResult{Decision: d, Intent: d.Intent}, nil
}

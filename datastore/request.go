package datastore

import (
	"context"
	"errors"
	"strconv"
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
// and records what the decision writes: the intent of an accepted request
// (D16), and for update_runtime the runtime with it, in one guarded write
// (D25). Sagas are not run: the decision says which to run. A request on an
// absent or deleted instance is decided like any other — rejected with
// status 404 (D23). A write that loses a generation race is answered 409,
// as §10.2 answers it, with nothing written.
func InstanceRequest(ctx context.Context, st Store, id instancestate.ID, r instancestate.Request, now time.Time) (RequestResult, error) {
	s, err := st.InstanceFetchAll(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return RequestResult{Decision: instancestate.Decision{Action: instancestate.ActionReject, Status: 404,
			Message: "not found: instance with id \"" + id.String() + "\""}}, nil
	}
	if err != nil {
		return RequestResult{}, err
	}
	d, err := instancestate.Decide(s, r, now)
	if err != nil {
		return RequestResult{}, err
	}
	if !d.Accepted() {
		return RequestResult{Decision: d}, nil
	}
	var res Result
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
	case errors.Is(err, ErrNotFound):
		// Deleted between the read and the write.
		return RequestResult{Decision: instancestate.Decision{Action: instancestate.ActionReject, Status: 404,
			Message: "not found: instance with id \"" + id.String() + "\""}}, nil
	case err != nil:
		return RequestResult{}, err
	case !res.Applied:
		return RequestResult{Decision: instancestate.Decision{Action: instancestate.ActionReject, Status: 409,
			Message: "The instance was previously in a state that allowed the requested state change, but the instance's state changed before the request could be completed"}}, nil
	}
	return RequestResult{Decision: d, Intent: d.Intent}, nil
}

// UpdateOutcome says how InstanceUpdateSaga ended.
type UpdateOutcome uint8

// The outcomes, as `vmlife script` names them.
const (
	UpdateCommitted UpdateOutcome = iota + 1 // at least one plan was committed
	UpdateNothing                            // the plan had no work
	UpdateLocked                             // another updater holds the lock
	UpdateConflict                           // the state moved while the lock was held: the saga unwinds
	UpdateNotFound                           // no such instance, or it is deleted
)

var updateOutcomes = [...]string{UpdateCommitted: "committed", UpdateNothing: "nothing", UpdateLocked: "locked",
	UpdateConflict: "conflict", UpdateNotFound: "not_found"}

// String returns the outcome's wire string.
func (o UpdateOutcome) String() string {
	if o == 0 || int(o) >= len(updateOutcomes) {
		return "datastore.UpdateOutcome(" + strconv.Itoa(int(o)) + ")"
	}
	return updateOutcomes[o]
}

// MaxUpdateRounds bounds how many plans one InstanceUpdateSaga commits in a
// row (§13.4's chaining): each plan moves the instance forward, and no
// snapshot needs more than a few.
const MaxUpdateRounds = 8

// InstanceUpdateSaga runs the instance-update saga through the store (§13,
// D11): take the updater lock for saga, read the instance, plan; with no
// work, unlock; otherwise commit the plan (runtime, intent and loss,
// releasing the lock), mark the VMMs it destroys deleted, and go again
// while the plan has more to do (§13.4). A lost race is an outcome, not an
// error: another updater holds the lock (locked), or the state moved while
// the lock was held (conflict: the lock is released, as the saga's undo
// does). It returns the plans committed, in order.
//
// It is the saga in one call, for a caller that runs it inline: one lock,
// no handover, three round trips a round. Package sagas has the same saga
// as steps for a saga executor (sagas.Update: the lock handed to the real
// saga, §13.2, and the sleds' room released); a property test there holds
// the two to the same records for any snapshot.
func InstanceUpdateSaga(ctx context.Context, st Store, id instancestate.ID, saga instancestate.UpdaterID, now time.Time) (UpdateOutcome, []instancestate.Plan, error) {
	var done []instancestate.Plan
	outcome := func(o UpdateOutcome) UpdateOutcome {
		if len(done) > 0 && (o == UpdateNothing || o == UpdateLocked) {
			return UpdateCommitted
		}
		return o
	}
	for range MaxUpdateRounds {
		l, err := st.InstanceUpdaterLock(ctx, id, saga)
		switch {
		case errors.Is(err, ErrNotFound):
			return outcome(UpdateNotFound), done, nil
		case errors.Is(err, ErrAlreadyLocked):
			return outcome(UpdateLocked), done, nil
		case err != nil:
			return 0, done, err
		}
		s, err := st.InstanceFetchAll(ctx, id)
		if err != nil {
			_, _ = st.InstanceUpdaterUnlock(ctx, id, l) // best effort: the read failed first
			if errors.Is(err, ErrNotFound) {
				return outcome(UpdateNotFound), done, nil
			}
			return 0, done, err
		}
		p, required, err := instancestate.PlanUpdate(s, now)
		if err != nil || !required {
			if _, uerr := st.InstanceUpdaterUnlock(ctx, id, l); uerr != nil && err == nil {
				err = uerr
			}
			if err != nil {
				return 0, done, err
			}
			return outcome(UpdateNothing), done, nil
		}
		res, err := st.InstanceCommitUpdate(ctx, id, l, p)
		switch {
		case errors.Is(err, ErrConflict):
			if _, uerr := st.InstanceUpdaterUnlock(ctx, id, l); uerr != nil {
				return 0, done, uerr
			}
			return UpdateConflict, done, nil
		case err != nil:
			return 0, done, err
		case !res.Applied:
			return outcome(UpdateNothing), done, nil
		}
		done = append(done, p)
		// §13.2: the VMMs are marked deleted only after the instance stopped
		// pointing at them.
		if !p.DestroyActiveVMM.IsZero() {
			if _, err := st.VMMMarkDeleted(ctx, p.DestroyActiveVMM, now); err != nil && !errors.Is(err, ErrNotFound) {
				return 0, done, err
			}
		}
		if !p.DestroyTargetVMM.IsZero() {
			if _, err := st.VMMMarkDeleted(ctx, p.DestroyTargetVMM, now); err != nil && !errors.Is(err, ErrNotFound) {
				return 0, done, err
			}
		}
	}
	return UpdateCommitted, done, nil
}

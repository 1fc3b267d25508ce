package sagas

import (
	"context"
	"errors"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Start is the instance-start saga (§14): choose the VMM's id, reserve a sled, insert the VMM
// record, mark the instance starting with it, register it with its
// sled-agent, and clear any recorded start failure (D13).
//
// Unwinding unregisters the VMM (a VMM the agent proves gone is failed and
// the unwind stops, §14), moves the instance back to no_vmm unless it has
// moved on (the generation guard), marks the VMM saga_unwound, releases
// the reservation and — last, as the first step's undo — records why the
// start failed, when a start is still what the instance needs (D13).
type Start struct {
	Instance instancestate.ID
	Reason   failure.StartReason

	// Filled in as the saga runs.

	// VMM is the new VMM's id, Sled where it was placed.
	VMM  vmmstate.ID
	Sled vmmstate.SledID
	// Created is the VMM record's creation time, chosen with its id: the
	// record create_vmm_record inserts is the same however often, and
	// whenever, a recovery runs it again — a different one under the same
	// id would be refused (D29).
	Created time.Time
	// Started is the instance as mark_as_starting wrote it.
	Started instancestate.Instance
	// Cause is why the start failed, as D13 records it; zero while the
	// saga runs and when it completed. A failure of a step that does not
	// say why (an injected fault, a store error) is CauseInternal.
	Cause failure.Cause
	// Conflict: the saga unwound because the instance changed state before
	// it could be started (§14's 409) — another start won, or the user
	// stopped it — which is no start failure.
	Conflict bool
	// UnwindSkipped: the mark-as-starting undo found the instance moved on
	// and left it (§14), so it keeps a linked VMM the update plan unlinks.
	UnwindSkipped bool
	// Recorded: the unwind recorded a start failure.
	Recorded bool

	// startedDoc caches Started as the log writes it (marshalState), for
	// startedOf.
	startedDoc []byte
	startedOf  instancestate.Instance
}

// Start's steps.
const (
	StepChooseVMMID       = "choose_vmm_id"
	StepAllocServer       = "alloc_server"
	StepCreateVMM         = "create_vmm_record"
	StepMarkAsStarting    = "mark_as_starting"
	StepRegister          = "ensure_registered"
	StepClearStartFailure = "clear_start_failure"
)

// Kind implements Saga.
func (s *Start) Kind() Kind { return KindStart }

func (s *Start) fail(c failure.Cause, err error) error {
	s.Cause = c
	return err
}

// Steps implements Saga.
func (s *Start) Steps(env *Env) []Step {
	return []Step{
		{Name: StepChooseVMMID,
			Do: func(context.Context) error {
				if s.VMM.IsZero() {
					s.VMM = vmmstate.IDFromUUID(env.NewID())
				}
				if s.Created.IsZero() {
					s.Created = env.Now()
				}
				return nil
			},
			// The first step's undo runs last: the place to say why the
			// start failed.
			Undo: func(ctx context.Context) error { return s.recordFailure(ctx, env) }},
		{Name: StepAllocServer,
			Do: func(ctx context.Context) error {
				sled, err := env.Sleds.Reserve(ctx, s.Instance, s.VMM)
				var pe *PlacementError
				switch {
				case errors.As(err, &pe):
					return s.fail(pe.Cause, err)
				case err != nil:
					return s.fail(failure.CauseInternal, err)
				}
				s.Sled = sled
				return nil
			},
			Undo: func(ctx context.Context) error { return env.Sleds.Release(ctx, s.VMM) }},
		{Name: StepCreateVMM,
			Do: func(ctx context.Context) error {
				_, err := env.Store.VMMInsert(ctx, vmmstate.New(s.VMM, s.Instance, s.Sled, s.created(env)))
				if err != nil {
					return s.fail(failure.CauseInternal, err)
				}
				return nil
			},
			Undo: func(ctx context.Context) error { return markUnwound(ctx, env, s.VMM) }},
		{Name: StepMarkAsStarting,
			Do: func(ctx context.Context) error {
				rec, err := env.Store.InstanceMarkAsStarting(ctx, s.Instance, datastore.MarkAsStartingArgs{VMM: s.VMM, Reason: s.Reason, Now: env.Now()})
				switch {
				case errors.Is(err, datastore.ErrConflict), errors.Is(err, datastore.ErrNotFound):
					s.Conflict = true // §14: 409, no start failure
					return err
				case err != nil:
					return s.fail(failure.CauseInternal, err)
				}
				s.Started = rec
				return nil
			},
			Undo: func(ctx context.Context) error {
				// The runtime UnwindStart makes of the one the saga wrote,
				// with the generation guard: it applies exactly while the
				// stored runtime is still that one (§14).
				undone, _, err := instancestate.UnwindStart(s.Started, s.Started, env.Now())
				if err != nil {
					return err
				}
				res, err := env.Store.InstanceUpdateRuntime(ctx, s.Instance, undone.Runtime, instancestate.IntentUnchanged)
				switch {
				case errors.Is(err, datastore.ErrNotFound):
					return nil // deleted meanwhile
				case err != nil:
					return err
				}
				if !res.Applied {
					snap, err := env.Store.InstanceFetchAll(ctx, s.Instance)
					// A replay finds its own write; anything else is the
					// instance having moved on.
					s.UnwindSkipped = err != nil || snap.Instance.Runtime != undone.Runtime
				}
				return nil
			}},
		{Name: StepRegister,
			Do: func(ctx context.Context) error {
				row, err := env.Store.VMMFetch(ctx, s.VMM)
				if err != nil {
					return s.fail(failure.CauseInternal, err)
				}
				r, err := env.Agent.Register(ctx, row.VMM, migration.ID{})
				if err != nil {
					gone, reason, cause := classify(err)
					if gone {
						// §11: registration's own proof of death fails the VMM.
						if ferr := markFailed(ctx, env, s.Instance, s.VMM, reason); ferr != nil {
							err = errors.Join(err, ferr)
						}
					}
					return s.fail(cause, err)
				}
				if err := applyReport(ctx, env, s.Instance, s.VMM, r); err != nil {
					return s.fail(failure.CauseInternal, err)
				}
				return nil
			},
			Undo: func(ctx context.Context) error { return unregister(ctx, env, s.Instance, s.VMM) }},
		{Name: StepClearStartFailure,
			Do: func(ctx context.Context) error {
				// D13: a start that succeeded clears the recorded failure.
				_, err := env.Store.InstanceRecordStartFailure(ctx, s.Instance, failure.StartFailure{})
				if err != nil && !errors.Is(err, datastore.ErrNotFound) {
					return s.fail(failure.CauseInternal, err)
				}
				return nil
			}},
	}
}

// recordFailure is the end of an unwind (D13): why the start failed is
// recorded, unless the instance no longer needs starting — a concurrent
// start won, or the user stopped it — since only an instance a start
// would still be run for is waiting on this one.
func (s *Start) recordFailure(ctx context.Context, env *Env) error {
	if s.Conflict {
		return nil
	}
	if s.Cause == 0 {
		s.Cause = failure.CauseInternal
	}
	snap, err := env.Store.InstanceFetchAll(ctx, s.Instance)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := env.Now()
	d, err := instancestate.Decide(snap, instancestate.RequestStart, now)
	if err != nil {
		return err
	}
	if d.Action != instancestate.ActionStartSaga || snap.Instance.IntendedState != instancestate.IntendRunning {
		return nil
	}
	_, err = env.Store.InstanceRecordStartFailure(ctx, s.Instance, failure.NewStartFailure(s.Cause, s.Reason, now))
	if err != nil && !errors.Is(err, datastore.ErrNotFound) {
		return err
	}
	s.Recorded = true
	return nil
}

// created is the VMM's creation time: Created, or now for a saga logged
// before it was chosen with the id.
func (s *Start) created(env *Env) time.Time {
	if s.Created.IsZero() {
		return env.Now()
	}
	return s.Created
}

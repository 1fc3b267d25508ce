package sagas

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// Update is the instance-update saga (§13, D11), its two sagas of §13.2 as
// one list of steps: take the updater lock, hand it to the real saga
// (inheritance), read the instance and plan; with nothing to do, unlock
// and end; otherwise commit the plan (§9: the write releases the lock),
// release the room of the VMMs the plan destroys and mark their records
// deleted, and say what comes next.
//
// An update saga undoes nothing but the lock (§13.1: partial progress
// stays, to be retried): a failed step before the commit — a commit that
// finds the state moved (§9), a read that fails — unlocks and unwinds.
type Update struct {
	Instance instancestate.ID

	// Filled in as the saga runs.

	// Updater is the lock's first holder (the start saga of §13.2), Child
	// the real saga that inherits it.
	Updater, Child instancestate.UpdaterID
	// Lock is the lock as the saga last held it.
	Lock instancestate.Lock
	// Snapshot is what the plan was made from; Plan the plan; Committed
	// whether this saga's commit wrote it.
	Snapshot  instancestate.Snapshot
	Plan      instancestate.Plan
	Committed bool
	// Then is what the instance needs after the saga (§13.4): another
	// update, a restart (§17), both, or nothing. The caller starts them.
	Then Then

	parent   instancestate.Lock
	inherits bool
	planned  time.Time // when Plan was made from Snapshot

	// doc caches the snapshot document the log carries (marshalState),
	// as written for docOf: the snapshot does not change after the plan,
	// and the log writes it after every node.
	doc   []byte
	docOf instancestate.Document
}

// Then is what an update saga says comes next (§13.4's successors): a set
// of ThenUpdate and ThenRestart, each asked for on its own. As Omicron does
// since its PR #9691, a restart is asked for whenever the instance
// qualifies for one, even when another update is chained too.
type Then uint8

// What comes after an update saga. ThenUpdate and ThenRestart are bits of
// the set; ThenUpdateAndRestart is both.
const (
	ThenNothing          Then = 0
	ThenUpdate           Then = 1 << 0 // the plan still has work: chain another update saga
	ThenRestart          Then = 1 << 1 // the instance should be restarted (§17, D15, D22)
	ThenUpdateAndRestart      = ThenUpdate | ThenRestart
)

var thenNames = [...]string{ThenNothing: "nothing", ThenUpdate: "update", ThenRestart: "restart",
	ThenUpdateAndRestart: "update_and_restart"}

// Has reports whether t asks for what next is: t.Has(ThenRestart) is true
// for a restart alone and for a restart beside a chained update.
func (t Then) Has(next Then) bool { return next != 0 && t&next == next }

// String returns what comes next as `vmlife script` prints it: "nothing",
// "update", "restart" or "update_and_restart".
func (t Then) String() string {
	if int(t) >= len(thenNames) {
		return "sagas.Then(" + strconv.Itoa(int(t)) + ")"
	}
	return thenNames[t]
}

// How an update saga ends early (Exec.Ended).
const (
	EndedLocked   = "locked"    // another updater holds the lock
	EndedNotFound = "not_found" // no such instance, or deleted
	EndedNothing  = "nothing"   // the plan had no work
)

// Update's steps.
const (
	StepLock          = "lock_instance"
	StepBecomeUpdater = "become_updater"
	StepPlan          = "fetch_and_plan"
	StepCommit        = "commit_instance_updates"
	StepDestroyVMMs   = "destroy_vmms"
	StepChain         = "chain_successor"
)

// Kind implements Saga.
func (s *Update) Kind() Kind { return KindUpdate }

// Steps implements Saga.
func (s *Update) Steps(env *Env) []Step {
	unlock := func(ctx context.Context, l instancestate.Lock) error {
		_, err := env.Store.InstanceUpdaterUnlock(ctx, s.Instance, l)
		if errors.Is(err, datastore.ErrNotFound) || errors.Is(err, datastore.ErrNotLocked) {
			return nil // deleted, or the lock moved on: nothing of ours to release
		}
		return err
	}
	return []Step{
		{Name: StepLock,
			Do: func(ctx context.Context) error {
				if s.Updater.IsZero() {
					s.Updater = instancestate.UpdaterIDFromUUID(env.NewID())
				}
				l, err := env.Store.InstanceUpdaterLock(ctx, s.Instance, s.Updater)
				switch {
				case errors.Is(err, datastore.ErrAlreadyLocked):
					if s.inherits {
						return nil // run again after the child took the lock over
					}
					return end(EndedLocked)
				case errors.Is(err, datastore.ErrNotFound):
					return end(EndedNotFound)
				case err != nil:
					return err
				}
				s.parent, s.Lock = l, l
				return nil
			},
			Undo: func(ctx context.Context) error {
				if s.inherits {
					return nil // the lock is the child's, released by its undo
				}
				return unlock(ctx, s.parent)
			}},
		{Name: StepBecomeUpdater,
			Do: func(ctx context.Context) error {
				if s.Child.IsZero() {
					s.Child = instancestate.UpdaterIDFromUUID(env.NewID())
				}
				// Run again, the step passes the parent's lock again: the
				// store answers the inherited lock (§9).
				l, err := env.Store.InstanceUpdaterInheritLock(ctx, s.Instance, s.parent, s.Child)
				if err != nil {
					return err
				}
				s.Lock, s.inherits = l, true
				return nil
			},
			Undo: func(ctx context.Context) error { return unlock(ctx, s.Lock) }},
		{Name: StepPlan,
			Do: func(ctx context.Context) error {
				snap, err := env.Store.InstanceFetchAll(ctx, s.Instance)
				if err != nil {
					return err
				}
				now := env.Now()
				p, required, err := instancestate.PlanUpdate(snap, now)
				if err != nil {
					return err
				}
				s.Snapshot, s.Plan, s.planned = snap, p, now
				if !required {
					if err := unlock(ctx, s.Lock); err != nil {
						return err
					}
					s.Plan = instancestate.Plan{}
					s.then(snap, env)
					return end(EndedNothing)
				}
				return nil
			}},
		{Name: StepCommit,
			Do: func(ctx context.Context) error {
				res, err := env.Store.InstanceCommitUpdate(ctx, s.Instance, s.Lock, s.Plan)
				if err != nil {
					return err
				}
				// Not applied: already committed, by this step's first run.
				s.Committed = s.Committed || res.Applied
				return nil
			}},
		{Name: StepDestroyVMMs,
			Do: func(ctx context.Context) error { return destroyVMMs(ctx, env, s.Plan) }},
		{Name: StepChain,
			Do: func(ctx context.Context) error {
				snap, err := env.Store.InstanceFetchAll(ctx, s.Instance)
				if errors.Is(err, datastore.ErrNotFound) {
					return nil
				}
				if err != nil {
					return err
				}
				s.then(snap, env)
				if _, required, err := instancestate.PlanUpdate(snap, env.Now()); err == nil && required {
					s.Then |= ThenUpdate
				}
				return nil
			}},
	}
}

// setSagaID takes the updater ids from the saga's own id (named): the
// updater is the saga, as in Omicron, and the child a name derived from it.
func (s *Update) setSagaID(id uuid.UUID) {
	if s.Updater.IsZero() {
		s.Updater = instancestate.UpdaterIDFromUUID(id)
	}
	if s.Child.IsZero() {
		s.Child = instancestate.UpdaterIDFromUUID(uuid.NewSHA1(id, []byte("child")))
	}
}

// then records whether the instance, as snap shows it, should be restarted
// (§13.4's reincarnation hook), whatever else comes next.
func (s *Update) then(snap instancestate.Snapshot, env *Env) {
	s.Then = ThenNothing
	if r, err := instancestate.Reincarnate(snap, env.Now()); err == nil && r.Should {
		s.Then = ThenRestart
	}
}

// destroyVMMs is §13.2's destroy-vmm: each VMM the plan destroys gives up
// its room and has its record marked deleted — only after the instance
// stopped pointing at it, which the commit did.
func destroyVMMs(ctx context.Context, env *Env, p instancestate.Plan) error {
	for _, id := range [...]vmmstate.ID{p.DestroyActiveVMM, p.DestroyTargetVMM} {
		if id.IsZero() {
			continue
		}
		res, err := env.Store.VMMMarkDeleted(ctx, id, env.Now())
		switch {
		case errors.Is(err, datastore.ErrNotFound):
		case err != nil:
			return err
		case !res.Applied && res.Reason != datastore.ReasonDeleted:
			continue // not destroyable yet (§8.2): the reaper comes back to it
		}
		if err := env.Sleds.Release(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

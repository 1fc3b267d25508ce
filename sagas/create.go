package sagas

import (
	"context"
	"errors"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
)

// Create is the instance-create saga (§16): insert the record creating,
// then finish it no_vmm. Its undo deletes the record straight from
// creating, never through a restartable failed. An instance created to run
// is then started by the caller, with reason auto_start, as a saga of its
// own: a failed start does not fail the create (§16).
type Create struct {
	// Instance is the record to insert, as instancestate.New makes it.
	Instance instancestate.Instance
}

// Create's steps.
const (
	StepCreateRecord = "create_instance_record"
	StepFinishCreate = "finish_create"
)

// Kind implements Saga.
func (s *Create) Kind() Kind { return KindCreate }

// Steps implements Saga.
func (s *Create) Steps(env *Env) []Step {
	id := s.Instance.ID
	return []Step{
		{Name: StepCreateRecord,
			Do: func(ctx context.Context) error {
				_, err := env.Store.InstanceInsert(ctx, s.Instance)
				return err
			},
			Undo: func(ctx context.Context) error {
				snap, err := env.Store.InstanceFetchAll(ctx, id)
				if errors.Is(err, datastore.ErrNotFound) {
					return nil // deleted already: the undo ran
				}
				if err != nil {
					return err
				}
				rec, applied, err := instancestate.UnwindCreate(snap.Instance, env.Now())
				if err != nil {
					return err
				}
				if applied {
					if _, err := env.Store.InstanceUpdateRuntime(ctx, id, rec.Runtime, instancestate.IntentUnchanged); err != nil {
						return err
					}
				}
				_, err = env.Store.InstanceDelete(ctx, id, env.Now())
				return err
			}},
		{Name: StepFinishCreate,
			Do: func(ctx context.Context) error {
				snap, err := env.Store.InstanceFetchAll(ctx, id)
				if err != nil {
					return err
				}
				rec, applied, err := instancestate.FinishCreate(snap.Instance, env.Now())
				if err != nil || !applied {
					return err // §16: an instance no longer creating is left as it is
				}
				_, err = env.Store.InstanceUpdateRuntime(ctx, id, rec.Runtime, instancestate.IntentUnchanged)
				return err
			}},
	}
}

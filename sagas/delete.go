package sagas

import (
	"context"

	"github.com/vmlife/vmlife/instancestate"
)

// Delete is the instance-delete saga (§10.6, §8.1): the record is deleted
// with its migrations, in one guarded write that refuses a state which
// forbids deletion (the saga then unwinds, having changed nothing). The
// instance's VMMs are left to the abandoned-VMM reaper (§18).
type Delete struct {
	Instance instancestate.ID
	// Deleted: this saga's write deleted the record (false when it was
	// deleted already).
	Deleted bool
}

// Delete's step.
const StepDeleteRecord = "delete_instance_record"

// Kind implements Saga.
func (s *Delete) Kind() Kind { return KindDelete }

// Steps implements Saga.
func (s *Delete) Steps(env *Env) []Step {
	return []Step{
		{Name: StepDeleteRecord,
			Do: func(ctx context.Context) error {
				res, err := env.Store.InstanceDelete(ctx, s.Instance, env.Now())
				if err != nil {
					return err
				}
				s.Deleted = s.Deleted || res.Applied
				return nil
			}},
	}
}

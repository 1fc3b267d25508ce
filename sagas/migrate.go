package sagas

import (
	"context"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Migrate is the instance-migrate saga (§15): choose the ids, reserve room
// on the destination, insert the target VMM and the migration, link them
// to the instance, register the target, and ask it to pull the guest from
// the source.
//
// Unwinding leaves the migration and target ids linked — §15's leftovers,
// which the update plan clears (D11) and §8.1 (c) lets a later migration
// replace — with the target unregistered and saga_unwound, the migration
// failed, and the room released.
type Migrate struct {
	Instance instancestate.ID
	// Source is the instance's active VMM; Destination the sled to move to.
	Source      vmmstate.ID
	Destination vmmstate.SledID

	// Filled in as the saga runs.

	Target    vmmstate.ID
	Migration migration.ID
	// Created is the creation time of the target VMM and the migration
	// records, chosen with their ids, so that a step run again by a
	// recovery inserts the same records (D29).
	Created time.Time
}

// Migrate's steps.
const (
	StepChooseMigrationIDs = "choose_ids"
	StepReserveResources   = "reserve_resources"
	StepCreateTargetVMM    = "create_vmm_record"
	StepCreateMigration    = "create_migration_record"
	StepSetMigrationIDs    = "set_migration_ids"
	StepRegisterTarget     = "ensure_target_registered"
	StepMigrate            = "migrate"
)

// Kind implements Saga.
func (s *Migrate) Kind() Kind { return KindMigrate }

// Steps implements Saga.
func (s *Migrate) Steps(env *Env) []Step {
	return []Step{
		{Name: StepChooseMigrationIDs,
			Do: func(context.Context) error {
				if s.Target.IsZero() {
					s.Target = vmmstate.IDFromUUID(env.NewID())
				}
				if s.Migration.IsZero() {
					s.Migration = migration.IDFromUUID(env.NewID())
				}
				if s.Created.IsZero() {
					s.Created = env.Now()
				}
				return nil
			}},
		{Name: StepReserveResources,
			Do:   func(ctx context.Context) error { return env.Sleds.ReserveOn(ctx, s.Instance, s.Destination, s.Target) },
			Undo: func(ctx context.Context) error { return env.Sleds.Release(ctx, s.Target) }},
		{Name: StepCreateTargetVMM,
			Do: func(ctx context.Context) error {
				_, err := env.Store.VMMInsert(ctx, vmmstate.New(s.Target, s.Instance, s.Destination, s.created(env)))
				return err
			},
			Undo: func(ctx context.Context) error { return markUnwound(ctx, env, s.Target) }},
		{Name: StepCreateMigration,
			Do: func(ctx context.Context) error {
				_, err := env.Store.MigrationInsert(ctx, migration.New(s.Migration, s.Instance, s.Source, s.Target, s.created(env)))
				return err
			},
			Undo: func(ctx context.Context) error {
				// §15: errors of this undo are only logged.
				_, _ = env.Store.MigrationMarkFailed(ctx, s.Migration, env.Now())
				return nil
			}},
		{Name: StepSetMigrationIDs,
			Do: func(ctx context.Context) error {
				_, err := env.Store.InstanceSetMigrationIDs(ctx, s.Instance, datastore.SetMigrationIDsArgs{Source: s.Source, Migration: s.Migration, Target: s.Target, Now: env.Now()})
				return err
			}},
		{Name: StepRegisterTarget,
			Do: func(ctx context.Context) error {
				row, err := env.Store.VMMFetch(ctx, s.Target)
				if err != nil {
					return err
				}
				r, err := env.Agent.Register(ctx, row.VMM, s.Migration)
				if err != nil {
					return err
				}
				return applyReport(ctx, env, s.Instance, s.Target, r)
			},
			Undo: func(ctx context.Context) error { return unregister(ctx, env, s.Instance, s.Target) }},
		{Name: StepMigrate,
			Do: func(ctx context.Context) error {
				src, err := env.Store.VMMFetch(ctx, s.Source)
				if err != nil {
					return err
				}
				dst, err := env.Store.VMMFetch(ctx, s.Target)
				if err != nil {
					return err
				}
				return env.Agent.Migrate(ctx, dst.VMM, src.VMM, s.Migration)
			}},
	}
}

// created is the records' creation time: Created, or now for a saga logged
// before it was chosen with the ids.
func (s *Migrate) created(env *Env) time.Time {
	if s.Created.IsZero() {
		return env.Now()
	}
	return s.Created
}

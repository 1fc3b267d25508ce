package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// The updater lock (§9) is taken, handed over and released by one
// statement each (see writeOnce): an update saga is a lock, the handover to
// the saga proper (§13.2), a read, and a commit or unlock.
var (
	// Instance.Lock: a live, free lock is taken at updater_gen+1.
	lockInstance = oneStatement("instance", instanceColumns,
		"updater_id = $2, updater_gen = updater_gen + 1",
		"time_deleted IS NULL AND updater_id IS NULL AND updater_gen < $3", "updater_gen")
	// Instance.InheritLock: the lock the parent saga holds at its
	// generation is handed to the child (never the parent itself) at
	// updater_gen+1 (§9, §13.2).
	inheritInstance = oneStatement("instance", instanceColumns,
		"updater_id = $4, updater_gen = updater_gen + 1",
		"time_deleted IS NULL AND updater_id = $2 AND updater_gen = $3 AND updater_id <> $4 AND updater_gen < $5", "updater_gen")
	// Instance.Unlock: the lock held by this saga at this generation is
	// released at updater_gen+1.
	unlockInstance = oneStatement("instance", instanceColumns,
		"updater_id = NULL, updater_gen = updater_gen + 1",
		"time_deleted IS NULL AND updater_id = $2 AND updater_gen = $3 AND updater_gen < $4", "1")
	// VMMMarkDeleted: a live VMM in a destroyable state (§4.2, §8.2) that
	// no live instance links. The instance that owns the VMM (the only one
	// that can link it, ids_agree) is locked first, by id, so that a start
	// or a migration linking the VMM at the same moment is waited for and
	// its link seen: a read of the row as the statement began would miss
	// it, and leave the instance linking a deleted VMM.
	deleteVMM = `WITH old AS (SELECT ` + vmmColumns + ` FROM vmm WHERE id = $1),
		owner AS (SELECT active_propolis_id, target_propolis_id, time_deleted FROM instance
			WHERE id = (SELECT instance_id FROM vmm WHERE id = $1) FOR UPDATE),
		upd AS (UPDATE vmm SET time_deleted = $2 WHERE id = $1 AND time_deleted IS NULL AND state::TEXT = ANY($3)
			AND NOT EXISTS (SELECT 1 FROM owner WHERE time_deleted IS NULL
				AND (active_propolis_id = $1 OR target_propolis_id = $1))
			RETURNING 1)
		SELECT old.*, (SELECT 1 FROM upd) FROM old`
)

// InstanceUpdaterLock implements datastore.Store.
func (s *Store) InstanceUpdaterLock(ctx context.Context, id instancestate.ID, saga instancestate.UpdaterID) (instancestate.Lock, error) {
	return call(s, ctx, "instance_updater_lock", func(ctx context.Context) (instancestate.Lock, error) {
		rule := func(t *datastore.Tables) (instancestate.Lock, error) { return t.InstanceUpdaterLock(ctx, id, saga) }
		if saga.IsZero() {
			return run(s, ctx, instanceKeys(id), false, rule) // refused by the rule, nothing written
		}
		return writeOnce(s, ctx, "instance_updater_lock", &instanceScan{}, lockInstance,
			[]any{uuidOf(id.UUID()), uuidOf(saga.UUID()), int64(math.MaxInt64)},
			func(gen int64) (instancestate.Lock, error) {
				g, err := genFrom("instance", "updater_gen", gen)
				return instancestate.Lock{Updater: saga, Gen: g}, err
			}, rule)
	})
}

// InstanceUpdaterInheritLock implements datastore.Store.
func (s *Store) InstanceUpdaterInheritLock(ctx context.Context, id instancestate.ID, parent instancestate.Lock, child instancestate.UpdaterID) (instancestate.Lock, error) {
	const op = "instance_updater_inherit_lock"
	return call(s, ctx, op, func(ctx context.Context) (instancestate.Lock, error) {
		rule := func(t *datastore.Tables) (instancestate.Lock, error) {
			return t.InstanceUpdaterInheritLock(ctx, id, parent, child)
		}
		if child.IsZero() || parent.Updater.IsZero() {
			// Refused by the rule, or handed over from no one: the
			// transaction path, where the rule decides on the row itself.
			return run(s, ctx, instanceKeys(id), false, rule)
		}
		return writeOnce(s, ctx, op, &instanceScan{}, inheritInstance,
			[]any{uuidOf(id.UUID()), uuidOf(parent.Updater.UUID()), parent.Gen.Int64(), uuidOf(child.UUID()), int64(math.MaxInt64)},
			func(gen int64) (instancestate.Lock, error) {
				g, err := genFrom("instance", "updater_gen", gen)
				return instancestate.Lock{Updater: child, Gen: g}, err
			}, rule)
	})
}

// InstanceUpdaterUnlock implements datastore.Store.
func (s *Store) InstanceUpdaterUnlock(ctx context.Context, id instancestate.ID, l instancestate.Lock) (datastore.Result, error) {
	return call(s, ctx, "instance_updater_unlock", func(ctx context.Context) (datastore.Result, error) {
		rule := func(t *datastore.Tables) (datastore.Result, error) { return t.InstanceUpdaterUnlock(ctx, id, l) }
		if l.Updater.IsZero() {
			return run(s, ctx, instanceKeys(id), false, rule)
		}
		return writeOnce(s, ctx, "instance_updater_unlock", &instanceScan{}, unlockInstance,
			[]any{uuidOf(id.UUID()), uuidOf(l.Updater.UUID()), l.Gen.Int64(), int64(math.MaxInt64)},
			func(int64) (datastore.Result, error) { return datastore.Result{Applied: true}, nil }, rule)
	})
}

// VMMMarkDeleted implements datastore.Store.
func (s *Store) VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	return call(s, ctx, "vmm_mark_deleted", func(ctx context.Context) (datastore.Result, error) {
		now := datastore.StoreTime(now)
		rule := func(t *datastore.Tables) (datastore.Result, error) { return t.VMMMarkDeleted(ctx, id, now) }
		var old vmmScan
		var wrote pgtype.Int8
		err := s.writeRow(ctx, deleteVMM, []any{uuidOf(id.UUID()), timeOf(now), destroyableKinds}, append(old.dest(), &wrote)...)
		switch {
		case err == nil && wrote.Valid:
			return datastore.Result{Applied: true}, nil
		case errors.Is(err, pgx.ErrNoRows):
			return rule(&datastore.Tables{}) // not found
		case err != nil:
			return datastore.Result{}, answered(err)
		}
		// Not written: the rule says why — deleted, not destroyable, or linked
		// (which needs the owner's row) — on the VMM and its instance read in
		// one transaction, which also writes the deletion should a racing
		// writer have allowed it since.
		row, err := old.row()
		if err != nil {
			return datastore.Result{}, fmt.Errorf("pgstore: a stored row breaks vmlife's rules: %w", err)
		}
		k := vmmKeys(id)
		k.instance = row.VMM.InstanceID.UUID()
		return run(s, ctx, k, false, rule)
	})
}

// Instance.Commit: a plan's runtime, intent, loss (D22) and count of failed
// restarts (D33, when it writes one) written and the
// lock released, while this saga holds the lock at this generation and the
// plan's generation is newer (§9, §13.4). time_last_auto_restarted is not
// the plan's to write: only a start stamps it (D22).
var commitInstance = oneStatement("instance", instanceColumns,
	`state = $5, time_state_updated = $6, state_generation = $7, active_propolis_id = $8,
	target_propolis_id = $9, migration_id = $10,
	intended_state = COALESCE($11, intended_state),
	vmm_lost_cause = COALESCE($12, vmm_lost_cause),
	time_vmm_lost = CASE WHEN $12 IS NULL THEN time_vmm_lost ELSE $13 END,
	restart_failures = CASE WHEN $14::INT8 = 0 THEN restart_failures ELSE $14 END,
	updater_id = NULL, updater_gen = updater_gen + 1`,
	"time_deleted IS NULL AND updater_id = $2 AND updater_gen = $3 AND updater_gen < $4 AND state_generation < $7", "1")

// InstanceCommitUpdate implements datastore.Store.
func (s *Store) InstanceCommitUpdate(ctx context.Context, id instancestate.ID, l instancestate.Lock, p instancestate.Plan) (datastore.Result, error) {
	const op = "instance_commit_update"
	return call(s, ctx, op, func(ctx context.Context) (datastore.Result, error) {
		p := datastore.StorePlan(p)
		rule := func(t *datastore.Tables) (datastore.Result, error) { return t.InstanceCommitUpdate(ctx, id, l, p) }
		rt := p.Runtime
		res, err := writeOnce(s, ctx, op, &instanceScan{}, commitInstance,
			[]any{uuidOf(id.UUID()), uuidOf(l.Updater.UUID()), l.Gen.Int64(), int64(math.MaxInt64),
				rt.State.String(), timeOf(rt.TimeUpdated), rt.Generation.Int64(), uuidOf(rt.ActiveVMM.UUID()),
				uuidOf(rt.TargetVMM.UUID()), uuidOf(rt.MigrationID.UUID()),
				textOf(p.Intent, p.Intent != instancestate.IntentUnchanged),
				textOf(p.Lost.Cause, p.Lost.IsSet()), timeOf(p.Lost.Time), int64(p.RestartFailures)},
			func(int64) (datastore.Result, error) { return datastore.Result{Applied: true}, nil }, rule)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "23514" || pe.Code == "22P02") {
			// The plan makes a row a CHECK refuses, or a value no column
			// takes: the rule, on the row read under a lock, says which.
			return run(s, ctx, instanceKeys(id), false, rule)
		}
		return res, err
	})
}

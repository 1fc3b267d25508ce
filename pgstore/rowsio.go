package pgstore

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
)

type pgUUID = pgtype.UUID

// readRows reads the rows k names, deleted or not, locking them when lock
// is set.
func readRows(ctx context.Context, tx pgx.Tx, k keys, lock bool) (datastore.Tables, error) {
	forUpdate := ""
	if lock {
		forUpdate = " FOR UPDATE"
	}
	var t datastore.Tables
	vmms, migs := k.vmms, k.migrations
	if k.instance != ([16]byte{}) {
		in, err := scanInstance(tx.QueryRow(ctx, `SELECT `+instanceColumns+` FROM instance WHERE id = $1`+forUpdate, uuidOf(k.instance)))
		switch {
		case err == pgx.ErrNoRows:
		case err != nil:
			return t, err
		default:
			t.Instances = append(t.Instances, in)
			rt := in.Instance.Runtime
			vmms = append(vmms, uuidOf(rt.ActiveVMM.UUID()), uuidOf(rt.TargetVMM.UUID()))
			migs = append(migs, uuidOf(rt.MigrationID.UUID()))
		}
	}
	vmms, migs = present(vmms), present(migs)
	if len(vmms) > 0 {
		rows, err := tx.Query(ctx, `SELECT `+vmmColumns+` FROM vmm WHERE id = ANY($1) ORDER BY id`+forUpdate, vmms)
		if err != nil {
			return t, err
		}
		if t.VMMs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.VMMRow, error) { return scanVMM(r) }); err != nil {
			return t, err
		}
	}
	if len(migs) > 0 || k.allMigrations {
		rows, err := tx.Query(ctx, `SELECT `+migrationColumns+` FROM migration
			WHERE id = ANY($1) OR ($2 AND instance_id = $3) ORDER BY id`+forUpdate,
			migs, k.allMigrations, uuidOf(k.instance))
		if err != nil {
			return t, err
		}
		if t.Migrations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.MigrationRow, error) { return scanMigration(r) }); err != nil {
			return t, err
		}
	}
	return t, nil
}

// present drops NULL ids.
func present(ids []pgUUID) []pgUUID {
	out := ids[:0:0]
	for _, id := range ids {
		if id.Valid {
			out = append(out, id)
		}
	}
	return out
}

// The write-back statements. Each update is guarded by the generations
// the row was read at; under the row lock the guard always holds, and a
// row it finds changed is retried (errRetry) rather than overwritten.
const (
	insertInstance = `INSERT INTO instance (` + instanceColumns + `) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT (id) DO NOTHING`
	updateInstance = `UPDATE instance SET time_deleted = $2, state = $3, time_state_updated = $4,
		state_generation = $5, active_propolis_id = $6, target_propolis_id = $7, migration_id = $8,
		updater_id = $9, updater_gen = $10, intended_state = $11, auto_restart_policy = $12,
		auto_restart_cooldown = $13, time_last_auto_restarted = $14, start_failure_cause = $15,
		start_failure_transient = $16, start_failure_reason = $17, time_start_failed = $18,
		vmm_lost_cause = $19, time_vmm_lost = $20
		WHERE id = $1 AND state_generation = $21 AND updater_gen = $22`
	insertVMM = `INSERT INTO vmm (` + vmmColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO NOTHING`
	updateVMM = `UPDATE vmm SET time_deleted = $2, time_state_updated = $5, state_generation = $6,
		state = $7, failure_reason = $8
		WHERE id = $1 AND instance_id = $3 AND sled_id = $4 AND state_generation = $9`
	insertMigration = `INSERT INTO migration (` + migrationColumns + `) VALUES
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO NOTHING`
	updateMigration = `UPDATE migration SET time_deleted = $4, source_state = $5, source_gen = $7,
		time_source_updated = $8, target_state = $9, target_gen = $11, time_target_updated = $12
		WHERE id = $1 AND instance_id = $2 AND time_created = $3 AND source_propolis_id = $6
		AND target_propolis_id = $10 AND source_gen = $13 AND target_gen = $14`
)

// writeRows writes every row of after that is new or differs from before.
// Both are sorted by id, as Memory.Tables returns them.
func writeRows(ctx context.Context, tx pgx.Tx, before, after datastore.Tables) error {
	err := writeTable(ctx, tx, before.Instances, after.Instances,
		func(r datastore.InstanceRow) [16]byte { return r.Instance.ID.UUID() },
		func(r datastore.InstanceRow) (string, []any) { return insertInstance, instanceValues(r) },
		func(old, r datastore.InstanceRow) (string, []any) {
			return updateInstance, append(instanceValues(r), old.Instance.Runtime.Generation.Int64(), old.Instance.UpdaterGen.Int64())
		})
	if err != nil {
		return err
	}
	err = writeTable(ctx, tx, before.VMMs, after.VMMs,
		func(r datastore.VMMRow) [16]byte { return r.VMM.ID.UUID() },
		func(r datastore.VMMRow) (string, []any) { return insertVMM, vmmValues(r) },
		func(old, r datastore.VMMRow) (string, []any) {
			return updateVMM, append(vmmValues(r), old.VMM.Runtime.Generation.Int64())
		})
	if err != nil {
		return err
	}
	return writeTable(ctx, tx, before.Migrations, after.Migrations,
		func(r datastore.MigrationRow) [16]byte { return r.Migration.ID.UUID() },
		func(r datastore.MigrationRow) (string, []any) { return insertMigration, migrationValues(r) },
		func(old, r datastore.MigrationRow) (string, []any) {
			return updateMigration, append(migrationValues(r), old.Migration.Source.Generation.Int64(), old.Migration.Target.Generation.Int64())
		})
}

// writeTable merges one table's rows before and after an operation: a row
// only after is inserted, a changed row updated. Memory never removes a
// row, so a row only before cannot happen.
func writeTable[R comparable](ctx context.Context, tx pgx.Tx, before, after []R, id func(R) [16]byte,
	insert func(R) (string, []any), update func(old, new R) (string, []any)) error {
	i := 0
	for _, r := range after {
		for i < len(before) && bytes.Compare(idBytes(id(before[i])), idBytes(id(r))) < 0 {
			i++
		}
		var sql string
		var args []any
		switch {
		case i < len(before) && id(before[i]) == id(r):
			if before[i] == r {
				continue
			}
			sql, args = update(before[i], r)
		default:
			sql, args = insert(r)
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errRetry
		}
	}
	return nil
}

func idBytes(u [16]byte) []byte { return u[:] }

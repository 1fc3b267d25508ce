package pgstore

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
)

type pgUUID = pgtype.UUID

// The reads of readRows, before their locking clause. Each gathers the
// ids first — an ARRAY of a UNION of key lookups: the ids given ($1), the
// ones the instance links (when $2), and for migrations every one of the
// instance not deleted (when $3) — and then reads the rows by primary key.
// Written as an OR of the same conditions, each would scan the whole table
// on every operation (TestReadsAreKeyLookups).
const (
	readInstance = `SELECT ` + instanceColumns + ` FROM instance WHERE id = $1`
	readVMMs     = `SELECT ` + vmmColumns + ` FROM vmm WHERE id = ANY(ARRAY(
			SELECT unnest($1::UUID[])
			UNION ALL SELECT active_propolis_id FROM instance WHERE $2 AND id = $3
			UNION ALL SELECT target_propolis_id FROM instance WHERE $2 AND id = $3))
		ORDER BY id`
	readMigrations = `SELECT ` + migrationColumns + ` FROM migration WHERE id = ANY(ARRAY(
			SELECT unnest($1::UUID[])
			UNION ALL SELECT migration_id FROM instance WHERE $2 AND id = $4
			UNION ALL SELECT id FROM migration WHERE $3 AND instance_id = $4 AND time_deleted IS NULL))
		ORDER BY id`
)

// readRows begins a transaction and reads the rows k names, deleted or
// not, in one round trip: locked (FOR UPDATE) for a write, committed with
// the reads for a read-only operation.
func readRows(ctx context.Context, conn *pgx.Conn, k keys, readOnly bool) (datastore.Tables, error) {
	var t datastore.Tables
	b := &pgx.Batch{}
	forUpdate := " FOR UPDATE"
	if readOnly {
		forUpdate = ""
		b.Queue("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY")
	} else {
		b.Queue("BEGIN ISOLATION LEVEL SERIALIZABLE")
	}
	in := uuidOf(k.instance)
	if in.Valid {
		b.Queue(readInstance+forUpdate, in).Query(func(rows pgx.Rows) error {
			var err error
			t.Instances, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.InstanceRow, error) { return scanInstance(r) })
			return err
		})
	}
	// The rows the instance links are found by the database in the same
	// snapshot, after the instance row is locked.
	links := in.Valid && k.links
	vmms, migs := present(k.vmms), present(k.migrations)
	if links || len(vmms) > 0 {
		b.Queue(readVMMs+forUpdate, vmms, links, in).Query(func(rows pgx.Rows) error {
			var err error
			t.VMMs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.VMMRow, error) { return scanVMM(r) })
			return err
		})
	}
	if links || len(migs) > 0 || k.allMigrations {
		b.Queue(readMigrations+forUpdate, migs, links, k.allMigrations, in).Query(func(rows pgx.Rows) error {
			var err error
			t.Migrations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.MigrationRow, error) { return scanMigration(r) })
			return err
		})
	}
	if readOnly {
		b.Queue("COMMIT")
	}
	return t, conn.SendBatch(ctx, b).Close()
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
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		ON CONFLICT (id) DO NOTHING`
	updateInstance = `UPDATE instance SET time_deleted = $2, state = $3, time_state_updated = $4,
		state_generation = $5, active_propolis_id = $6, target_propolis_id = $7, migration_id = $8,
		updater_id = $9, updater_gen = $10, intended_state = $11, auto_restart_policy = $12,
		auto_restart_cooldown = $13, time_last_auto_restarted = $14, start_failure_cause = $15,
		start_failure_transient = $16, start_failure_reason = $17, time_start_failed = $18,
		vmm_lost_cause = $19, time_vmm_lost = $20, restart_failures = $21
		WHERE id = $1 AND state_generation = $22 AND updater_gen = $23`
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

// writeRows writes every row of after that is new or differs from its row
// of the same id in before, and commits, in one round trip; a connection
// lost after it was sent leaves the outcome unknown (committing). Each
// write must touch exactly one row: wrapped as "SELECT 1 / count(*)", a
// write that touched none divides by zero, which aborts the transaction
// before its COMMIT can keep the others, and is retried (errRetry).
func writeRows(ctx context.Context, conn *pgx.Conn, before, after datastore.Tables) error {
	b := &pgx.Batch{}
	queueTable(b, before.Instances, after.Instances,
		func(r datastore.InstanceRow) [16]byte { return r.Instance.ID.UUID() },
		func(r datastore.InstanceRow) (string, []any) { return insertInstance, instanceValues(r) },
		func(old, r datastore.InstanceRow) (string, []any) {
			return updateInstance, append(instanceValues(r), old.Instance.Runtime.Generation.Int64(), old.Instance.UpdaterGen.Int64())
		})
	queueTable(b, before.VMMs, after.VMMs,
		func(r datastore.VMMRow) [16]byte { return r.VMM.ID.UUID() },
		func(r datastore.VMMRow) (string, []any) { return insertVMM, vmmValues(r) },
		func(old, r datastore.VMMRow) (string, []any) {
			return updateVMM, append(vmmValues(r), old.VMM.Runtime.Generation.Int64())
		})
	queueTable(b, before.Migrations, after.Migrations,
		func(r datastore.MigrationRow) [16]byte { return r.Migration.ID.UUID() },
		func(r datastore.MigrationRow) (string, []any) { return insertMigration, migrationValues(r) },
		func(old, r datastore.MigrationRow) (string, []any) {
			return updateMigration, append(migrationValues(r), old.Migration.Source.Generation.Int64(), old.Migration.Target.Generation.Int64())
		})
	b.Queue("COMMIT")
	err := conn.SendBatch(ctx, b).Close()
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "22012" {
		return errRetry
	}
	return committing(conn, err)
}

// queueTable queues one table's writes: a row of after whose id before
// does not have is inserted, one that differs from before's row of its id
// updated. An operation on a datastore.Tables changes its rows in place
// and appends the rows it inserts, so a row is looked for at its own index
// first; it never removes a row.
func queueTable[R comparable](b *pgx.Batch, before, after []R, id func(R) [16]byte,
	insert func(R) (string, []any), update func(old, new R) (string, []any)) {
	for i, r := range after {
		old := i
		if i >= len(before) || id(before[i]) != id(r) {
			old = slices.IndexFunc(before, func(o R) bool { return id(o) == id(r) })
		}
		var sql string
		var args []any
		switch {
		case old < 0:
			sql, args = insert(r)
		case before[old] == r:
			continue
		default:
			sql, args = update(before[old], r)
		}
		b.Queue(`WITH w AS (`+sql+` RETURNING 1) SELECT 1 / count(*) FROM w`, args...)
	}
}

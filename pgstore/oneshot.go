package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
)

// The hottest writes — a VMM's report, taking and releasing the updater
// lock, deleting a destroyed VMM — are one statement each, one round trip
// and no transaction: a guarded UPDATE whose WHERE is the operation's
// guard, beside a read of the row as it was, in the same snapshot:
//
//	WITH old AS (SELECT <columns> FROM <table> WHERE id = $1),
//	     upd AS (UPDATE <table> SET … WHERE id = $1 AND <guard> RETURNING <value>)
//	SELECT old.*, (SELECT <value> FROM upd) FROM old
//
// When the update wrote, its value is the answer. When it did not, the
// row as it was says why, by the operation's own rule (stale,
// deleted, held by another saga, not found, …): the answer D25 asks for,
// with no second read. Should that rule find the row as it was would have
// been written — another writer came between the snapshot and the
// update — the statement is sent again, at most maxRaceAttempts times.

// maxRaceAttempts bounds how often a one-statement write is sent again
// when it raced another writer between its snapshot and its update.
const maxRaceAttempts = 10

// oldRow is the row as it was, scanned from the statement.
type oldRow interface {
	dest() []any
	tables() (datastore.Tables, error)
}

// writeOnce runs one guarded statement. onWrite gives the answer from the
// value the update returned; rule is the operation on the row as it was
// (none when there was no row).
func writeOnce[T any](s *Store, ctx context.Context, op string, old oldRow, sql string, args []any,
	onWrite func(int64) (T, error), rule func(*datastore.Tables) (T, error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		var wrote pgtype.Int8
		err := s.writeRow(ctx, sql, args, append(old.dest(), &wrote)...)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return zero, answered(err)
		}
		if wrote.Valid {
			return onWrite(wrote.Int64)
		}
		var rows datastore.Tables
		if found {
			rows, err = old.tables()
			if err == nil {
				err = rows.Validate()
			}
			if err != nil {
				return zero, fmt.Errorf("pgstore: a stored row breaks vmlife's rules: %w", err)
			}
		}
		read := cloneTables(rows)
		answer, err := rule(&rows)
		if err != nil || !changed(read, rows) {
			return answer, err
		}
		if attempt == maxRaceAttempts {
			return zero, fmt.Errorf("pgstore: %s: gave up after %d attempts racing other writers", op, attempt)
		}
	}
}

// writeRow sends sql, one statement that writes and commits by itself, and
// scans its one row into dest. A connection lost after the statement was
// sent leaves its outcome unknown (committing).
func (s *Store) writeRow(ctx context.Context, sql string, args []any, dest ...any) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return committing(c.Conn(), c.QueryRow(ctx, sql, args...).Scan(dest...))
}

// changed reports whether an operation changed or added any row.
func changed(before, after datastore.Tables) bool {
	return !equalRows(before.Instances, after.Instances) || !equalRows(before.VMMs, after.VMMs) ||
		!equalRows(before.Migrations, after.Migrations)
}

func equalRows[R comparable](a, b []R) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// oneStatement builds the statement of a one-statement write.
func oneStatement(table, columns, set, guard, value string) string {
	return `WITH old AS (SELECT ` + columns + ` FROM ` + table + ` WHERE id = $1),
		upd AS (UPDATE ` + table + ` SET ` + set + ` WHERE id = $1 AND ` + guard + ` RETURNING ` + value + `)
		SELECT old.*, (SELECT ` + value + ` FROM upd) FROM old`
}

func (v *vmmScan) tables() (datastore.Tables, error) {
	r, err := v.row()
	return datastore.Tables{VMMs: []datastore.VMMRow{r}}, err
}

func (c *instanceScan) tables() (datastore.Tables, error) {
	r, err := c.row()
	return datastore.Tables{Instances: []datastore.InstanceRow{r}}, err
}

package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vmlife/vmlife/datastore"
)

// MaxAttempts bounds how often one operation's transaction is tried when
// the database asks for a retry (SQLSTATE 40001 serialization failure,
// 40P01 deadlock), as CockroachDB requires of every client.
const MaxAttempts = 20

// errRetry is a write-back whose guard found the row changed since it was
// read and locked: impossible while the row lock holds, and retried like a
// serialization failure if it ever happens.
var errRetry = errors.New("pgstore: a row changed under its lock")

// retryable reports whether err asks for the transaction to run again.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// schemaRace reports whether err is another Migrate creating the schema at
// the same moment: the loser sees the winner's table, type or version row
// (SQLSTATE 42P07, 42710, 23505) and tries again against it.
func schemaRace(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "42710" || pe.Code == "23505")
}

// inTx runs fn in a SERIALIZABLE transaction, retried while the database
// asks for it, at most MaxAttempts times. fn must be safe to run again:
// it reads everything it decides on inside the transaction.
func (s *Store) inTx(ctx context.Context, readOnly bool, fn func(pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.Serializable}
	if readOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	return retry(ctx, func() error { return pgx.BeginTxFunc(ctx, s.pool, opts, fn) })
}

// retry runs attempt until it succeeds, fails for good, or has been tried
// MaxAttempts times.
func retry(ctx context.Context, attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		if err == nil || !retryable(err) {
			return err
		}
		if n == MaxAttempts {
			return fmt.Errorf("pgstore: gave up after %d attempts: %w", n, err)
		}
		// Back off a little, more each time, jittered so that writers
		// that collided do not collide again.
		d := time.Duration(rand.Int64N(int64(n)*int64(time.Millisecond)) + 1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// keys names the rows one operation reads: an instance (with the rows it
// links when links is set), VMMs and migrations by id, and optionally
// every migration of the instance not deleted (what instance_delete marks
// and instance_list_migrations lists). A writing operation locks them (FOR
// UPDATE) in one order — instance, VMMs, migrations, each by id — so
// writers never deadlock.
type keys struct {
	instance      [16]byte
	links         bool
	allMigrations bool
	vmms          []pgUUID
	migrations    []pgUUID
}

// run is every operation on rows but the few with a statement of their
// own: read the rows k names inside a SERIALIZABLE transaction, run op on
// them — datastore.Tables's operations are the store's rules, the same
// code the in-memory store runs over its maps — and write back the rows op
// changed, each update guarded by the generations it was read at. It is
// two round trips: BEGIN with every read, then every write with COMMIT (a
// read-only operation commits with its reads: one). op's answer is
// returned once the transaction has committed; a refusal changed nothing
// and wrote nothing.
func run[T any](s *Store, ctx context.Context, k keys, readOnly bool, op func(*datastore.Tables) (T, error)) (T, error) {
	var out T
	var opErr error
	err := retry(ctx, func() error {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer c.Release()
		conn := c.Conn()
		rows, err := readRows(ctx, conn, k, readOnly)
		if err == nil {
			err = validRows(rows)
		}
		if err != nil {
			rollback(conn)
			return err
		}
		if readOnly {
			out, opErr = op(&rows)
			return nil
		}
		read := cloneTables(rows)
		out, opErr = op(&rows)
		if err := writeRows(ctx, conn, read, rows); err != nil {
			rollback(conn)
			return err
		}
		return nil
	})
	if err != nil {
		var zero T
		return zero, answered(err)
	}
	return out, opErr
}

// validRows checks the rows read before a rule decides on them: a row
// that breaks vmlife's rules could only have been written around it.
func validRows(t datastore.Tables) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("pgstore: a stored row breaks vmlife's rules: %w", err)
	}
	return nil
}

// cloneTables copies t's rows, for comparing with what an operation left.
func cloneTables(t datastore.Tables) datastore.Tables {
	return datastore.Tables{Instances: slices.Clone(t.Instances), VMMs: slices.Clone(t.VMMs), Migrations: slices.Clone(t.Migrations)}
}

// rollback ends a transaction that failed part way. Its own error is of no
// use: a connection it leaves broken is closed, and the pool drops it.
func rollback(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// answered turns the database refusing a row — a constraint (SQLSTATE
// class 23) or a value no column takes (class 22) — into what it is: an
// answer (invalid_request), never a store failure. vmlife's own rules run
// first and refuse such rows themselves; this is the backstop for a rule
// the database keeps and they do not, so that both stores still answer.
func answered(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")) {
		return &datastore.Error{Op: "pgstore", Kind: datastore.KindInvalidRequest,
			Message: "the database refuses the row: " + pe.Message, Err: err}
	}
	return err
}

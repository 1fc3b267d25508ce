package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema is a list of migrations, schema/NNNN_name.sql, applied in
// order by Migrate; table vmlife_schema records each one applied. Open
// and New only read that table: they never change the schema, so a role
// that may only read and write rows can open the store.
//
//go:embed schema/*.sql
var schemaFiles embed.FS

// SchemaVersion is the schema version this package reads and writes: the
// number of its last migration.
const SchemaVersion = 4

// ErrSchemaVersion is matched (errors.Is) by the *SchemaError that Open,
// New and Migrate return for a database whose schema this package does
// not know: newer than SchemaVersion, or not written by it.
var ErrSchemaVersion = errors.New("unsupported schema version")

// ErrMigrationNeeded is matched (errors.Is) by the *SchemaError that Open
// and New return for a database with no vmlife schema, or one older than
// SchemaVersion. Opening never changes the schema: migrate it first —
// `vmlife migrate --store DSN`, or Migrate — as a role that may create
// tables and types (the schema's owner), and open it again.
var ErrMigrationNeeded = errors.New("the database schema needs migrating")

// SchemaError says why a database's schema was refused: a version newer
// than SchemaVersion (written by a newer vmlife), or a migration recorded
// under a version whose name is not this package's (written by something
// else) — both ErrSchemaVersion, and Migrate refuses them too; or, from
// Open and New, no schema or an older one — ErrMigrationNeeded. Nothing
// was written.
type SchemaError struct {
	Version int64  // the version the database records; 0: none
	Name    string // the migration the database records at Version
	Problem string

	needsMigration bool
}

func (e *SchemaError) Error() string {
	if e.needsMigration {
		at := "the database has no vmlife schema"
		if e.Version > 0 {
			at = fmt.Sprintf("database schema version %d (%s): %s", e.Version, e.Name, e.Problem)
		}
		return fmt.Sprintf("pgstore: %s; this pgstore needs version %d: migrate it first, as a role that may create tables "+
			"(`vmlife migrate --store DSN`, or pgstore.Migrate), then open it again", at, SchemaVersion)
	}
	return fmt.Sprintf("pgstore: database schema version %d (%s): %s; this pgstore knows versions 1 to %d",
		e.Version, e.Name, e.Problem, SchemaVersion)
}

// Is matches ErrMigrationNeeded for a missing or older schema, and
// ErrSchemaVersion for one this package does not know.
func (e *SchemaError) Is(target error) bool {
	if e.needsMigration {
		return target == ErrMigrationNeeded
	}
	return target == ErrSchemaVersion
}

// schemaStep is one migration file.
type schemaStep struct {
	version int64
	name    string // the file name without .sql
	sql     string
}

// schemaSteps reads the embedded migrations, checking that they are
// numbered 1, 2, … SchemaVersion.
func schemaSteps() ([]schemaStep, error) {
	entries, err := fs.ReadDir(schemaFiles, "schema")
	if err != nil {
		return nil, err
	}
	var steps []schemaStep
	for i, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v != int64(i+1) {
			return nil, fmt.Errorf("pgstore: schema file %s: want number %04d", e.Name(), i+1)
		}
		b, err := fs.ReadFile(schemaFiles, "schema/"+e.Name())
		if err != nil {
			return nil, err
		}
		steps = append(steps, schemaStep{version: v, name: name, sql: string(b)})
	}
	if len(steps) != SchemaVersion {
		return nil, fmt.Errorf("pgstore: %d schema files, SchemaVersion %d", len(steps), SchemaVersion)
	}
	return steps, nil
}

// querier is what reading the schema's versions needs: a connection, a
// pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// applied is one row of vmlife_schema.
type applied struct {
	version int64
	name    string
}

// readVersions reads vmlife_schema; a database without the table has
// applied nothing.
func readVersions(ctx context.Context, q querier) ([]applied, error) {
	rows, err := q.Query(ctx, `SELECT version, name FROM vmlife_schema ORDER BY version`)
	if err == nil {
		var have []applied
		have, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (applied, error) {
			var a applied
			return a, r.Scan(&a.version, &a.name)
		})
		if err == nil {
			return have, nil
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		return nil, nil
	}
	return nil, err
}

// checkVersions refuses a schema this package did not write: a version
// newer than SchemaVersion, or a migration under a name not its own.
func checkVersions(have []applied, steps []schemaStep) error {
	for i, a := range have {
		switch {
		case a.version > SchemaVersion:
			return &SchemaError{Version: a.version, Name: a.name, Problem: "newer than this pgstore"}
		case a.version != int64(i+1) || a.name != steps[i].name:
			return &SchemaError{Version: a.version, Name: a.name, Problem: "not a migration of this pgstore"}
		}
	}
	return nil
}

// checkSchema is what Open and New ask of the database: a schema at
// SchemaVersion. It reads; it never writes.
func checkSchema(ctx context.Context, q querier) error {
	steps, err := schemaSteps()
	if err != nil {
		return err
	}
	have, err := readVersions(ctx, q)
	if err != nil {
		return fmt.Errorf("pgstore: reading the schema version: %w", err)
	}
	if err := checkVersions(have, steps); err != nil {
		return err
	}
	switch n := len(have); {
	case n == 0:
		return &SchemaError{Problem: "no vmlife schema", needsMigration: true}
	case n < SchemaVersion:
		last := have[n-1]
		return &SchemaError{Version: last.version, Name: last.name, Problem: "older than this pgstore", needsMigration: true}
	}
	return nil
}

// MigrateResult says what Migrate found and did.
type MigrateResult struct {
	From    int64    // the version the database was at: 0 for no vmlife schema
	To      int64    // the version it is at now: SchemaVersion
	Applied []string // the migrations applied, in order ("0003_sagas", …); none when it was at SchemaVersion
}

// Migrate brings the schema of the database dsn names to SchemaVersion:
// it applies the embedded migrations the database lacks, in order, in one
// transaction, and records each in table vmlife_schema. It is idempotent:
// a database at SchemaVersion is only read — no DDL, so any role that may
// open the store may run it — and two processes migrating at once apply
// each migration once (the second waits for the first and then finds
// nothing to do). A schema this package did not write, or a newer one, is
// refused (ErrSchemaVersion) and left as it was. It is bounded by ctx
// alone: a migration may take as long as the tables it changes.
//
// `vmlife migrate --store DSN` runs it from the command line.
func Migrate(ctx context.Context, dsn string) (MigrateResult, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return MigrateResult{}, fmt.Errorf("pgstore: DSN: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return MigrateResult{}, connectError(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate(ctx, conn)
}

// MigratePool is Migrate on a pool the caller configured (and closes).
func MigratePool(ctx context.Context, pool *pgxpool.Pool) (MigrateResult, error) {
	return migrate(ctx, pool)
}

// migrator is what migrate needs: a connection or a pool.
type migrator interface {
	querier
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// The two tables Migrate keeps beside the schema: the versions applied,
// and a table of one row that a migration locks (by writing it) for the
// length of its transaction, so that migrations take turns.
const (
	createSchemaTable = `CREATE TABLE IF NOT EXISTS vmlife_schema (
		version      INT8 PRIMARY KEY,
		name         TEXT NOT NULL,
		time_applied TIMESTAMPTZ NOT NULL DEFAULT now())`
	createLockTable = `CREATE TABLE IF NOT EXISTS vmlife_schema_lock (
		id          INT8 PRIMARY KEY CONSTRAINT one_lock CHECK (id = 1),
		time_locked TIMESTAMPTZ NOT NULL)`
	takeSchemaLock = `INSERT INTO vmlife_schema_lock (id, time_locked) VALUES (1, now())
		ON CONFLICT (id) DO UPDATE SET time_locked = excluded.time_locked`
)

func migrate(ctx context.Context, db migrator) (MigrateResult, error) {
	steps, err := schemaSteps()
	if err != nil {
		return MigrateResult{}, err
	}
	for attempt := 1; ; attempt++ {
		// First only read: a database already at this version needs
		// nothing, and a role that may not change the schema can still
		// be told so. A retry reads again what the migration it lost to
		// wrote.
		have, err := readVersions(ctx, db)
		if err != nil {
			return MigrateResult{}, fmt.Errorf("pgstore: reading the schema version: %w", err)
		}
		if err := checkVersions(have, steps); err != nil {
			return MigrateResult{}, err
		}
		if len(have) == SchemaVersion {
			return MigrateResult{From: SchemaVersion, To: SchemaVersion}, nil
		}
		res, err := migrateOnce(ctx, db, steps)
		if err == nil {
			return res, nil
		}
		if (schemaRace(err) || retryable(err)) && attempt < MaxAttempts {
			continue // another migration ran at the same moment
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
			return MigrateResult{}, fmt.Errorf("pgstore: migrating the schema needs a role that may create tables and types (the schema's owner): %w", err)
		}
		return MigrateResult{}, err
	}
}

// migrateOnce is one attempt of migrate, in one SERIALIZABLE transaction.
// It first locks vmlife_schema_lock's row by writing it — a row lock,
// which PostgreSQL and CockroachDB both hold until the transaction ends;
// not an advisory lock, which CockroachDB long left undefined or a no-op.
// A second migration waits for the row, and is then told to retry (40001:
// its snapshot is older than the first one's commit): the retry reads the
// versions the first recorded. The first migration of an empty database
// races on creating the two tables instead; the loser sees the winner's
// table (42P07, 23505) and retries too.
func migrateOnce(ctx context.Context, db migrator, steps []schemaStep) (MigrateResult, error) {
	var res MigrateResult
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
		for _, q := range []string{createSchemaTable, createLockTable, takeSchemaLock} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		have, err := readVersions(ctx, tx)
		if err != nil {
			return err
		}
		if err := checkVersions(have, steps); err != nil {
			return err
		}
		res = MigrateResult{From: int64(len(have)), To: SchemaVersion}
		for _, st := range steps[len(have):] {
			if _, err := tx.Exec(ctx, st.sql); err != nil {
				return fmt.Errorf("pgstore: applying schema %s: %w", st.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vmlife_schema (version, name) VALUES ($1, $2)`, st.version, st.name); err != nil {
				return err
			}
			res.Applied = append(res.Applied, st.name)
		}
		return nil
	})
	return res, err
}

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
)

// The schema is a list of migrations, schema/NNNN_name.sql, applied in
// order on Open; table vmlife_schema records each one applied.
//
//go:embed schema/*.sql
var schemaFiles embed.FS

// SchemaVersion is the schema version this package reads and writes: the
// number of its last migration.
const SchemaVersion = 4

// ErrSchemaVersion is matched (errors.Is) by the *SchemaError Open returns
// for a database whose schema this package does not know.
var ErrSchemaVersion = errors.New("unsupported schema version")

// SchemaError says why Open refused a database's schema: a version newer
// than SchemaVersion (written by a newer vmlife), or a migration recorded
// under a version whose name is not this package's (written by something
// else). Nothing was written.
type SchemaError struct {
	Version int64  // the version the database records
	Name    string // the migration the database records at Version
	Problem string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("pgstore: database schema version %d (%s): %s; this pgstore knows versions 1 to %d",
		e.Version, e.Name, e.Problem, SchemaVersion)
}

// Is matches ErrSchemaVersion.
func (e *SchemaError) Is(target error) bool { return target == ErrSchemaVersion }

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

// migrate brings the database's schema to SchemaVersion in one
// transaction, or refuses a schema it does not know, writing nothing.
func (s *Store) migrate(ctx context.Context) error {
	steps, err := schemaSteps()
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.migrateOnce(ctx, steps)
		if err == nil || !schemaRace(err) || attempt == MaxAttempts {
			return err
		}
		// Another Open created the schema at the same moment: read what
		// it wrote.
	}
}

// migrateOnce is one attempt of migrate, in one transaction.
func (s *Store) migrateOnce(ctx context.Context, steps []schemaStep) error {
	return s.inTx(ctx, false, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS vmlife_schema (
			version      INT8 PRIMARY KEY,
			name         TEXT NOT NULL,
			time_applied TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version, name FROM vmlife_schema ORDER BY version`)
		if err != nil {
			return err
		}
		type applied struct {
			version int64
			name    string
		}
		have, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (applied, error) {
			var a applied
			return a, r.Scan(&a.version, &a.name)
		})
		if err != nil {
			return err
		}
		for i, a := range have {
			switch {
			case a.version > SchemaVersion:
				return &SchemaError{Version: a.version, Name: a.name, Problem: "newer than this pgstore"}
			case a.version != int64(i+1) || a.name != steps[i].name:
				return &SchemaError{Version: a.version, Name: a.name, Problem: "not a migration of this pgstore"}
			}
		}
		for _, st := range steps[len(have):] {
			if _, err := tx.Exec(ctx, st.sql); err != nil {
				return fmt.Errorf("pgstore: applying schema %s: %w", st.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vmlife_schema (version, name) VALUES ($1, $2)`, st.version, st.name); err != nil {
				return err
			}
		}
		return nil
	})
}

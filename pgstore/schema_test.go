package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
	"github.com/vmlife/vmlife/vmmstate"
)

func names[E fmt.Stringer](all []E) []string {
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = e.String()
	}
	return out
}

// TestSchemaEnumsAreTheLibrarys: every enum type of the schema has exactly
// the values, in the order, of the library's table it stores.
func TestSchemaEnumsAreTheLibrarys(t *testing.T) {
	st := fresh(t)
	for typ, want := range map[string][]string{
		"vmm_state":                    names(vmmstate.AllKinds()),
		"vmm_failure_reason":           names(failure.AllReasons()),
		"instance_state_v2":            names(instancestate.AllNexusStates()),
		"instance_intended_state":      names(instancestate.AllIntendedStates()),
		"instance_auto_restart":        names(instancestate.AllAutoRestartPolicies()),
		"migration_state":              names(migration.AllStates()),
		"instance_start_failure_cause": names(failure.AllCauses()),
		"instance_start_reason":        names(failure.AllStartReasons()),
		"instance_vmm_lost_cause":      names(instancestate.AllLostCauses()),
		"saga_state":                   names(datastore.AllSagaStates()),
		"saga_abandon_reason":          names(datastore.AllAbandonReasons()),
		"saga_node_event_type":         names(datastore.AllEventTypes()),
	} {
		rows, err := st.Pool().Query(context.Background(), `SELECT e.enumlabel FROM pg_enum e
			JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
			WHERE t.typname = $1 AND n.nspname = current_schema() ORDER BY e.enumsortorder`, typ)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("type %s: %q, want the library's %q", typ, got, want)
		}
	}
}

// TestOpenRefusesUnknownSchemas: a database at a newer version, or with a
// migration this package did not write, is refused by Open and by Migrate,
// and left as it was.
func TestOpenRefusesUnknownSchemas(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ name, sql, problem string }{
		{"newer", fmt.Sprintf(`INSERT INTO vmlife_schema (version, name) VALUES (%d, '%04d_future')`, pgstore.SchemaVersion+1, pgstore.SchemaVersion+1), "newer than this pgstore"},
		{"foreign", `UPDATE vmlife_schema SET name = '0001_someone_else' WHERE version = 1`, "not a migration of this pgstore"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, dsn := freshDSN(t)
			if _, err := st.Pool().Exec(ctx, c.sql); err != nil {
				t.Fatal(err)
			}
			var before int
			if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM vmlife_schema`).Scan(&before); err != nil {
				t.Fatal(err)
			}
			_, openErr := pgstore.Open(ctx, dsn)
			_, migrateErr := pgstore.Migrate(ctx, dsn)
			for what, err := range map[string]error{"Open": openErr, "Migrate": migrateErr} {
				var se *pgstore.SchemaError
				if !errors.Is(err, pgstore.ErrSchemaVersion) || errors.Is(err, pgstore.ErrMigrationNeeded) || !errors.As(err, &se) || se.Problem != c.problem {
					t.Errorf("%s = %v, want a schema error: %s", what, err, c.problem)
				}
			}
			var after int
			if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM vmlife_schema`).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("a refused Open or Migrate wrote: %d schema rows, were %d", after, before)
			}
		})
	}
}

// tablesIn lists the tables of the schema dsn's search_path names.
func tablesIn(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestOpenNeedsMigration: Open never changes the schema. A database with
// no vmlife schema is an ErrMigrationNeeded error naming the command and
// the function that migrate it, and is left empty; after Migrate it opens.
func TestOpenNeedsMigration(t *testing.T) {
	ctx := context.Background()
	dsn := pgstoretest.Schema(t)
	_, err := pgstore.Open(ctx, dsn)
	var se *pgstore.SchemaError
	if !errors.Is(err, pgstore.ErrMigrationNeeded) || errors.Is(err, pgstore.ErrSchemaVersion) || !errors.As(err, &se) || se.Version != 0 {
		t.Fatalf("Open of an empty database = %v, want ErrMigrationNeeded", err)
	}
	for _, want := range []string{"vmlife migrate --store DSN", "pgstore.Migrate", "no vmlife schema"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open's error %q does not say %q", err, want)
		}
	}
	if tables := tablesIn(t, dsn); len(tables) != 0 {
		t.Fatalf("Open wrote tables %v", tables)
	}
	res, err := pgstore.Migrate(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 0 || res.To != pgstore.SchemaVersion || len(res.Applied) != pgstore.SchemaVersion {
		t.Fatalf("Migrate of an empty database = %+v, want every migration applied", res)
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// TestMigrateIsIdempotent: migrating a database at this version again
// applies nothing and keeps its rows; so does opening it again.
func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st, dsn := freshDSN(t)
	v := vmmstate.New(vmmstate.IDFromUUID(uuid.New()), vmmstate.InstanceIDFromUUID(uuid.New()), vmmstate.SledIDFromUUID(uuid.New()), t0)
	if _, err := st.VMMInsert(ctx, v); err != nil {
		t.Fatal(err)
	}
	res, err := pgstore.Migrate(ctx, dsn)
	if err != nil || res.From != pgstore.SchemaVersion || res.To != pgstore.SchemaVersion || len(res.Applied) != 0 {
		t.Fatalf("Migrate again = %+v, %v; want nothing applied", res, err)
	}
	again, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if row, err := again.VMMFetch(ctx, v.ID); err != nil || row.VMM != v {
		t.Fatalf("VMMFetch after migrating and reopening = %v, %v; want %v", row.VMM, err, v)
	}
}

// TestOpenBadInput: a malformed DSN and a server that does not answer are
// errors that say so.
func TestOpenBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct{ dsn, want string }{
		{"postgres://%zz", "pgstore: DSN"},
		{"port=notanumber", "pgstore: DSN"},
		{"host=/nonexistent-vmlife-socket-dir user=postgres connect_timeout=2", "does not answer"},
	} {
		st, err := pgstore.Open(ctx, c.dsn)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			if st != nil {
				st.Close()
			}
			t.Errorf("Open(%q) = %v, want an error containing %q", c.dsn, err, c.want)
		}
	}
}

// TestChecksRefuseBrokenRows: every row rule is also a CHECK, so a writer
// that bypasses vmlife cannot store a row the library would refuse.
func TestChecksRefuseBrokenRows(t *testing.T) {
	st := fresh(t)
	ctx := context.Background()
	const inst = `INSERT INTO instance (id, state, time_state_updated, state_generation, updater_gen, intended_state,
		active_propolis_id, target_propolis_id, migration_id, auto_restart_cooldown, start_failure_cause, vmm_lost_cause, time_vmm_lost)
		VALUES (gen_random_uuid(), $1, now(), 1, 1, 'running', $2, $3, $4, $5, $6, $7::instance_vmm_lost_cause, $8)`
	const saga = `INSERT INTO saga (id, creator, time_created, name, saga_dag, saga_state, current_sec,
		adopt_generation, adopt_time, version, abandon_reason, abandon_time, abandon_comment)
		VALUES (gen_random_uuid(), gen_random_uuid(), now(), $1, '{}', $2, gen_random_uuid(), $3, now(), 1,
			$4::saga_abandon_reason, $5, CASE WHEN $4 IS NULL THEN NULL ELSE '' END)`
	const event = `INSERT INTO saga_node_event (saga_id, node_id, event_type, event_time, creator, seq)
		VALUES (gen_random_uuid(), $1, 'started', now(), gen_random_uuid(), $2)`
	some := uuid.New()
	for _, c := range []struct {
		constraint string
		sql        string
		args       []any
	}{
		{"vmm_iff_active_propolis", inst, []any{"vmm", nil, nil, nil, nil, nil, nil, nil}},
		{"vmm_iff_active_propolis", inst, []any{"no_vmm", some, nil, nil, nil, nil, nil, nil}},
		{"target_needs_migration", inst, []any{"no_vmm", nil, some, nil, nil, nil, nil, nil}},
		{"no_migration_while_creating", inst, []any{"creating", nil, nil, some, nil, nil, nil, nil}},
		{"cooldown_positive", inst, []any{"no_vmm", nil, nil, nil, "-1 second", nil, nil, nil}},
		{"start_failure_whole", inst, []any{"no_vmm", nil, nil, nil, nil, "internal", nil, nil}},
		{"vmm_lost_has_cause", inst, []any{"no_vmm", nil, nil, nil, nil, nil, nil, time.Now()}},
		{"failure_reason_iff_failed", `INSERT INTO vmm (id, instance_id, sled_id, time_state_updated, state_generation, state, failure_reason)
			VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), now(), 1, $1, $2)`, []any{"failed", nil}},
		{"failure_reason_iff_failed", `INSERT INTO vmm (id, instance_id, sled_id, time_state_updated, state_generation, state, failure_reason)
			VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), now(), 1, $1, $2)`, []any{"running", "sled_off"}},
		{"saga_has_name", saga, []any{"", "running", 1, nil, nil}},
		{"adopt_generation_positive", saga, []any{"start", "running", 0, nil, nil}},
		{"abandon_iff_abandoned", saga, []any{"start", "abandoned", 1, nil, nil}},
		{"abandon_iff_abandoned", saga, []any{"start", "running", 1, "orphaned", time.Now()}},
		{"event_has_node", event, []any{"", 1}},
		{"seq_positive", event, []any{"a", 0}},
		{"source_is_not_target", `INSERT INTO migration (id, instance_id, time_created, source_state, source_propolis_id, source_gen,
			target_state, target_propolis_id, target_gen) VALUES (gen_random_uuid(), gen_random_uuid(), now(), 'pending', $1, 1, 'pending', $1, 1)`, []any{some}},
	} {
		_, err := st.Pool().Exec(ctx, c.sql, c.args...)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23514" || pe.ConstraintName != c.constraint {
			t.Errorf("%s %v: %v, want CHECK %s to refuse it", c.constraint, c.args, err, c.constraint)
		}
	}
}

// TestMigrateRace: migrations racing on an empty database, and on one at
// version 1, all succeed, and each migration is applied once.
func TestMigrateRace(t *testing.T) {
	ctx := context.Background()
	for _, from := range []int{0, 1} {
		t.Run(fmt.Sprint("from version ", from), func(t *testing.T) {
			dsn := pgstoretest.Schema(t)
			if from == 1 {
				atVersion1(t, dsn)
			}
			const racers = 8
			type answer struct {
				res pgstore.MigrateResult
				err error
			}
			answers := make(chan answer, racers)
			for range racers {
				go func() {
					res, err := pgstore.Migrate(ctx, dsn)
					answers <- answer{res, err}
				}()
			}
			applied := map[string]int{}
			for range racers {
				a := <-answers
				if a.err != nil {
					t.Errorf("a racing Migrate: %v", a.err)
				}
				for _, name := range a.res.Applied {
					applied[name]++
				}
			}
			if len(applied) != pgstore.SchemaVersion-from {
				t.Errorf("applied %v, want each of the %d migrations after version %d", applied, pgstore.SchemaVersion-from, from)
			}
			for name, n := range applied {
				if n != 1 {
					t.Errorf("migration %s applied %d times", name, n)
				}
			}
			st, err := pgstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var n int
			if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM vmlife_schema`).Scan(&n); err != nil || n != pgstore.SchemaVersion {
				t.Fatalf("%d schema rows, %v; want %d", n, err, pgstore.SchemaVersion)
			}
		})
	}
}

// TestADatabaseThatAnswersIsAnAnswer: a row the database refuses — here
// by a CHECK added behind vmlife's back, which vmlife's rules do not know —
// is an invalid_request refusal (a *datastore.Error: `vmlife script` prints
// it as the line's result and goes on), not a store failure, and nothing
// is written.
func TestADatabaseThatAnswersIsAnAnswer(t *testing.T) {
	st := fresh(t)
	ctx := context.Background()
	banned := vmmstate.SledIDFromUUID(uuid.New())
	if _, err := st.Pool().Exec(ctx, fmt.Sprintf(`ALTER TABLE vmm ADD CONSTRAINT no_banned_sled CHECK (sled_id <> '%s')`, banned)); err != nil {
		t.Fatal(err)
	}
	v := vmmstate.New(vmmstate.IDFromUUID(uuid.New()), vmmstate.InstanceIDFromUUID(uuid.New()), banned, t0)
	_, err := st.VMMInsert(ctx, v)
	var de *datastore.Error
	if !errors.As(err, &de) || de.Kind != datastore.KindInvalidRequest || !strings.Contains(err.Error(), "no_banned_sled") {
		t.Fatalf("VMMInsert refused by the database = %v, want an invalid_request answer", err)
	}
	if _, err := st.VMMFetch(ctx, v.ID); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("a refused insert wrote: %v", err)
	}
}

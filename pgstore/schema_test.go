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
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/pgstore"
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
// migration this package did not write, is refused and left as it was.
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
			_, err := pgstore.Open(ctx, dsn)
			var se *pgstore.SchemaError
			if !errors.Is(err, pgstore.ErrSchemaVersion) || !errors.As(err, &se) || se.Problem != c.problem {
				t.Fatalf("Open = %v, want a schema error: %s", err, c.problem)
			}
			var after int
			if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM vmlife_schema`).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("a refused Open wrote: %d schema rows, were %d", after, before)
			}
		})
	}
}

// TestOpenIsIdempotent: opening a database at this version again applies
// nothing and keeps its rows.
func TestOpenIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st, dsn := freshDSN(t)
	v := vmmstate.New(vmmstate.IDFromUUID(uuid.New()), vmmstate.InstanceIDFromUUID(uuid.New()), vmmstate.SledIDFromUUID(uuid.New()), t0)
	if _, err := st.VMMInsert(ctx, v); err != nil {
		t.Fatal(err)
	}
	again, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if row, err := again.VMMFetch(ctx, v.ID); err != nil || row.VMM != v {
		t.Fatalf("VMMFetch after reopening = %v, %v; want %v", row.VMM, err, v)
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

// TestOpenRace: Opens racing to create the schema of an empty database all
// succeed, and the schema is applied once.
func TestOpenRace(t *testing.T) {
	ctx := context.Background()
	st, dsn := freshDSN(t) // a schema of its own, already migrated: drop its tables
	for _, q := range []string{`DROP TABLE instance, vmm, migration, saga, saga_node_event, saga_sec_lease, sled_resource_vmm, vmlife_schema`,
		`DROP TYPE vmm_state, vmm_failure_reason, instance_state_v2, instance_intended_state, instance_auto_restart,
			migration_state, instance_start_failure_cause, instance_start_reason, instance_vmm_lost_cause,
			saga_state, saga_abandon_reason, saga_node_event_type`} {
		if _, err := st.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			s, err := pgstore.Open(ctx, dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("a racing Open: %v", err)
		}
	}
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM vmlife_schema`).Scan(&n); err != nil || n != pgstore.SchemaVersion {
		t.Fatalf("%d schema rows, %v; want %d", n, err, pgstore.SchemaVersion)
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

package pgstore_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
	"github.com/vmlife/vmlife/vmmstate"
)

// atVersion1 makes the empty schema dsn names a database at schema version
// 1, as the first pgstore left it.
func atVersion1(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	v1, err := os.ReadFile("schema/0001_initial.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		string(v1),
		`CREATE TABLE vmlife_schema (version INT8 PRIMARY KEY, name TEXT NOT NULL, time_applied TIMESTAMPTZ NOT NULL DEFAULT now())`,
		`INSERT INTO vmlife_schema (version, name) VALUES (1, '0001_initial')`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSchemaUpgradeCountsNoRestartFailures: a database at schema version
// 1, holding an instance, is refused by Open (ErrMigrationNeeded, nothing
// written) and brought to the current version by Migrate; the instance
// reads back with no failed restart counted (D33), and the new column
// refuses a negative count.
func TestSchemaUpgradeCountsNoRestartFailures(t *testing.T) {
	ctx := context.Background()
	dsn := pgstoretest.Schema(t)
	atVersion1(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	id := uuid.MustParse("11111111-1111-4111-8111-111111111111")
	if _, err := conn.Exec(ctx, `INSERT INTO instance (id, state, time_state_updated, state_generation, updater_gen, intended_state)
		VALUES ($1, 'failed', now(), 4, 1, 'running')`, id); err != nil {
		t.Fatal(err)
	}

	_, err = pgstore.Open(ctx, dsn)
	var se *pgstore.SchemaError
	if !errors.Is(err, pgstore.ErrMigrationNeeded) || !errors.As(err, &se) || se.Version != 1 {
		t.Fatalf("Open of a version-1 database = %v, want ErrMigrationNeeded at version 1", err)
	}
	versions := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM vmlife_schema`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := versions(); n != 1 {
		t.Fatalf("a refused Open wrote: %d schema rows", n)
	}
	res, err := pgstore.Migrate(ctx, dsn)
	if err != nil {
		t.Fatalf("Migrate of a version-1 database: %v", err)
	}
	if want := []string{"0002_restart_failures", "0003_sagas", "0004_sled_resource_vmm"}; res.From != 1 || !slices.Equal(res.Applied, want) {
		t.Fatalf("Migrate = %+v, want from 1, applying %v", res, want)
	}
	if n := versions(); n != pgstore.SchemaVersion {
		t.Fatalf("%d schema rows; want %d", n, pgstore.SchemaVersion)
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.InstanceFetchAll(ctx, vmmstate.InstanceIDFromUUID(id))
	if err != nil {
		t.Fatal(err)
	}
	if s.Instance.RestartFailures != 0 || s.Instance.Runtime.State != instancestate.NexusFailed {
		t.Fatalf("upgraded instance: %d failed restarts, state %v; want 0 and failed", s.Instance.RestartFailures, s.Instance.Runtime.State)
	}
	if _, err := conn.Exec(ctx, `UPDATE instance SET restart_failures = -1 WHERE id = $1`, id); err == nil {
		t.Fatal("a negative restart_failures was stored")
	}
}

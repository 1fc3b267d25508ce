package pgstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestSchemaUpgradeCountsNoRestartFailures: a database at schema version
// 1, holding an instance, is brought to the current version by Open; the
// instance reads back with no failed restart counted (D33), and the new
// column refuses a negative count.
func TestSchemaUpgradeCountsNoRestartFailures(t *testing.T) {
	ctx := context.Background()
	dsn := pgstoretest.Schema(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	v1, err := os.ReadFile("schema/0001_initial.sql")
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.MustParse("11111111-1111-4111-8111-111111111111")
	for _, stmt := range []string{
		string(v1),
		`CREATE TABLE vmlife_schema (version INT8 PRIMARY KEY, name TEXT NOT NULL, time_applied TIMESTAMPTZ NOT NULL DEFAULT now())`,
		`INSERT INTO vmlife_schema (version, name) VALUES (1, '0001_initial')`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO instance (id, state, time_state_updated, state_generation, updater_gen, intended_state)
		VALUES ($1, 'failed', now(), 4, 1, 'running')`, id); err != nil {
		t.Fatal(err)
	}

	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open of a version-1 database: %v", err)
	}
	defer st.Close()
	var versions int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM vmlife_schema`).Scan(&versions); err != nil || versions != pgstore.SchemaVersion {
		t.Fatalf("%d schema rows, %v; want %d", versions, err, pgstore.SchemaVersion)
	}
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

package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/datastore/storetest"
	"github.com/vmlife/vmlife/pgstore"
)

// dsn returns the test database's DSN, from VMLIFE_PG_DSN. Without it the
// test is skipped, naming the script that starts a server — except in CI
// (CI=true), where a missing database fails the run.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv("VMLIFE_PG_DSN")
	if d == "" {
		msg := "VMLIFE_PG_DSN is not set: start a server with `scripts/postgres start` and export the DSN it prints last"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return d
}

var schemas atomic.Int64

// fresh opens a store in a schema of its own, dropped when the test ends:
// every test starts from an empty database.
func fresh(t testing.TB) *pgstore.Store {
	t.Helper()
	st, _ := freshDSN(t)
	return st
}

// freshDSN is fresh, with the DSN that opens the same schema again.
func freshDSN(t testing.TB) (*pgstore.Store, string) {
	t.Helper()
	ctx := context.Background()
	base := dsn(t)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), schemas.Add(1))
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	own := withSearchPath(base, name)
	st, err := pgstore.Open(ctx, own)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	return st, own
}

// withSearchPath adds search_path to a URL or key=value DSN.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&search_path=" + schema
		}
		return dsn + "?search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

// TestConformance runs the datastore conformance suite on PostgreSQL, with
// the fleet queries reading three instances at a time so that their
// answers cross page boundaries (the transcripts, the simulation and the
// stress test read with the default page).
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) datastore.Store {
		st := fresh(t)
		pgstore.SetFleetPage(st, 3)
		return st
	})
}

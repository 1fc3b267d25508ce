package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/datastore/storetest"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
)

var roles atomic.Int64

// rowsRole creates a login role for the test that is granted nothing,
// dropped when the test ends. The server's role (VMLIFE_PG_DSN's) must be
// allowed to create roles, as scripts/postgres's is.
func rowsRole(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	base := pgstoretest.DSN(t)
	name := fmt.Sprintf("vmlife_rows_%d_%d", os.Getpid(), roles.Add(1))
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+name+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		for _, q := range []string{"DROP OWNED BY " + name, "DROP ROLE " + name} {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Error(err)
			}
		}
	})
	return name
}

// asRole is a pool on the schema dsn names, connected as role.
func asRole(t *testing.T, dsn, role string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = role
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// grantRows gives role what a store needs on the schema dsn names and no
// more: to use the schema, and SELECT, INSERT, UPDATE and DELETE on its
// tables. It may not create, alter or drop anything.
func grantRows(t *testing.T, dsn, role string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestARoleThatOnlyWritesRows: a role granted only SELECT, INSERT, UPDATE
// and DELETE on the tables — after the schema's owner migrated them — opens
// the store and passes the conformance suites: opening runs no DDL. Migrate
// as that role succeeds where there is nothing to do, and where there is,
// says the role may not; Open of a database with no schema says to migrate
// it, not that a permission is missing.
func TestARoleThatOnlyWritesRows(t *testing.T) {
	ctx := context.Background()
	role := rowsRole(t)
	restricted := func(t *testing.T) *pgstore.Store {
		t.Helper()
		dsn := pgstoretest.Schema(t)
		if _, err := pgstore.Migrate(ctx, dsn); err != nil {
			t.Fatal(err)
		}
		grantRows(t, dsn, role)
		pool := asRole(t, dsn, role)
		if res, err := pgstore.MigratePool(ctx, pool); err != nil || len(res.Applied) != 0 {
			t.Fatalf("Migrate of a database at this version, as a role that only writes rows = %+v, %v; want nothing to do", res, err)
		}
		st, err := pgstore.New(ctx, pool)
		if err != nil {
			t.Fatalf("New as a role that only writes rows: %v", err)
		}
		return st
	}

	t.Run("unmigrated", func(t *testing.T) {
		dsn := pgstoretest.Schema(t)
		grantRows(t, dsn, role)
		pool := asRole(t, dsn, role)
		if _, err := pgstore.New(ctx, pool); !errors.Is(err, pgstore.ErrMigrationNeeded) {
			t.Fatalf("New on a database with no schema = %v, want ErrMigrationNeeded", err)
		}
		_, err := pgstore.MigratePool(ctx, pool)
		if err == nil || !strings.Contains(err.Error(), "needs a role that may create tables") {
			t.Fatalf("Migrate as a role that only writes rows = %v, want it to say it needs another role", err)
		}
	})
	t.Run("Store", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) datastore.Store {
			st := restricted(t)
			pgstore.SetFleetPage(st, 3)
			return st
		})
	})
	t.Run("SagaLog", func(t *testing.T) {
		storetest.RunSagaLog(t, func(t *testing.T) datastore.SagaLog { return restricted(t) })
	})
	t.Run("Reservations", func(t *testing.T) {
		storetest.RunReservations(t, func(t *testing.T) storetest.ReservationStore { return restricted(t) })
	})
	t.Run("ClaimRun", func(t *testing.T) {
		release, err := restricted(t).ClaimRun(ctx)
		if err != nil {
			t.Fatal(err)
		}
		release()
	})
}

// Package pgstoretest gives tests a PostgreSQL database: the server
// VMLIFE_PG_DSN names, and in it a schema of each test's own, dropped when
// the test ends, so that every test starts from an empty database. vmlife's
// own tests of pgstore and of `vmlife --store` use it, and so can a user's
// tests of code built on pgstore.
//
// Without VMLIFE_PG_DSN a test is skipped with a message naming the script
// that starts a server (scripts/postgres start) — except in CI (CI=true),
// where a missing database fails the run.
package pgstoretest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DSN returns the test server's DSN, from VMLIFE_PG_DSN; without it the
// test is skipped, or fails in CI.
func DSN(t testing.TB) string {
	t.Helper()
	d := os.Getenv("VMLIFE_PG_DSN")
	if d == "" {
		msg := "VMLIFE_PG_DSN is not set: start a server with `scripts/postgres start` and export the DSN it prints last"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		noteSkipped()
		t.Skip(msg)
	}
	return d
}

// skipNote is the one line a reader of `go test` sees when database tests
// are skipped.
const skipNote = "vmlife: PostgreSQL tests skipped (VMLIFE_PG_DSN is unset); to run them: " +
	"export VMLIFE_PG_DSN=$(scripts/postgres start | tail -n 1) && go test work\n"

var noted atomic.Bool

// noteSkipped tells the person at the terminal, once per go command, that
// database tests were skipped and how to run them. go test shows nothing a
// passing package prints unless -v is given, so a skip would otherwise go
// unseen; the terminal is written to directly, and only when there is one
// (a CI log has CI=true, where a skip is a failure instead). Packages of
// one go command share its process id, so a marker named after it keeps
// the note to one.
func noteSkipped() {
	if !noted.CompareAndSwap(false, true) {
		return
	}
	marker := filepath.Join(os.TempDir(), fmt.Sprintf("vmlife-dbskip-%d", os.Getppid()))
	if fi, err := os.Stat(marker); err == nil && time.Since(fi.ModTime()) < time.Hour {
		return
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return
	}
	fmt.Fprint(tty, skipNote)
}

var schemas atomic.Int64

// Schema creates a schema of the test's own on the test server, drops it
// (with everything in it) when the test ends, and returns a DSN whose
// search_path is that schema. The schema is empty: pgstore.Migrate(ctx,
// dsn) creates vmlife's tables in it, which pgstore.Open expects to find. Cleanups registered after Schema returns —
// closing a store opened on the DSN — run before the drop.
func Schema(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	base := DSN(t)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), schemas.Add(1))
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
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
	return WithSearchPath(base, name)
}

// WithSearchPath adds search_path to a URL or key=value DSN.
func WithSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&search_path=" + schema
		}
		return dsn + "?search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

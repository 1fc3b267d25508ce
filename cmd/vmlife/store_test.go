//go:build !vmlife_nodb

package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
	"github.com/vmlife/vmlife/script"
)

// TestStoreBadInput: --store without a DSN, twice, empty, malformed, or
// naming a server that does not answer is bad input for the commands that
// keep records and for migrate — exit 2, one line naming --store, nothing
// on stdout.
func TestStoreBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--store"}, "--store: no DSN after it (accepted: a postgres:// URL"},
		{[]string{"--store="}, "--store: empty"},
		{[]string{"--store", " "}, "--store: empty"},
		{[]string{"--store", "x", "--store=y"}, "--store: given twice (accepted: one --store)"},
		{[]string{"--store", "postgres://%zz"}, "--store: pgstore: DSN"},
		{[]string{"--store", "port=notanumber"}, "--store: pgstore: DSN"},
		{[]string{"--store=host=/nonexistent-vmlife-dir user=postgres connect_timeout=2"}, "--store: pgstore: the server does not answer"},
	} {
		for _, cmd := range []string{"script", "simulate", "migrate"} {
			args := append([]string{cmd}, c.args...)
			status, stdout, stderr := runInProcess(args, "")
			if status != exitBadInput || stdout != "" || strings.Count(stderr, "\n") != 1 ||
				!strings.HasPrefix(stderr, "vmlife "+cmd+": "+c.want) {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, status, stdout, stderr, c.want)
			}
		}
	}
	// A password in the DSN is never echoed.
	for _, dsn := range []string{"postgres://u:hunter2@host:notaport/db", "host=/nonexistent-vmlife-dir user=u password=hunter2 connect_timeout=2"} {
		status, _, stderr := runInProcess([]string{"script", "--store", dsn}, "")
		if status != exitBadInput || strings.Contains(stderr, "hunter2") {
			t.Errorf("--store %q: exit %d, stderr %q; want exit 2 and no password", dsn, status, stderr)
		}
	}
	// A simulation's own flags are still checked, before the database is
	// opened.
	status, _, stderr := runInProcess([]string{"simulate", "--store", "postgres://%zz", "--instances", "0"}, "")
	if status != exitBadInput || !strings.Contains(stderr, "--instances") {
		t.Errorf("simulate --instances 0 with --store: exit %d, stderr %q", status, stderr)
	}
}

// TestScriptTranscriptsOnPostgres runs every script of testdata/script
// with --store on a database of its own, and compares the whole
// transcript — exit status, stdout, stderr — with the golden file the
// in-memory store wrote: the same script, the same output (DATASTORE's
// conformance check from outside).
func TestScriptTranscriptsOnPostgres(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "script", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts under testdata/script: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".jsonl"), func(t *testing.T) {
			dsn := pgstoretest.Schema(t)
			want, err := os.ReadFile(strings.TrimSuffix(file, ".jsonl") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			status, stdout, stderr := runInProcess([]string{"script", "--store", dsn, file}, "")
			if got := transcript(status, stdout, stderr); got != string(want) {
				t.Errorf("with --store:\n%s\nin memory (the golden file):\n%s", got, want)
			}
		})
	}
}

// TestSimulateOnPostgres: the simulation with its records in PostgreSQL
// prints what it prints in memory for the same seed, and a second run over
// the same records is refused (its ids would collide).
func TestSimulateOnPostgres(t *testing.T) {
	dsn := pgstoretest.Schema(t)
	args := []string{"simulate", "--instances", "4", "--steps", "400", "--seed", "5"}
	memStatus, mem, _ := runInProcess(args, "")
	status, pg, stderr := runInProcess(append(args, "--store", dsn), "")
	if status != exitOK || memStatus != exitOK || pg != mem || !strings.HasSuffix(pg, "violations: 0\n") {
		t.Fatalf("with --store: exit %d, stderr %q, stdout\n%s\nin memory: exit %d, stdout\n%s", status, stderr, pg, memStatus, mem)
	}
	status, stdout, stderr := runInProcess(append(args, "--store="+dsn), "")
	if status != exitBadInput || stdout != "" || !strings.Contains(stderr, "--store: the database holds records") {
		t.Fatalf("a second run over the same records: exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

// TestScriptRefusesAUsedDatabase: a script's sagas number their ids from
// the same start at every run, so a second run over the first one's rows
// would meet them under its own ids (D29): it is refused as bad input
// naming --store, nothing written, as simulate refuses one. A database
// holding only a VMM is used too.
func TestScriptRefusesAUsedDatabase(t *testing.T) {
	script := filepath.Join("testdata", "script", "sagas.jsonl")
	dsn := pgstoretest.Schema(t)
	if status, _, stderr := runInProcess([]string{"script", "--store", dsn, script}, ""); status != exitOK {
		t.Fatalf("the first run: exit %d, stderr %q", status, stderr)
	}
	status, stdout, stderr := runInProcess([]string{"script", "--store", dsn, script}, "")
	if status != exitBadInput || stdout != "" || strings.Count(stderr, "\n") != 1 ||
		!strings.HasPrefix(stderr, "vmlife script: --store: the database holds records") {
		t.Fatalf("a second run over the first one's records: exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	ctx := context.Background()
	lone := pgstoretest.Schema(t)
	line := `{"op":"vmm_insert","vmm":{"id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","instance_id":"11111111-1111-4111-8111-111111111111","sled_id":"55555555-5555-4555-8555-555555555555","state":"creating","state_generation":1,"time_state_updated":"2026-01-01T00:00:00Z"}}` + "\n"
	if status, _, stderr := runInProcess([]string{"script", "--store", lone}, line); status != exitOK {
		t.Fatalf("a VMM alone: exit %d, stderr %q", status, stderr)
	}
	if status, _, _ := runInProcess([]string{"script", "--store", lone}, line); status != exitBadInput {
		t.Fatalf("a database holding a VMM alone: exit %d, want %d", status, exitBadInput)
	}
	st, err := pgstore.Open(ctx, lone)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var vmms int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM vmm`).Scan(&vmms); err != nil || vmms != 1 {
		t.Fatalf("after the refusal: %d VMM rows (%v); want the one", vmms, err)
	}
}

// TestScriptRefusesADatabaseInUse: two runs at once on one database would
// number their ids alike and touch each other's records (two processes
// holding one updater lock under the same id): while a script or a
// simulation runs, another is refused as bad input naming --store, and
// once it ended the database is free again.
func TestScriptRefusesADatabaseInUse(t *testing.T) {
	dsn := pgstoretest.Schema(t)
	_, closeFirst, err := openStore(dsn, false, 0) // a run in progress
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"script", "simulate"} {
		status, stdout, stderr := runInProcess([]string{cmd, "--store", dsn}, "")
		if status != exitBadInput || stdout != "" || !strings.HasPrefix(stderr, "vmlife "+cmd+": --store: another script or simulation is using the database") {
			t.Errorf("%s beside a run in progress: exit %d, stdout %q, stderr %q", cmd, status, stdout, stderr)
		}
	}
	closeFirst(nil)
	if status, _, stderr := runInProcess([]string{"script", "--store", dsn}, `{"op":"vmm_list_abandoned"}`+"\n"); status != exitOK {
		t.Fatalf("after the first run ended: exit %d, stderr %q", status, stderr)
	}
}

// TestStoreSchemaOfAnotherVersion: a database whose schema this vmlife
// does not know is bad input, to migrate too, and is left as it was.
func TestStoreSchemaOfAnotherVersion(t *testing.T) {
	ctx := context.Background()
	dsn := pgstoretest.Schema(t)
	if _, err := pgstore.Migrate(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO vmlife_schema (version, name) VALUES (99, '0099_future')`); err != nil {
		t.Fatal(err)
	}
	line := `{"op":"vmm_insert","vmm":{"id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","instance_id":"11111111-1111-4111-8111-111111111111","sled_id":"55555555-5555-4555-8555-555555555555","state":"creating","state_generation":1,"time_state_updated":"2026-01-01T00:00:00Z"}}` + "\n"
	for _, cmd := range []string{"script", "simulate", "migrate"} {
		status, stdout, stderr := runInProcess([]string{cmd, "--store", dsn}, line)
		if status != exitBadInput || stdout != "" || !strings.Contains(stderr, "--store: pgstore: ") || !strings.Contains(stderr, "schema") {
			t.Errorf("%s on a newer schema: exit %d, stdout %q, stderr %q", cmd, status, stdout, stderr)
		}
	}
	var vmms int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM vmm`).Scan(&vmms); err != nil || vmms != 0 {
		t.Fatalf("after the refusals: %d VMM rows (%v); want none", vmms, err)
	}
}

// TestStoreServerThatRefuses: a server that answers with a refusal (no
// such database, no such role) is reported as having answered, with what
// it said — not as a server that does not answer.
func TestStoreServerThatRefuses(t *testing.T) {
	dsn := pgstoretest.DSN(t)
	for _, c := range []struct{ key, value, want string }{
		{"dbname", "vmlife_no_such_database", `the server answered and refused the connection: FATAL: database "vmlife_no_such_database" does not exist`},
		{"user", "vmlife_no_such_role", `the server answered and refused the connection: FATAL: role "vmlife_no_such_role" does not exist`},
	} {
		bad := withDSNKey(t, dsn, c.key, c.value)
		for _, cmd := range []string{"script", "simulate", "migrate"} {
			status, stdout, stderr := runInProcess([]string{cmd, "--store", bad}, "")
			if status != exitBadInput || stdout != "" || !strings.Contains(stderr, "--store: pgstore: "+c.want) {
				t.Errorf("%s with %s=%s: exit %d, stdout %q, stderr %q; want exit 2 and %q", cmd, c.key, c.value, status, stdout, stderr, c.want)
			}
		}
	}
}

// withDSNKey returns dsn with one connection setting changed, in either
// of the forms a DSN takes.
func withDSNKey(t *testing.T, dsn, key, value string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("VMLIFE_PG_DSN: %v", err)
	}
	switch key {
	case "dbname":
		u.Path = "/" + value
	case "user":
		u.User = url.User(value)
	default:
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// TestCrashRecoverOnPostgres: crashCheck with the records and the saga
// log in PostgreSQL — every saga, every fail_at, and three crash points
// (the first event, the middle, the last write before rest), each script
// in a database of its own.
func TestCrashRecoverOnPostgres(t *testing.T) {
	pgstoretest.DSN(t)
	crashCheck(t, func(script string) (int, string, string) {
		return runInProcess([]string{"script", "--store", pgstoretest.Schema(t)}, script)
	}, func(events int) []int {
		ks := make([]int, events)
		for i := range ks {
			ks[i] = i
		}
		return ks
	})
}

// TestMigrate: `vmlife migrate --store DSN` creates the schema of an empty
// database and says what it applied; again, it applies nothing; a script
// runs on the database it migrated. Without --store, or with anything
// else, it is bad input.
func TestMigrate(t *testing.T) {
	dsn := pgstoretest.Schema(t)
	for _, from := range []int64{0, pgstore.SchemaVersion} {
		status, stdout, stderr := runInProcess([]string{"migrate", "--store", dsn}, "")
		var got migrateJSON
		if status != exitOK || stderr != "" || json.Unmarshal([]byte(stdout), &got) != nil {
			t.Fatalf("migrate: exit %d, stderr %q, stdout\n%s", status, stderr, stdout)
		}
		applied := pgstore.SchemaVersion - from
		if got.SchemaVersion != pgstore.SchemaVersion || got.FromVersion != from || int64(len(got.Applied)) != applied ||
			(from == 0 && got.Applied[0] != "0001_initial") || (applied == 0 && !strings.Contains(stdout, `"applied": []`)) {
			t.Fatalf("migrate from version %d printed\n%s\nwant version %d, %d migrations applied", from, stdout, pgstore.SchemaVersion, applied)
		}
	}
	if status, _, stderr := runInProcess([]string{"script", "--store", dsn}, `{"op":"vmm_list_abandoned"}`+"\n"); status != exitOK {
		t.Fatalf("script on the migrated database: exit %d, stderr %q", status, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate"}, "vmlife migrate: --store: missing"},
		{[]string{"migrate", "--store", dsn, "extra"}, `vmlife migrate: arguments: unexpected "extra"`},
	} {
		status, stdout, stderr := runInProcess(c.args, "")
		if status != exitBadInput || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, status, stdout, stderr, c.want)
		}
	}
}

// TestClosingAfterNoAnswer: a run that ended because the server did not
// answer does not wait for that server to close the store (pgx would give
// each of its connections 15 seconds, and the run's hold 5 more); any
// other run closes the store before the command exits.
func TestClosingAfterNoAnswer(t *testing.T) {
	release := make(chan struct{})
	closed := make(chan struct{})
	closeStore := closing(func() { <-release; close(closed) })
	returned := make(chan struct{})
	go func() {
		closeStore(&script.StoreFailure{Line: 2, Op: "vmm_insert", Err: &pgstore.NoAnswerError{Op: "vmm_insert", TimedOut: true, Err: context.DeadlineExceeded}})
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("closing after a server that did not answer waited for it")
	}
	close(release)
	<-closed

	waited := false
	closing(func() { waited = true })(errors.New("a failure the server answered"))
	if !waited {
		t.Fatal("closing after another failure did not close the store first")
	}
}

// TestSimulateResumes: --resume continues the simulation a database holds
// — to --steps in all, then settled with nothing left over — and on a
// database that holds none is bad input.
func TestSimulateResumes(t *testing.T) {
	dsn := pgstoretest.Schema(t)
	status, stdout, stderr := runInProcess([]string{"simulate", "--store", dsn, "--resume"}, "")
	if status != exitBadInput || stdout != "" || !strings.Contains(stderr, "--resume: the database holds no simulation to resume") {
		t.Fatalf("nothing kept: exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	type summary struct {
		Seed, Instances, Steps, Violations int
		SagasUnfinished                    int `json:"sagas_unfinished"`
		LocksHeld                          int `json:"locks_held"`
		ReservationsLeaked                 int `json:"reservations_leaked"`
	}
	steps := func(args ...string) summary {
		t.Helper()
		status, stdout, stderr := runInProcess(append([]string{"simulate", "--store", dsn, "--json"}, args...), "")
		var s summary
		if status != exitOK {
			t.Fatalf("simulate %v: exit %d, stderr %q", args, status, stderr)
		}
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("simulate %v: %v in %q", args, err, stdout)
		}
		return s
	}
	if s := steps("--instances", "4", "--steps", "300", "--seed", "5"); s.Steps != 300 {
		t.Errorf("the first run took %d steps, want 300", s.Steps)
	}
	if s := steps("--resume", "--steps", "600"); s.Steps != 600 || s.Instances != 4 || s.Seed != 5 {
		t.Errorf("resumed to 600: %d steps, %d instances, seed %d", s.Steps, s.Instances, s.Seed)
	}
	s := steps("--resume", "--steps", "0", "--settle")
	if s.Steps <= 600 || s.Violations != 0 || s.SagasUnfinished != 0 || s.LocksHeld != 0 || s.ReservationsLeaked != 0 {
		t.Errorf("settled: %d steps, %d violations, %d sagas unfinished, %d locks held, %d reservations leaked",
			s.Steps, s.Violations, s.SagasUnfinished, s.LocksHeld, s.ReservationsLeaked)
	}
}

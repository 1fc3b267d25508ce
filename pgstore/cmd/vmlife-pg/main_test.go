package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/pgstore/internal/pgtest"
)

// TestBadStore: a malformed DSN, a server that does not answer and a
// missing --store are bad input — exit 2, one line naming the problem.
func TestBadStore(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"script"}, "--store: missing"},
		{[]string{"script", "--store", "postgres://%zz"}, "--store: pgstore: DSN"},
		{[]string{"script", "--store=host=/nonexistent-vmlife-dir connect_timeout=2"}, "does not answer"},
		{[]string{"script", "--store", "x", "--bogus"}, "unknown flag"},
		{[]string{"explain"}, "usage: vmlife-pg script"},
		{[]string{"simulate", "--instances", "4"}, "--store: missing"},
		{[]string{"simulate", "--store", "x", "--instances", "0"}, "--instances"},
	} {
		var stdout, stderr bytes.Buffer
		status := run(context.Background(), c.args, strings.NewReader(""), &stdout, &stderr)
		if status != 2 || !strings.Contains(stderr.String(), c.want) || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, status, stderr.String(), c.want)
		}
	}
}

// TestSimulate runs a small simulation with its records in PostgreSQL,
// then refuses to run another over them.
func TestSimulate(t *testing.T) {
	dsn := pgtest.Schema(t)
	args := []string{"simulate", "--store", dsn, "--instances", "4", "--steps", "300", "--seed", "5"}
	var stdout, stderr bytes.Buffer
	if status := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); status != 0 || !strings.HasSuffix(stdout.String(), "violations: 0\n") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", status, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if status := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); status != 2 || !strings.Contains(stderr.String(), "holds instances") {
		t.Fatalf("a second run over the same records: exit %d, stderr %q", status, stderr.String())
	}
}

// TestScript runs a script against the test database, when there is one.
func TestScript(t *testing.T) {
	dsn := pgtest.Schema(t)
	var stdout, stderr bytes.Buffer
	in := "{\"op\":\"vmm_list_by_sled\",\"sled_id\":\"55555555-5555-4555-8555-555555555555\"}\n{\"op\":\"nope\"}\n"
	status := run(context.Background(), []string{"script", "--store", dsn}, strings.NewReader(in), &stdout, &stderr)
	if status != 2 || stdout.String() != `{"line":1,"op":"vmm_list_by_sled","ok":true,"result":{"vmm_ids":[]}}`+"\n" || !strings.Contains(stderr.String(), "line 2: op") {
		t.Fatalf("exit %d, stdout %q, stderr %q", status, stdout.String(), stderr.String())
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
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
	} {
		var stdout, stderr bytes.Buffer
		status := run(context.Background(), c.args, strings.NewReader(""), &stdout, &stderr)
		if status != 2 || !strings.Contains(stderr.String(), c.want) || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, status, stderr.String(), c.want)
		}
	}
}

// TestScript runs a script against the test database, when there is one.
func TestScript(t *testing.T) {
	dsn := os.Getenv("VMLIFE_PG_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("VMLIFE_PG_DSN is not set: start a server with `scripts/postgres start`")
		}
		t.Skip("VMLIFE_PG_DSN is not set: start a server with `scripts/postgres start` and export the DSN it prints last")
	}
	var stdout, stderr bytes.Buffer
	in := "{\"op\":\"vmm_list_by_sled\",\"sled_id\":\"55555555-5555-4555-8555-555555555555\"}\n{\"op\":\"nope\"}\n"
	status := run(context.Background(), []string{"script", "--store", dsn}, strings.NewReader(in), &stdout, &stderr)
	if status != 2 || stdout.String() != `{"line":1,"op":"vmm_list_by_sled","ok":true,"result":{"vmm_ids":[]}}`+"\n" || !strings.Contains(stderr.String(), "line 2: op") {
		t.Fatalf("exit %d, stdout %q, stderr %q", status, stdout.String(), stderr.String())
	}
}

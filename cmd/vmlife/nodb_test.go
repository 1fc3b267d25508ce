package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoDBBuild: vmlife built with -tags vmlife_nodb links no database
// driver, answers --store with exit 2 and one line saying why, and does
// everything else as the default build does.
func TestNoDBBuild(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "vmlife_nodb", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/jackc/") || strings.HasPrefix(dep, "github.com/vmlife/vmlife/pgstore") {
			t.Errorf("the vmlife_nodb build depends on %s", dep)
		}
	}
	bin := filepath.Join(t.TempDir(), "vmlife-nodb")
	if msg, err := exec.Command("go", "build", "-tags", "vmlife_nodb", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags vmlife_nodb: %v\n%s", err, msg)
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runBuilt(t, bin, strings.NewReader(""), args...)
	}
	for _, cmd := range []string{"script", "simulate", "migrate"} {
		status, stdout, stderr := run(cmd, "--store", "postgres://localhost/x")
		if want := "vmlife " + cmd + ": --store: this vmlife was built with -tags vmlife_nodb and links no database driver"; status != exitBadInput || stdout != "" ||
			strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
			t.Errorf("%s --store: exit %d, stdout %q, stderr %q; want exit 2 and %q", cmd, status, stdout, stderr, want)
		}
	}
	input := filepath.Join("testdata", "explain", "migrating_in_flight.json")
	wantStatus, want, _ := runInProcess([]string{"explain", input}, "")
	if status, got, stderr := run("explain", input); status != wantStatus || got != want {
		t.Errorf("explain: exit %d, stderr %q, stdout\n%s\nthe default build: exit %d, stdout\n%s", status, stderr, got, wantStatus, want)
	}
	if status, got, _ := run("simulate", "--steps", "200"); status != exitOK || !strings.HasSuffix(got, "violations: 0\n") {
		t.Errorf("simulate in memory: exit %d, stdout\n%s", status, got)
	}
}

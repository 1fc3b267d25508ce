package main

import (
	// Registered for its flags only, so that the deep run
	// (go test ./... -rapid.checks=10000) accepts them here too.
	"bytes"
	"strings"
	"testing"

	_ "pgregory.net/rapid"

	"github.com/vmlife/vmlife/examples/internal/demo"
)

// The successful migration must end on B with the migration cleared; the
// failed one must leave the instance on B, never reading C's failure.
func TestMigration(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := demo.Squash(buf.String())
	for _, want := range []string{
		"migrate saga linked the target instance vmm@4 active A running@3 target B migrating@2 migration pending@1→pending@1 shows migrating",
		"B reports running@4 vmm applied, migration in/out written: true/false, update needed: true",
		"update plan committed instance vmm@5 active B running@4 shows running",
		"C reports failed@3 vmm applied, migration in/out written: true/false, update needed: true",
		"update plan committed instance vmm@7 active B migrating@5 shows migrating",
		"B still running instance vmm@7 active B running@6 shows running, intent running",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(out, "shows failed") || strings.Contains(out, "refused") {
		t.Errorf("the instance read failed or a report was refused:\n%s", buf.String())
	}
}

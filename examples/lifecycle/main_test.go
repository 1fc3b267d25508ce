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

// The example must walk the whole lifecycle, every request accepted, and
// every generation must move exactly as the comments in main.go say.
func TestLifecycle(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := demo.Squash(buf.String())
	for _, want := range []string{
		"create saga finished instance no_vmm@2 shows stopped",
		"start saga linked its VMM instance vmm@3 active VMM creating@1 shows starting, intent running",
		"running instance vmm@3 active VMM running@3 shows running",
		"VMM reports destroyed@5 vmm applied, update needed: true",
		"VMM destroyed, not yet unlinked instance vmm@3 active VMM destroyed@5 shows stopping, intent stopped",
		"update plan committed instance no_vmm@4 shows stopped, intent stopped",
		"delete saga finished instance destroyed@5 shows destroyed, intent destroyed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(out, "reject") || strings.Contains(out, "refused") {
		t.Errorf("a request or report was refused:\n%s", buf.String())
	}
}

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

// Whatever the order, the record must end at the newest report, stale ones
// must be reported stale, and the resurrecting report refused.
func TestOutOfOrder(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := demo.Squash(buf.String())
	for _, want := range []string{
		"arrives running@3 applied stored running@3",
		"arrives starting@2 stale stored running@3",
		"arrives destroyed@7 applied stored destroyed@7",
		"arrives stopping@6 stale stored destroyed@7",
		"refused: terminal=true, report kept: running@99, stored destroyed@7",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

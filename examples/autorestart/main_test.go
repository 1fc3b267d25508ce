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

// Unreachable in A0 must not fail the VMM; powered off must; the failed
// restart must be explained and waited out; the second restart must land.
func TestAutoRestart(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := demo.Squash(buf.String())
	for _, want := range []string{
		"watcher: timeout, sled in A0 unreachable: state left alone",
		"explain at 10:01:05: running; next none condition SledUnreachable",
		"A marked failed instance vmm@3 active A failed(sled_off)@4",
		"update plan committed instance failed@4 shows failed, intent running",
		"explain at 10:02:07: failed; next reincarnate",
		"registering B failed; saga unwound instance no_vmm@6 shows stopped, intent running",
		"explain at 10:02:10: stopped; next wait until 10:07:08 condition StartFailed (sled_agent_error)",
		"condition AutoRestartCoolingDown (cooldown)",
		"explain at 10:03:10: stopped; next wait until 10:07:08",
		"explain at 10:08:10: stopped; next reincarnate",
		"running on C (sled 3) instance vmm@7 active C running@3 shows running",
		"explain at 10:08:13: running; next none",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
	if last := out[strings.LastIndex(out, "explain at"):]; strings.Contains(last, "condition") {
		t.Errorf("conditions remain after a successful restart: %s", last)
	}
}

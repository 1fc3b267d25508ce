package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A small simulation exits 0, prints its summary ending in "violations: 0"
// on standard output and its speed on standard error; the same seed
// prints the same bytes.
func TestSimulate(t *testing.T) {
	args := []string{"simulate", "--instances", "6", "--steps=3000", "--seed", "3", "--faults", "all"}
	status, stdout, stderr := runInProcess(args, "")
	if status != exitOK {
		t.Fatalf("vmlife %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, status, stdout, stderr)
	}
	for _, want := range []string{"vmlife simulate: seed 3, 6 instances", "3000 steps", "instances by state:", "actions:", "reports:", "\nviolations: 0\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.HasSuffix(stdout, "violations: 0\n") {
		t.Errorf("stdout does not end with the violation count:\n%s", stdout)
	}
	if !strings.HasPrefix(stderr, "vmlife simulate: 3000 steps in ") || !strings.HasSuffix(stderr, " steps/s)\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q: want one line with the speed", stderr)
	}
	if _, again, _ := runInProcess(args, ""); again != stdout {
		t.Errorf("the same seed printed different output:\n%s\n---\n%s", stdout, again)
	}
	_, other, _ := runInProcess([]string{"simulate", "--instances", "6", "--steps=3000", "--seed", "4"}, "")
	if other == stdout {
		t.Errorf("seeds 3 and 4 printed the same output")
	}
}

// --json prints the summary as one JSON object.
func TestSimulateJSON(t *testing.T) {
	status, stdout, stderr := runInProcess([]string{"simulate", "--instances=4", "--steps", "1500", "--faults", "drop,sled_off", "--json"}, "")
	if status != exitOK {
		t.Fatalf("exit %d, stderr %q", status, stderr)
	}
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&got); err != nil || dec.More() {
		t.Fatalf("stdout is not one JSON object (%v):\n%s", err, stdout)
	}
	if got["violations"] != 0.0 || got["steps"] != 1500.0 || got["instances"] != 4.0 || got["faults"] != "drop,sled_off" {
		t.Errorf("summary %v", got)
	}
	for _, key := range []string{"instances_by_state", "actions", "reports", "faults_injected", "sagas_started", "violation_list"} {
		if _, ok := got[key]; !ok {
			t.Errorf("summary lacks %q", key)
		}
	}
	if injected := got["faults_injected"].(map[string]any); injected["delay"] != 0.0 {
		t.Errorf("a fault that was not asked for was injected: %v", injected)
	}
}

// Bad flags exit 2 with one line naming the flag and what it accepts.
func TestSimulateBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want []string // substrings of the one line on stderr
	}{
		{[]string{"--faults", "drop,bogus"}, []string{"--faults", `"bogus"`, "sled_expunge", "accepted"}},
		{[]string{"--faults=Drop"}, []string{"--faults", "drop"}},
		{[]string{"--instances", "0"}, []string{"--instances", "1 to 10000"}},
		{[]string{"--instances", "many"}, []string{"--instances", `"many"`}},
		{[]string{"--steps", "-1"}, []string{"--steps", "out of range", "0 to 1000000000"}},
		{[]string{"--steps", "abc"}, []string{"--steps", `"abc" is not an integer`, "0 to 1000000000"}},
		{[]string{"--steps", "99999999999999999999"}, []string{"--steps", "out of range"}},
		{[]string{"--seed", "-1"}, []string{"--seed", "18446744073709551615"}},
		{[]string{"--seed"}, []string{"--seed", "missing its value"}},
		{[]string{"--json=yes"}, []string{"--json", "takes no value"}},
		{[]string{"--speed", "9"}, []string{`unknown flag "--speed"`, "--instances N"}},
		{[]string{"extra"}, []string{`unexpected argument "extra"`, "--faults LIST"}},
		{[]string{"--resume"}, []string{"--resume", "no --store", "--resume with --store DSN"}},
		{[]string{"--resume=yes"}, []string{"--resume", "takes no value"}},
		{[]string{"--resume", "--seed", "3"}, []string{"--seed", "continues a kept one", "kept world's own configuration"}},
		{[]string{"--instances", "4", "--resume"}, []string{"--instances", "continues a kept one"}},
		{[]string{"--faults", "drop", "--resume"}, []string{"--faults", "continues a kept one"}},
	}
	for _, tt := range tests {
		args := append([]string{"simulate"}, tt.args...)
		status, stdout, stderr := runInProcess(args, "")
		if status != exitBadInput || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "vmlife simulate: ") {
			t.Errorf("vmlife %v: exit %d, stdout %q, stderr %q; want 2 and one line", args, status, stdout, stderr)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("vmlife %v: stderr %q lacks %q", args, stderr, w)
			}
		}
	}
}

func TestSimulateHelp(t *testing.T) {
	status, stdout, stderr := runInProcess([]string{"simulate", "-h"}, "")
	if status != exitOK || stderr != "" || !strings.HasPrefix(stdout, "usage: vmlife simulate") || !strings.Contains(stdout, "saga_unwind") {
		t.Errorf("exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

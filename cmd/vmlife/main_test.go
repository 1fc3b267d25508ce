package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// update rewrites the golden files under testdata/ and the committed
// diagrams under docs/ from the current output: go test ./cmd/vmlife -update.
// Other test files of this package share it.
var update = flag.Bool("update", false, "rewrite golden files and docs/ diagrams from the current output")

// tmpDir holds the vmlife binary the CLI tests run; TestMain removes it.
var tmpDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "vmlife-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// vmlifeBinary builds the command once per test process (go build -o
// <tmp>/vmlife .) and returns its path. It is built on first use rather
// than in TestMain so that a fuzzing or -run-filtered process that runs no
// CLI test does not pay for a build.
func vmlifeBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(tmpDir, "vmlife")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// transcript is what a golden file holds: the exit status, standard output
// and standard error of one run.
func transcript(status int, stdout, stderr string) string {
	return fmt.Sprintf("exit %d\n-- stdout --\n%s-- stderr --\n%s", status, stdout, stderr)
}

// runBinary runs the built vmlife with args and stdin.
func runBinary(t *testing.T, stdin io.Reader, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	return runBuilt(t, vmlifeBinary(t), stdin, args...)
}

// runBuilt runs the program at bin (a build of vmlife) with args and stdin.
func runBuilt(t *testing.T, bin string, stdin io.Reader, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		status = exit.ExitCode()
	case err != nil:
		t.Fatalf("running vmlife %v: %v", args, err)
	}
	return status, out.String(), errb.String()
}

// runInProcess runs run with args and stdin.
func runInProcess(args []string, stdin string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = run(args, strings.NewReader(stdin), &out, &errb)
	return status, out.String(), errb.String()
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update and review the diff):\n--- got ---\n%s\n--- want ---\n%s", golden, got, want)
	}
}

// TestCLI runs every document under testdata/<command>/ through the built
// binary — with the file as its argument and again on standard input — and
// through run in-process, and compares all three with the golden file next
// to it. A document whose name starts with "bad_" must be refused as bad
// input; every other must succeed. Either way the output must keep
// docs/cli.md's contract (checkContract).
func TestCLI(t *testing.T) {
	for _, cmd := range []string{"explain", "report", "classify"} {
		files, err := filepath.Glob(filepath.Join("testdata", cmd, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no documents under testdata/%s: %v", cmd, err)
		}
		for _, file := range files {
			name := strings.TrimSuffix(filepath.Base(file), ".json")
			t.Run(cmd+"/"+name, func(t *testing.T) {
				t.Parallel()
				input, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				status, stdout, stderr := runBinary(t, nil, cmd, file)
				got := transcript(status, stdout, stderr)
				if s, o, e := runBinary(t, bytes.NewReader(input), cmd); transcript(s, o, e) != got {
					t.Errorf("standard input gives\n%s\nbut the file argument gives\n%s", transcript(s, o, e), got)
				}
				if s, o, e := runInProcess([]string{cmd, file}, ""); transcript(s, o, e) != got {
					t.Errorf("run in-process gives\n%s\nbut the binary gives\n%s", transcript(s, o, e), got)
				}
				checkContract(t, cmd, strings.HasPrefix(name, "bad_"), status, stdout, stderr)
				checkGolden(t, strings.TrimSuffix(file, ".json")+".golden", got)
			})
		}
	}
}

// checkContract checks the fixed interface of docs/cli.md on one run: bad
// input exits 2 with nothing on stdout and one line on stderr that names a
// field and what it accepts (or the rule broken); success exits 0 with
// nothing on stderr and exactly one JSON object, with exactly docs/cli.md's keys,
// on stdout.
func checkContract(t *testing.T, cmd string, bad bool, status int, stdout, stderr string) {
	t.Helper()
	if bad {
		if status != exitBadInput {
			t.Fatalf("exit %d, want %d for bad input; stderr: %s", status, exitBadInput, stderr)
		}
		if stdout != "" {
			t.Errorf("bad input wrote to stdout: %q", stdout)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
			t.Errorf("stderr is not exactly one line: %q", stderr)
		}
		prefix := "vmlife " + cmd + ": "
		if !strings.HasPrefix(stderr, prefix) {
			t.Errorf("stderr %q does not start with %q", stderr, prefix)
		}
		if !strings.Contains(stderr, "(accepted: ") && !strings.Contains(stderr, "(breaks D17 rule ") {
			t.Errorf("stderr %q says neither what is accepted nor which rule is broken", stderr)
		}
		return
	}
	if status != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", status, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	var out map[string]json.RawMessage
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, stdout)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON value:\n%s", stdout)
	}
	switch cmd {
	case "explain":
		checkExplainKeys(t, out)
	case "report":
		checkKeys(t, "", out, "vmm_updated", "migration_in_updated", "migration_out_updated", "update_saga_needed", "snapshot",
			"vmm_outcome", "migration_in_outcome", "migration_out_outcome")
		// The snapshot after the report is a snapshot document, the same
		// shape as the input, and explain reads it.
		if _, err := decodeDocument(out["snapshot"]); err != nil {
			t.Errorf("report's snapshot does not decode as a snapshot document: %v", err)
		}
		checkKeys(t, "snapshot", object(t, out["snapshot"]), "now", "instance", "active_vmm", "target_vmm", "migration", "sled_unreachable_since")
	case "classify":
		checkKeys(t, "", out, "vmm_gone", "failure_reason", "http_status")
	}
}

// checkExplainKeys checks explain's output object key by key (docs/cli.md
// "vmlife explain").
func checkExplainKeys(t *testing.T, out map[string]json.RawMessage) {
	t.Helper()
	checkKeys(t, "", out, "effective_state", "update", "requests", "reincarnation", "conditions", "next_action")
	if string(out["update"]) != "null" {
		u := object(t, out["update"])
		keys := []string{"state", "state_generation", "time_state_updated", "active_propolis_id", "target_propolis_id",
			"migration_id", "intended_state", "vmm_lost", "destroy_active_vmm", "destroy_target_vmm", "network", "deprovision",
			"migration_reservations"}
		for _, k := range []string{"stop_target_vmm", "restart_failures"} { // D37, D33: only when set
			if _, ok := u[k]; ok {
				keys = append(keys, k)
			}
		}
		checkKeys(t, "update", u, keys...)
		if string(u["network"]) != "null" {
			n := object(t, u["network"])
			switch string(n["action"]) {
			case `"update"`:
				checkKeys(t, "update.network", n, "action", "vmm", "sled")
			case `"delete"`:
				checkKeys(t, "update.network", n, "action")
			default:
				t.Errorf("update.network.action = %s", n["action"])
			}
		}
		if string(u["migration_reservations"]) != "null" {
			checkKeys(t, "update.migration_reservations", object(t, u["migration_reservations"]), "active", "target")
		}
	}
	reqs := object(t, out["requests"])
	checkKeys(t, "requests", reqs, "start", "stop", "reboot", "migrate", "delete")
	for name, raw := range reqs {
		d := object(t, raw)
		if string(d["action"]) == `"reject"` {
			checkKeys(t, "requests."+name, d, "action", "status", "message")
		} else {
			checkKeys(t, "requests."+name, d, "action", "status")
		}
	}
	checkKeys(t, "reincarnation", object(t, out["reincarnation"]), "needs", "status", "until", "should")
	var conds []map[string]json.RawMessage
	if err := json.Unmarshal(out["conditions"], &conds); err != nil || conds == nil {
		t.Errorf("conditions is not a list: %s", out["conditions"])
	}
	for i, c := range conds {
		switch string(c["type"]) {
		case `"NotProgressing"`, `"MigrationStalled"`: // D32, D34: which record
			checkKeys(t, fmt.Sprintf("conditions[%d]", i), c, "type", "reason", "message", "since", "until", "record")
			checkKeys(t, fmt.Sprintf("conditions[%d].record", i), object(t, c["record"]), "kind", "id")
		default:
			checkKeys(t, fmt.Sprintf("conditions[%d]", i), c, "type", "reason", "message", "since", "until")
		}
	}
	next := object(t, out["next_action"])
	switch string(next["action"]) {
	case `"wait"`:
		checkKeys(t, "next_action", next, "action", "until")
	case `"inspect"`: // D32: the sled only for a VMM
		if _, ok := next["sled"]; ok {
			checkKeys(t, "next_action", next, "action", "record", "sled")
		} else {
			checkKeys(t, "next_action", next, "action", "record")
		}
	case `"abort_migration"`: // D34
		checkKeys(t, "next_action", next, "action", "migration", "stop_vmm", "sled")
	default:
		checkKeys(t, "next_action", next, "action")
	}
}

func object(t *testing.T, raw json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	return m
}

// checkKeys checks that obj has exactly keys.
func checkKeys(t *testing.T, path string, obj map[string]json.RawMessage, keys ...string) {
	t.Helper()
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, want) {
		t.Errorf("%s has keys %v, want exactly %v", path, got, want)
	}
}

// TestRunUsage walks the dispatcher's own rows: no arguments and -h print
// usage and succeed; an unknown command is bad input, named on the first
// line of stderr, followed by usage.
func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		status, stdout, stderr := runInProcess(args, "")
		if status != exitOK || stderr != "" {
			t.Errorf("vmlife %v: exit %d, stderr %q", args, status, stderr)
		}
		for _, name := range commandNames() {
			if !strings.Contains(stdout, "vmlife "+name) {
				t.Errorf("vmlife %v: usage does not list %q:\n%s", args, name, stdout)
			}
		}
	}
	// No arguments at all is a usage error: exit 2, the reason and usage
	// on standard error, nothing on standard output.
	status, stdout, stderr := runInProcess(nil, "")
	if status != exitBadInput || stdout != "" || !strings.HasPrefix(stderr, "vmlife: no command (accepted: ") || !strings.Contains(stderr, "usage: vmlife") {
		t.Errorf("vmlife with no arguments: exit %d, stdout %q, stderr %q; want 2 and usage on stderr", status, stdout, stderr)
	}
	status, stdout, stderr = runInProcess([]string{"explian"}, "")
	first, rest, _ := strings.Cut(stderr, "\n")
	want := `vmlife: unknown command "explian" (accepted: ` + strings.Join(commandNames(), ", ") + ")"
	if status != exitBadInput || stdout != "" || first != want || !strings.Contains(rest, "usage: vmlife") {
		t.Errorf("unknown command: exit %d, stdout %q, stderr %q; want 2, nothing, %q and usage", status, stdout, stderr, want)
	}
	for _, name := range []string{"explain", "report", "classify", "diagram"} {
		if _, ok := commands[name]; !ok {
			t.Errorf("command %q is not registered", name)
		}
		status, stdout, stderr := runInProcess([]string{name, "-h"}, "")
		if status != exitOK || stderr != "" || !strings.HasPrefix(stdout, "usage: vmlife "+name) {
			t.Errorf("vmlife %s -h: exit %d, stdout %q, stderr %q", name, status, stdout, stderr)
		}
	}
}

// TestRunInput pins how the JSON commands find their input: the last
// argument names a file, "-" or no argument is standard input, and
// anything else is refused.
func TestRunInput(t *testing.T) {
	const doc = `{"communication": "timeout"}`
	want := "{\n  \"vmm_gone\": false,\n  \"failure_reason\": null,\n  \"http_status\": 504\n}\n"
	for _, args := range [][]string{{"classify"}, {"classify", "-"}} {
		status, stdout, stderr := runInProcess(args, doc)
		if status != exitOK || stdout != want || stderr != "" {
			t.Errorf("vmlife %v on stdin: exit %d, stdout %q, stderr %q", args, status, stdout, stderr)
		}
	}
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"classify", "a.json", "b.json"}, exitBadInput, `vmlife classify: arguments: a second FILE "b.json" (accepted: at most one FILE)` + "\n"},
		{[]string{"explain", "--verbose"}, exitBadInput, `vmlife explain: arguments: unknown flag "--verbose" (accepted: -h, --max-input BYTES, a FILE, - for standard input)` + "\n"},
		{[]string{"explain", "--max-input", "0"}, exitBadInput, `vmlife explain: --max-input: "0" is out of range (accepted: a number of bytes from 1 to 1073741824)` + "\n"},
		{[]string{"explain", "--max-input"}, exitBadInput, `vmlife explain: --max-input: missing its value (accepted: a number of bytes from 1 to 1073741824)` + "\n"},
		{[]string{"classify", "--max-input=10"}, exitBadInput, `vmlife classify: input: more than 10 bytes (accepted: a document of at most 10 bytes)` + "\n"},
	}
	for _, tt := range tests {
		status, stdout, stderr := runInProcess(tt.args, doc)
		if status != tt.status || stdout != "" || stderr != tt.stderr {
			t.Errorf("vmlife %v: exit %d, stdout %q, stderr %q; want %d, nothing, %q", tt.args, status, stdout, stderr, tt.status, tt.stderr)
		}
	}
	// A file that cannot be read is bad input: exit 2, the reason, then the
	// command's usage.
	status, stdout, stderr := runInProcess([]string{"report", filepath.Join("testdata", "no-such-file.json")}, doc)
	first, rest, _ := strings.Cut(stderr, "\n")
	if status != exitBadInput || stdout != "" || !strings.HasPrefix(first, "vmlife report: FILE: cannot be read: ") || !strings.HasPrefix(rest, "usage: vmlife report") {
		t.Errorf("missing file: exit %d, stdout %q, stderr %q; want 2, the reason and usage", status, stdout, stderr)
	}
}

// endless is a reader that never ends and counts what was read from it.
type endless struct {
	fill byte
	read int64
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.fill
	}
	e.read += int64(len(p))
	return len(p), nil
}

// TestInputIsBounded: D24 — an endless input is refused, with exit 2, after
// reading no more than the bound (plus one buffer), and a first byte that
// cannot start a JSON object is refused at once. Memory stays proportional
// to the bound: the reader is not drained.
func TestInputIsBounded(t *testing.T) {
	for _, tc := range []struct {
		fill    byte
		maxRead int64
		stderr  string
	}{
		{'{', 1<<20 + 64<<10, "vmlife explain: input: more than 1048576 bytes (accepted: a document of at most 1048576 bytes)\n"},
		{0, 64 << 10, "vmlife explain: input: want a JSON object, got byte 0x0 (accepted: a JSON object)\n"},
		{' ', 1<<20 + 64<<10, ""},
	} {
		r := &endless{fill: tc.fill}
		if tc.fill == ' ' {
			// White space forever: refused at the bound too, never read whole.
			r2 := io.MultiReader(strings.NewReader(strings.Repeat(" ", 10)), &endless{fill: '{'})
			var stdout, stderr strings.Builder
			if status := run([]string{"explain"}, r2, &stdout, &stderr); status != exitBadInput {
				t.Errorf("white space then an endless object: exit %d, stderr %q", status, stderr.String())
			}
			continue
		}
		var stdout, stderr strings.Builder
		status := run([]string{"explain"}, r, &stdout, &stderr)
		if status != exitBadInput || stdout.Len() != 0 || stderr.String() != tc.stderr {
			t.Errorf("endless %q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.fill, status, stdout.String(), stderr.String(), tc.stderr)
		}
		if r.read > tc.maxRead {
			t.Errorf("endless %q: read %d bytes, want at most %d", tc.fill, r.read, tc.maxRead)
		}
	}
	// The bound is raised by the flag, not lifted.
	r := &endless{fill: '{'}
	var stdout, stderr strings.Builder
	if status := run([]string{"explain", "--max-input", "2097152"}, r, &stdout, &stderr); status != exitBadInput || r.read > 2<<20+64<<10 || r.read < 2<<20 {
		t.Errorf("--max-input 2 MiB: exit %d after reading %d bytes", status, r.read)
	}
}

// TestMessagesEscapeInvalidUTF8: input echoed in an error message is never
// written raw: invalid UTF-8 and control characters appear as escapes.
func TestMessagesEscapeInvalidUTF8(t *testing.T) {
	status, _, stderr := runInProcess([]string{"classify"}, "{\"communication\": \xff\xfe\u007f}")
	if status != exitBadInput || !utf8.ValidString(stderr) || strings.ContainsAny(stderr, "\x7f") || !strings.Contains(stderr, `\xff`) {
		t.Errorf("exit %d, stderr %q: want 2 and the bad bytes escaped", status, stderr)
	}
}

// failingWriter fails every write, as a closed pipe does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestRunWriteError: a failure to write the answer is not bad input (exit
// 1), for the JSON commands and for diagram alike.
func TestRunWriteError(t *testing.T) {
	for _, args := range [][]string{{"classify"}, {"diagram", "vmm"}} {
		var stderr bytes.Buffer
		status := run(args, strings.NewReader(`{"status": 503}`), failingWriter{}, &stderr)
		want := "vmlife " + args[0] + ": broken pipe\n"
		if status != exitFailure || stderr.String() != want {
			t.Errorf("vmlife %v to a failing stdout: exit %d, stderr %q; want 1, %q", args, status, stderr.String(), want)
		}
	}
}

// TestFinish: whatever an error holds, stderr gets one line, and only an
// *inputError (wrapped or not) is bad input.
func TestFinish(t *testing.T) {
	tests := []struct {
		err    error
		status int
		line   string
	}{
		{nil, exitOK, ""},
		{errors.New("disk\non fire"), exitFailure, "vmlife x: disk on fire\n"},
		{badInput("instance.id", "bad\nvalue", "a UUID"), exitBadInput, "vmlife x: instance.id: bad value (accepted: a UUID)\n"},
		{fmt.Errorf("reading: %w", badInput("now", "missing", "a time")), exitBadInput, "vmlife x: reading: now: missing (accepted: a time)\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if status := finish(&b, "x", tt.err); status != tt.status || b.String() != tt.line {
			t.Errorf("finish(%v) = %d, %q; want %d, %q", tt.err, status, b.String(), tt.status, tt.line)
		}
	}
}

// TestBinaryLinksNoTestLibrary: the shipped tool links neither the testing
// package nor rapid (their init alone cost milliseconds of every start):
// the simulator checks its steps with package invariant, which needs
// neither.
func TestBinaryLinksNoTestLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasPrefix(dep, "pgregory.net/rapid") {
			t.Errorf("cmd/vmlife depends on %s", dep)
		}
	}
}

// TestLibraryLinksNoDriver: the library module requires no database driver
// and no other module of this repository, and none of its packages — nor
// their tests, nor anything they import — is a driver or pgstore. Importing
// vmlife never adds a driver to a build or to a module graph; pgstore and
// this command are modules of their own (README, "Modules").
func TestLibraryLinksNoDriver(t *testing.T) {
	goCmd := func(env []string, args ...string) []string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = "../.." // the library module's root
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %q: %v", args, err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	isDriver := func(p string) bool {
		return strings.HasPrefix(p, "github.com/jackc/") || strings.HasPrefix(p, "github.com/vmlife/vmlife/pgstore") ||
			strings.HasPrefix(p, "github.com/vmlife/vmlife/cmd/")
	}
	// The go.mod alone, without the workspace: what an importer's go
	// command reads.
	var mod struct{ Require []struct{ Path string } }
	if err := json.Unmarshal([]byte(strings.Join(goCmd([]string{"GOWORK=off"}, "mod", "edit", "-json"), "\n")), &mod); err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	for _, r := range mod.Require {
		if isDriver(r.Path) || strings.HasPrefix(r.Path, "github.com/vmlife/") {
			t.Errorf("the library's go.mod requires %s", r.Path)
		}
	}
	libs := strings.Fields(strings.Join(goCmd(nil, "list", "-f", `{{if ne .Name "main"}}{{.ImportPath}}{{end}}`, "./..."), " "))
	if len(libs) < 10 {
		t.Fatalf("found %d library packages (%q): the listing is broken", len(libs), libs)
	}
	for _, dep := range goCmd(nil, append([]string{"list", "-deps"}, libs...)...) {
		if isDriver(dep) {
			t.Errorf("a library package depends on %s", dep)
		}
	}
	for _, line := range goCmd(nil, "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if isDriver(imp) {
				t.Errorf("%s imports %s; only the command's module may", f[0], imp)
			}
		}
	}
}

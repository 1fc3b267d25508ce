package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkStart measures starting the tool, one process per iteration:
// `vmlife explain` on docs/cli.md's example document, beside two programs
// that do nothing — an empty one, and one that links
// github.com/google/uuid, vmlife's one runtime dependency (which imports
// package net, and so links libc wherever cgo is enabled) — each built as
// `go build` builds it here and with CGO_ENABLED=0, all in the same run;
// and vmlife as a tool that runs it once per document should build it,
// CGO_ENABLED=0 with -tags vmlife_nodb (no database driver).
// Compare each with EmptyProgram's ns/op (docs/performance.md, "Starting
// the tool").
func BenchmarkStart(b *testing.B) {
	dir := b.TempDir()
	// build builds pkg as name with the build tags tags, in the
	// environment plus env.
	build := func(name, pkg, tags string, env ...string) string {
		b.Helper()
		path := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-tags", tags, "-o", path, pkg)
		cmd.Env = append(os.Environ(), env...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
		}
		return path
	}
	const noCgo, noDB = "CGO_ENABLED=0", "vmlife_nodb"
	input, err := filepath.Abs(filepath.Join("testdata", "explain", "migrating_in_flight.json"))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []struct {
		name string
		path string
		args []string
	}{
		{"EmptyProgram", build("empty", "./testdata/start/empty", ""), nil},
		{"UUIDOnly", build("uuidonly", "./testdata/start/uuidonly", ""), nil},
		{"UUIDOnlyNoCgo", build("uuidonly-nocgo", "./testdata/start/uuidonly", "", noCgo), nil},
		{"Explain", build("vmlife", ".", ""), []string{"explain", input}},
		{"ExplainNoCgo", build("vmlife-nocgo", ".", "", noCgo), []string{"explain", input}},
		{"ExplainNoDB", build("vmlife-nodb", ".", noDB), []string{"explain", input}},
		{"ExplainNoCgoNoDB", build("vmlife-nocgo-nodb", ".", noDB, noCgo), []string{"explain", input}},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(p.path, p.args...)
				cmd.Stdout = io.Discard
				if err := cmd.Run(); err != nil {
					b.Fatalf("%s: %v", p.name, err)
				}
			}
		})
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// helpSections says which sections of docs/cli.md make up each command's
// reference, by the start of their "## " heading. explain and report read
// the snapshot document, so their reference begins with it.
var helpSections = map[string][]string{
	"classify": {"## `vmlife classify"},
	"diagram":  {"## `vmlife diagram"},
	"explain":  {"## The snapshot document", "## `vmlife explain"},
	"migrate":  {"## `vmlife migrate"},
	"report":   {"## The snapshot document", "## `vmlife report"},
	"script":   {"## `vmlife script"},
	"simulate": {"## `vmlife simulate"},
}

// cliSections splits docs/cli.md at its "## " headings.
func cliSections(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	var sections []string
	for _, part := range strings.SplitAfter(string(doc), "\n") {
		if strings.HasPrefix(part, "## ") || len(sections) == 0 {
			sections = append(sections, "")
		}
		sections[len(sections)-1] += part
	}
	return sections[1:]
}

// TestHelpIsTheReference: `vmlife help COMMAND` prints exactly the
// command's sections of docs/cli.md (go test -update copies them into
// help/), so an installed binary carries the reference the repository
// documents and the two cannot drift. Every command but help and version
// has a reference.
func TestHelpIsTheReference(t *testing.T) {
	sections := cliSections(t)
	for _, name := range commandNames() {
		if name == "help" || name == "version" {
			continue
		}
		heads, ok := helpSections[name]
		if !ok {
			t.Errorf("command %s has no section of docs/cli.md in helpSections", name)
			continue
		}
		var want strings.Builder
		for _, h := range heads {
			i := slices.IndexFunc(sections, func(s string) bool { return strings.HasPrefix(s, h) })
			if i < 0 {
				t.Fatalf("docs/cli.md has no section starting %q", h)
			}
			want.WriteString(sections[i])
		}
		file := filepath.Join("help", name+".md")
		if *update {
			if err := os.WriteFile(file, []byte(want.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue // the binary embeds what was there when it was built
		}
		var out, errOut bytes.Buffer
		if status := run([]string{"help", name}, nil, &out, &errOut); status != exitOK {
			t.Fatalf("vmlife help %s: exit %d, %s", name, status, errOut.String())
		}
		if out.String() != want.String() {
			t.Errorf("vmlife help %s differs from its sections of docs/cli.md: run go test -update (in cmd/vmlife)", name)
		}
	}
	if *update {
		t.Log("rewrote help/ from docs/cli.md; run again without -update to check the embedded copy")
	}
}

// TestHelpAndVersionArguments: help names an unknown command as bad input
// with the accepted ones; version takes no argument; --version is version.
func TestHelpAndVersionArguments(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		out    string // a substring of stdout
		err    string // a substring of stderr
	}{
		{[]string{"help"}, exitOK, "usage: vmlife", ""},
		{[]string{"help", "script"}, exitOK, "instance_update_saga", ""},
		{[]string{"help", "version"}, exitOK, "usage: vmlife version", ""},
		{[]string{"help", "nope"}, exitBadInput, "", `COMMAND: unknown command "nope"`},
		{[]string{"help", "script", "explain"}, exitBadInput, "", "at most one COMMAND"},
		{[]string{"version"}, exitOK, "vmlife (devel)", ""},
		{[]string{"--version"}, exitOK, "vmlife (devel)", ""},
		{[]string{"version", "x"}, exitBadInput, "", "arguments"},
		{[]string{"script", "-h"}, exitOK, "vmlife help script", ""},
	} {
		var out, errOut bytes.Buffer
		status := run(tc.args, strings.NewReader(""), &out, &errOut)
		if status != tc.status || !strings.Contains(out.String(), tc.out) || !strings.Contains(errOut.String(), tc.err) {
			t.Errorf("vmlife %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tc.args, status, out.String(), errOut.String(), tc.status, tc.out, tc.err)
		}
	}
}

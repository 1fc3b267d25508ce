package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// docsDir is where the generated diagrams are committed.
var docsDir = filepath.Join("..", "..", "docs")

// TestCommittedDiagrams fails when a diagram committed under docs/ no
// longer matches what `vmlife diagram` generates from the tables — that
// is, when an edge table changed and the docs were not regenerated (run
// go test ./cmd/vmlife -update).
func TestCommittedDiagrams(t *testing.T) {
	for _, g := range graphs {
		for _, f := range formats {
			status, got, stderr := runInProcess([]string{"diagram", g.name, "--format", f.name}, "")
			if status != exitOK || stderr != "" {
				t.Fatalf("vmlife diagram %s --format %s: exit %d, stderr %q", g.name, f.name, status, stderr)
			}
			path := filepath.Join(docsDir, g.name+"."+f.ext)
			if *update {
				if err := os.MkdirAll(docsDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/vmlife -update to generate it)", err)
			}
			if got != string(want) {
				t.Errorf("%s is stale: it differs from `vmlife diagram %s --format %s` (run go test ./cmd/vmlife -update):\n%s", path, g.name, f.name, got)
			}
		}
	}
}

// drawnEdge is an edge read back from a rendered diagram.
type drawnEdge struct {
	from, to, label string
	dashed          bool
}

var (
	mermaidEdge = regexp.MustCompile(`^    (\w+) (-->|-\.->)(?:\|"([^"]*)"\|)? (\w+)$`)
	dotEdge     = regexp.MustCompile(`^\t"(\w+)" -> "(\w+)"(?: \[(.*)\])?;$`)
	dotLabel    = regexp.MustCompile(`label="([^"]*)"`)
)

// parseEdges reads the edges back out of a rendering, so the tests below
// check the text users see, not only the graph it was printed from.
func parseEdges(t *testing.T, format, text string) []drawnEdge {
	t.Helper()
	var out []drawnEdge
	for _, line := range strings.Split(text, "\n") {
		switch format {
		case "mermaid":
			if m := mermaidEdge.FindStringSubmatch(line); m != nil && m[1] != "start" {
				out = append(out, drawnEdge{from: m[1], to: m[4], label: m[3], dashed: m[2] == "-.->"})
			}
		case "dot":
			if m := dotEdge.FindStringSubmatch(line); m != nil && m[1] != "start" {
				e := drawnEdge{from: m[1], to: m[2], dashed: strings.Contains(m[3], "style=dashed")}
				if l := dotLabel.FindStringSubmatch(m[3]); l != nil {
					e.label = l[1]
				}
				out = append(out, e)
			}
		}
	}
	return out
}

// TestDiagramsDrawTheTables reads every rendering back and compares its
// edges, one for one and in order, with the library's tables: the VMM edge
// table (D7, dashed exactly into the kinds no sled-agent reports), the
// migration state table, and instancestate.NexusMoves labelled with By.
func TestDiagramsDrawTheTables(t *testing.T) {
	var vmm, mig, inst []drawnEdge
	for _, k := range vmmstate.AllKinds() {
		for _, to := range vmmstate.AllKinds() {
			if !vmmstate.CanTransition(k, to) {
				continue
			}
			e := drawnEdge{from: k.String(), to: to.String(), dashed: !to.IsReportable()}
			if e.dashed {
				e.label = "control plane"
			}
			vmm = append(vmm, e)
		}
	}
	for _, s := range migration.AllStates() {
		for _, to := range migration.AllStates() {
			if migration.CanTransition(s, to) {
				mig = append(mig, drawnEdge{from: s.String(), to: to.String()})
			}
		}
	}
	for _, m := range instancestate.NexusMoves() {
		inst = append(inst, drawnEdge{from: m.From.String(), to: m.To.String(), label: m.By + " (" + m.Rule + ")"})
	}
	want := map[string][]drawnEdge{"vmm": vmm, "migration": mig, "instance": inst}

	for _, g := range graphs {
		for _, f := range formats {
			text, err := render(g.name, f.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := parseEdges(t, f.name, text); !slices.Equal(got, want[g.name]) {
				t.Errorf("diagram %s --format %s draws\n%v\nwant\n%v", g.name, f.name, got, want[g.name])
			}
			// Every state is drawn, and only the ones nothing leaves are
			// drawn as terminal.
			for _, n := range g.build().nodes {
				if !strings.Contains(text, n.name) {
					t.Errorf("diagram %s --format %s does not draw %s", g.name, f.name, n.name)
				}
			}
		}
	}
	for _, n := range vmmGraph().nodes {
		k, _ := vmmstate.ParseKind(n.name)
		if n.terminal != (len(vmmstate.Successors(k)) == 0) {
			t.Errorf("vmm %s drawn terminal=%v, but its successors are %v", n.name, n.terminal, vmmstate.Successors(k))
		}
	}
	if g := vmmGraph(); g.initial != "creating" {
		t.Errorf("vmm diagram starts at %q, want creating (vmmstate.New)", g.initial)
	}
	if g := migrationGraph(); g.initial != "pending" {
		t.Errorf("migration diagram starts at %q, want pending (migration.New)", g.initial)
	}
	if g := instanceGraph(); g.initial != "creating" {
		t.Errorf("instance diagram starts at %q, want creating (instancestate.New)", g.initial)
	}
}

// TestDiagramArguments walks the argument forms diagram accepts and the
// ones it refuses.
func TestDiagramArguments(t *testing.T) {
	dot, _ := render("migration", "dot")
	mermaid, _ := render("migration", "mermaid")
	for _, args := range [][]string{
		{"migration", "--format", "dot"},
		{"--format", "dot", "migration"},
		{"migration", "--format=dot"},
		{"migration", "-format", "dot"},
		{"-format=dot", "migration"},
	} {
		status, stdout, stderr := runInProcess(append([]string{"diagram"}, args...), "")
		if status != exitOK || stdout != dot || stderr != "" {
			t.Errorf("vmlife diagram %v: exit %d, stderr %q, stdout is the DOT rendering: %v", args, status, stderr, stdout == dot)
		}
	}
	if status, stdout, _ := runInProcess([]string{"diagram", "migration"}, ""); status != exitOK || stdout != mermaid {
		t.Errorf("vmlife diagram migration: exit %d; the default format must be mermaid", status)
	}
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"pod"}, `vmlife diagram: diagram: unknown value "pod" (accepted: vmm, instance, migration)`},
		{nil, `vmlife diagram: diagram: missing (accepted: vmm, instance, migration)`},
		{[]string{"vmm", "--format", "svg"}, `vmlife diagram: --format: unknown value "svg" (accepted: mermaid, dot)`},
		{[]string{"vmm", "--format"}, `vmlife diagram: --format: missing its value (accepted: mermaid, dot)`},
		{[]string{"vmm", "instance"}, `vmlife diagram: arguments: a second diagram "instance" (accepted: one of vmm, instance, migration)`},
		{[]string{"vmm", "--colour"}, `vmlife diagram: arguments: unknown flag "--colour" (accepted: --format mermaid|dot, -h)`},
	} {
		status, stdout, stderr := runInProcess(append([]string{"diagram"}, tt.args...), "")
		if status != exitBadInput || stdout != "" || stderr != tt.stderr+"\n" {
			t.Errorf("vmlife diagram %v: exit %d, stdout %q, stderr %q; want 2, nothing, %q", tt.args, status, stdout, stderr, tt.stderr)
		}
	}
}

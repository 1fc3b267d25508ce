package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

func init() {
	commands["diagram"] = command{
		run:   runDiagram,
		usage: "diagram vmm|instance|migration [--format mermaid|dot]\ta state diagram, generated from the tables the code uses",
	}
}

// graph is a state machine to draw: its states, where a new record starts,
// and its edges. Every graph is built from a table the library itself
// decides with (D7: "the code, docs and diagrams all read from that one
// place"), never from a list kept here.
type graph struct {
	name    string   // "vmm", "instance", "migration"
	source  []string // what it is generated from, for the header comment
	initial string   // the state a new record starts in
	nodes   []node
	edges   []edge
}

type node struct {
	name     string
	terminal bool // nothing leaves it
}

type edge struct {
	from, to string
	label    string
	dashed   bool // taken only by the control plane (D7)
}

// graphs are the diagrams by name, in the order usage lists them.
var graphs = []struct {
	name  string
	build func() graph
}{
	{"vmm", vmmGraph},
	{"instance", instanceGraph},
	{"migration", migrationGraph},
}

// formats are the output formats by name; mermaid is the default.
var formats = []struct {
	name, ext string
	render    func(graph) string
}{
	{"mermaid", "mmd", graph.mermaid},
	{"dot", "dot", graph.dot},
}

// vmmGraph is the VMM state machine (D7) from vmmstate's edge table. An
// edge into a kind no sled-agent can report (saga_unwound) is one only the
// control plane takes (Transition, never Observe): it is drawn dashed.
func vmmGraph() graph {
	g := graph{
		name: "vmm",
		source: []string{
			"The VMM state machine (D7): vmmstate.AllKinds and vmmstate.Successors.",
			"Dashed edges lead to a kind no sled-agent reports (vmmstate.Kind.IsReportable):",
			"only the control plane takes them.",
		},
		initial: vmmstate.NewRuntime(time.Time{}).State.Kind().String(),
	}
	for _, k := range vmmstate.AllKinds() {
		g.nodes = append(g.nodes, node{name: k.String(), terminal: k.IsTerminal()})
		for _, to := range vmmstate.Successors(k) {
			e := edge{from: k.String(), to: to.String()}
			if !to.IsReportable() {
				e.dashed, e.label = true, "control plane"
			}
			g.edges = append(g.edges, e)
		}
	}
	return g
}

// migrationGraph is the state machine of one side of a migration, from the
// migration package's state table.
func migrationGraph() graph {
	g := graph{
		name: "migration",
		source: []string{
			"The state machine of one side of a live migration (§3.3): migration.AllStates",
			"and migration.Successors. Each side moves on its own sled-agent's reports.",
		},
		initial: migration.New(migration.ID{}, vmmstate.InstanceID{}, vmmstate.ID{}, vmmstate.ID{}, time.Time{}).Source.State.String(),
	}
	for _, s := range migration.AllStates() {
		g.nodes = append(g.nodes, node{name: s.String(), terminal: s.IsTerminal()})
		for _, to := range migration.Successors(s) {
			g.edges = append(g.edges, edge{from: s.String(), to: to.String()})
		}
	}
	return g
}

// instanceGraph is the instance record's own state machine (its state
// column) from instancestate.NexusMoves, each edge labelled with the
// operation that takes it and the rule that says so.
func instanceGraph() graph {
	g := graph{
		name: "instance",
		source: []string{
			"The instance record's state column: instancestate.AllNexusStates and",
			"instancestate.NexusMoves, labelled with the operation and the rule.",
		},
		initial: instancestate.New(instancestate.ID{}, false, instancestate.AutoRestart{}, time.Time{}).Runtime.State.String(),
	}
	moves := instancestate.NexusMoves()
	for _, s := range instancestate.AllNexusStates() {
		leaves := false
		for _, m := range moves {
			leaves = leaves || m.From == s
		}
		g.nodes = append(g.nodes, node{name: s.String(), terminal: !leaves})
	}
	for _, m := range moves {
		g.edges = append(g.edges, edge{from: m.From.String(), to: m.To.String(), label: m.By + " (" + m.Rule + ")"})
	}
	return g
}

// mermaid renders g as a Mermaid flowchart (a flowchart rather than a
// stateDiagram, because only a flowchart draws dashed edges).
func (g graph) mermaid() string {
	var b strings.Builder
	for _, line := range g.header("mermaid") {
		b.WriteString("%% " + line + "\n")
	}
	b.WriteString("flowchart LR\n")
	b.WriteString(`    start((" ")) --> ` + g.initial + "\n")
	for _, n := range g.nodes {
		if n.terminal {
			fmt.Fprintf(&b, "    %s(((%q)))\n", n.name, n.name)
		} else {
			fmt.Fprintf(&b, "    %s(%q)\n", n.name, n.name)
		}
	}
	for _, e := range g.edges {
		arrow := "-->"
		if e.dashed {
			arrow = "-.->"
		}
		if e.label == "" {
			fmt.Fprintf(&b, "    %s %s %s\n", e.from, arrow, e.to)
		} else {
			fmt.Fprintf(&b, "    %s %s|\"%s\"| %s\n", e.from, arrow, strings.ReplaceAll(e.label, `"`, "#quot;"), e.to)
		}
	}
	return b.String()
}

// dot renders g in Graphviz's DOT language.
func (g graph) dot() string {
	var b strings.Builder
	for _, line := range g.header("dot") {
		b.WriteString("// " + line + "\n")
	}
	fmt.Fprintf(&b, "digraph %s {\n", g.name)
	b.WriteString("\trankdir=LR;\n\tnode [shape=box, style=rounded];\n")
	b.WriteString("\tstart [shape=point, label=\"\"];\n")
	fmt.Fprintf(&b, "\tstart -> %s;\n", dotID(g.initial))
	for _, n := range g.nodes {
		if n.terminal {
			fmt.Fprintf(&b, "\t%s [peripheries=2];\n", dotID(n.name))
		} else {
			fmt.Fprintf(&b, "\t%s;\n", dotID(n.name))
		}
	}
	for _, e := range g.edges {
		var attrs []string
		if e.dashed {
			attrs = append(attrs, "style=dashed")
		}
		if e.label != "" {
			attrs = append(attrs, "label="+dotID(e.label))
		}
		fmt.Fprintf(&b, "\t%s -> %s", dotID(e.from), dotID(e.to))
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// header is the comment that opens a rendering in format.
func (g graph) header(format string) []string {
	return append([]string{fmt.Sprintf("Generated by `vmlife diagram %s --format %s`; do not edit.", g.name, format)}, g.source...)
}

// dotID quotes s as a DOT string.
func dotID(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// render returns diagram name in format, or an *inputError naming the
// argument and the accepted values.
func render(name, format string) (string, error) {
	var build func() graph
	var accepted []string
	for _, g := range graphs {
		accepted = append(accepted, g.name)
		if g.name == name {
			build = g.build
		}
	}
	if build == nil {
		return "", badInput("diagram", fmt.Sprintf("unknown value %q", name), strings.Join(accepted, ", "))
	}
	accepted = accepted[:0]
	for _, f := range formats {
		accepted = append(accepted, f.name)
		if f.name == format {
			return f.render(build()), nil
		}
	}
	return "", badInput("--format", fmt.Sprintf("unknown value %q", format), strings.Join(accepted, ", "))
}

// runDiagram is `vmlife diagram NAME [--format F]`; the flag may come
// before or after the name, as --format F, --format=F or -format F.
func runDiagram(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	name, format := "", formats[0].name
	var names []string
	for _, g := range graphs {
		names = append(names, g.name)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			commandUsage(stdout, "diagram")
			return exitOK
		case a == "--format" || a == "-format":
			if i+1 == len(args) {
				return finish(stderr, "diagram", badInput("--format", "missing its value", "mermaid, dot"))
			}
			i++
			format = args[i]
		case strings.HasPrefix(a, "--format=") || strings.HasPrefix(a, "-format="):
			_, format, _ = strings.Cut(a, "=")
		case strings.HasPrefix(a, "-"):
			return finish(stderr, "diagram", badInput("arguments", fmt.Sprintf("unknown flag %q", a), "--format mermaid|dot, -h"))
		case name != "":
			return finish(stderr, "diagram", badInput("arguments", fmt.Sprintf("a second diagram %q", a), "one of "+strings.Join(names, ", ")))
		default:
			name = a
		}
	}
	if name == "" {
		return finish(stderr, "diagram", badInput("diagram", "missing", strings.Join(names, ", ")))
	}
	out, err := render(name, format)
	if err != nil {
		return finish(stderr, "diagram", err)
	}
	if _, err := io.WriteString(stdout, out); err != nil {
		return finish(stderr, "diagram", err)
	}
	return exitOK
}

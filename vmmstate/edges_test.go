package vmmstate_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/vmmstate"
)

// The edge table of D7, written out by hand: row = from, column = to,
// "x" = an edge, "." = none. The diagonal is never an edge (staying put is
// "unchanged" or a newer observation, not a transition).
const edgeGrid = `
              cr st ru sp sd rb mi fa de su
creating      .  x  x  x  x  x  x  x  x  x
starting      .  .  x  x  x  x  x  x  x  x
running       .  x  .  x  x  x  x  x  x  x
stopping      .  .  .  .  x  .  .  x  x  x
stopped       .  .  .  .  .  .  .  x  x  x
rebooting     .  x  x  x  x  .  x  x  x  x
migrating     .  x  x  x  x  x  .  x  x  x
failed        .  .  .  .  .  .  .  .  .  .
destroyed     .  .  .  .  .  .  .  .  .  .
saga_unwound  .  .  .  .  .  .  .  x  x  .
`

// parseKindGrid reads a grid whose rows and columns are the ten kinds in
// declaration order, returning cell[from][to].
func parseKindGrid(t *testing.T, grid string) map[vmmstate.Kind]map[vmmstate.Kind]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(grid), "\n")
	kinds := vmmstate.AllKinds()
	if len(lines) != len(kinds)+1 {
		t.Fatalf("grid has %d rows, want a header and %d", len(lines), len(kinds))
	}
	out := map[vmmstate.Kind]map[vmmstate.Kind]string{}
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != len(kinds)+1 || f[0] != kinds[i].String() {
			t.Fatalf("grid row %d = %q, want %v and %d cells", i, line, kinds[i], len(kinds))
		}
		out[kinds[i]] = map[vmmstate.Kind]string{}
		for j, c := range f[1:] {
			out[kinds[i]][kinds[j]] = c
		}
	}
	return out
}

func TestEdgeTable(t *testing.T) {
	grid := parseKindGrid(t, edgeGrid)
	for _, from := range vmmstate.AllKinds() {
		var want []vmmstate.Kind
		for _, to := range vmmstate.AllKinds() {
			edge := grid[from][to] == "x"
			if got := vmmstate.CanTransition(from, to); got != edge {
				t.Errorf("CanTransition(%v, %v) = %v, want %v", from, to, got, edge)
			}
			if edge {
				want = append(want, to)
			}
		}
		if got := vmmstate.Successors(from); !slices.Equal(got, want) {
			t.Errorf("Successors(%v) = %v, want %v", from, got, want)
		}
		var wantRep []vmmstate.Kind
		for _, to := range want {
			if to != vmmstate.KindCreating && to != vmmstate.KindSagaUnwound {
				wantRep = append(wantRep, to)
			}
		}
		if got := vmmstate.ReportableSuccessors(from); !slices.Equal(got, wantRep) {
			t.Errorf("ReportableSuccessors(%v) = %v, want %v", from, got, wantRep)
		}
	}
	// An invalid kind has no edges in either direction.
	for _, b := range invalidBytes {
		bad := vmmstate.Kind(b)
		if bad.IsValid() {
			continue
		}
		for _, k := range append(vmmstate.AllKinds(), bad) {
			if vmmstate.CanTransition(bad, k) || vmmstate.CanTransition(k, bad) {
				t.Errorf("CanTransition between %v and %v is true", bad, k)
			}
		}
		if s := vmmstate.Successors(bad); len(s) != 0 {
			t.Errorf("Successors(%v) = %v", bad, s)
		}
		if s := vmmstate.ReportableSuccessors(bad); len(s) != 0 {
			t.Errorf("ReportableSuccessors(%v) = %v", bad, s)
		}
	}
}

// phase is D7's lifecycle order, stated independently of the edge table:
// creating < active {starting, running, rebooting, migrating} < stopping <
// stopped < terminal {failed, destroyed}. saga_unwound is outside the order.
func phase(k vmmstate.Kind) int {
	switch k {
	case vmmstate.KindCreating:
		return 0
	case vmmstate.KindStarting, vmmstate.KindRunning, vmmstate.KindRebooting, vmmstate.KindMigrating:
		return 1
	case vmmstate.KindStopping:
		return 2
	case vmmstate.KindStopped:
		return 3
	case vmmstate.KindFailed, vmmstate.KindDestroyed:
		return 4
	}
	return -1
}

// phaseRule is D7 as prose turned into a predicate: an edge between two
// different kinds exists exactly when
//   - it does not leave a terminal state (D6),
//   - it does not enter creating,
//   - into saga_unwound: from any non-terminal kind (the control plane's
//     mark, §8.2),
//   - out of saga_unwound: only to failed or destroyed,
//   - otherwise: it never moves to an earlier phase, and within the one
//     phase that has several kinds (active) it moves freely.
func phaseRule(from, to vmmstate.Kind) bool {
	switch {
	case from == to:
		return false
	case phase(from) == 4:
		return false
	case to == vmmstate.KindCreating:
		return false
	case to == vmmstate.KindSagaUnwound:
		return true
	case from == vmmstate.KindSagaUnwound:
		return to == vmmstate.KindFailed || to == vmmstate.KindDestroyed
	}
	return phase(to) >= phase(from)
}

func TestEdgeTableFollowsPhaseRule(t *testing.T) {
	for _, from := range vmmstate.AllKinds() {
		for _, to := range vmmstate.AllKinds() {
			if got, want := vmmstate.CanTransition(from, to), phaseRule(from, to); got != want {
				t.Errorf("CanTransition(%v, %v) = %v, but D7's phase rule says %v", from, to, got, want)
			}
		}
	}
	// Consequences of D7, checked directly on the table:
	for _, from := range vmmstate.AllKinds() {
		for _, to := range vmmstate.Successors(from) {
			if to == vmmstate.KindCreating {
				t.Errorf("edge %v → creating: nothing re-enters creating", from)
			}
			if from.IsTerminal() {
				t.Errorf("edge %v → %v leaves a terminal kind", from, to)
			}
			if from == vmmstate.KindSagaUnwound && !to.IsTerminal() {
				t.Errorf("edge saga_unwound → %v: only failed or destroyed may follow", to)
			}
		}
		// saga_unwound is entered from every non-terminal kind, and is never
		// a report's edge.
		if !from.IsTerminal() && from != vmmstate.KindSagaUnwound && !vmmstate.CanTransition(from, vmmstate.KindSagaUnwound) {
			t.Errorf("no edge %v → saga_unwound", from)
		}
		if slices.Contains(vmmstate.ReportableSuccessors(from), vmmstate.KindSagaUnwound) {
			t.Errorf("ReportableSuccessors(%v) contains saga_unwound", from)
		}
		// Every non-terminal kind can still end: failed and destroyed are
		// always one edge away (a VMM can die at any time).
		if !from.IsTerminal() && (!vmmstate.CanTransition(from, vmmstate.KindFailed) || !vmmstate.CanTransition(from, vmmstate.KindDestroyed)) {
			t.Errorf("%v cannot reach both failed and destroyed", from)
		}
	}
	// The reportable edges are transitive: if a report may take a → b and a
	// later one b → c, then a → c may be taken too. This is what lets late
	// and dropped reports land on the newest state (D5).
	for _, a := range vmmstate.AllKinds() {
		for _, b := range vmmstate.ReportableSuccessors(a) {
			for _, c := range vmmstate.ReportableSuccessors(b) {
				if a != c && !vmmstate.CanTransition(a, c) {
					t.Errorf("%v → %v → %v are edges but %v → %v is not", a, b, c, a, c)
				}
			}
		}
	}
}

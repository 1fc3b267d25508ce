package vmmtest_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/vmlife/vmlife/invariant"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/vmmstate/vmmtest"
)

// Every generator generates only valid values.
func TestGeneratorsValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if s := vmmtest.State().Draw(t, "state"); !s.IsValid() {
			t.Fatalf("State() = %v", s)
		}
		if k := vmmtest.Kind().Draw(t, "kind"); !k.IsValid() {
			t.Fatalf("Kind() = %v", k)
		}
		if s := vmmtest.SledAgentState().Draw(t, "sled_state"); !s.IsValid() {
			t.Fatalf("SledAgentState() = %v", s)
		}
		if r := vmmtest.Reason().Draw(t, "reason"); !r.IsValid() {
			t.Fatalf("Reason() = %v", r)
		}
		g := vmmtest.Generation().Draw(t, "gen")
		if back, err := generation.FromInt64(g.Int64()); err != nil || back != g {
			t.Fatalf("Generation() = %v is not a valid generation: %v", g, err)
		}
		id := vmmtest.ID().Draw(t, "id")
		sled := vmmtest.SledID().Draw(t, "sled")
		inst := vmmtest.InstanceID().Draw(t, "instance")
		for _, u := range [...]interface {
			IsZero() bool
			String() string
		}{id, sled, inst} {
			if u.IsZero() {
				t.Fatalf("an id generator returned the nil UUID")
			}
		}
		if p, err := vmmstate.ParseID(id.String()); err != nil || p != id {
			t.Fatalf("ID() = %v does not round-trip: %v, %v", id, p, err)
		}
		if id.UUID().Version() != 4 {
			t.Fatalf("ID() = %v is not a version 4 UUID", id)
		}
		at := vmmtest.Time().Draw(t, "time")
		if at.Location() != time.UTC || at.Year() < 2000 || at.Year() >= 2100 {
			t.Fatalf("Time() = %v", at)
		}
		// The promise of Time's doc: == survives a JSON round trip.
		b, err := json.Marshal(at)
		var back time.Time
		if err != nil || json.Unmarshal(b, &back) != nil || back != at {
			t.Fatalf("Time() = %v does not round-trip through JSON as ==: %v", at, back)
		}
		r := vmmtest.Runtime().Draw(t, "runtime")
		if err := invariant.CheckRuntime(r); err != nil {
			t.Fatal(err)
		}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		v := vmmtest.VMM().Draw(t, "vmm")
		if err := invariant.CheckVMM(v); err != nil {
			t.Fatal(err)
		}
	})
}

// The generators reach every value, and the edges of the generation range,
// across a fixed set of seeds (deterministic: Example with a seed replays).
func TestGeneratorsCover(t *testing.T) {
	const seeds = 400
	seen := map[any]bool{}
	small, nearMax := 0, 0
	for seed := range seeds {
		seen[vmmtest.State().Example(seed)] = true
		seen[vmmtest.Kind().Example(seed)] = true
		seen[vmmtest.SledAgentState().Example(seed)] = true
		seen[vmmtest.Reason().Example(seed)] = true
		g := vmmtest.Generation().Example(seed)
		seen[g] = true
		if g.Int64() <= 16 {
			small++
		}
		if g.Int64() >= generation.Max-16 {
			nearMax++
		}
	}
	// The bias Generation promises: each edge far more often than the
	// ~0% a uniform draw over 2^63 values would give.
	if small < seeds/6 || nearMax < seeds/6 {
		t.Errorf("Generation() over %d seeds: %d within 16 of 0, %d within 16 of Max; want each ≥ %d", seeds, small, nearMax, seeds/6)
	}
	for _, s := range vmmstate.AllStates() {
		if !seen[s] {
			t.Errorf("State() never generated %v", s)
		}
	}
	for _, k := range vmmstate.AllKinds() {
		if !seen[k] {
			t.Errorf("Kind() never generated %v", k)
		}
	}
	for _, s := range vmmstate.AllSledAgentStates() {
		if !seen[s] {
			t.Errorf("SledAgentState() never generated %v", s)
		}
	}
	for _, r := range failure.AllReasons() {
		if !seen[r] {
			t.Errorf("Reason() never generated %v", r)
		}
	}
	max, _ := generation.FromInt64(generation.Max)
	for _, g := range []generation.Generation{generation.Of(0), generation.Initial(), max} {
		if !seen[g] {
			t.Errorf("Generation() never generated %v", g)
		}
	}
}

// LegalPath follows only edges a report may take, as the doc says, and
// every report is Applied when delivered in order.
func TestLegalPath(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		path := vmmtest.LegalPath().Draw(t, "path")
		if len(path) == 0 || path[0].State != vmmstate.Creating || path[0].Generation != generation.Initial() {
			t.Fatalf("path does not start with a new record: %v", path)
		}
		stored := path[0]
		for i := 1; i < len(path); i++ {
			prev, r := path[i-1], path[i]
			if err := invariant.CheckRuntime(r); err != nil {
				t.Fatalf("report %d: %v", i, err)
			}
			from, to := prev.State.Kind(), r.State.Kind()
			if prev.State.IsTerminal() {
				t.Fatalf("report %d follows the terminal %v", i, prev.State)
			}
			if from != to && !slices.Contains(vmmstate.ReportableSuccessors(from), to) {
				t.Fatalf("report %d: %v → %v is not a reportable edge", i, prev.State, r.State)
			}
			if !to.IsReportable() {
				t.Fatalf("report %d carries %v, which no sled-agent sends", i, r.State)
			}
			if reason, ok := r.State.FailureReason(); ok && reason != failure.FromSledAgent {
				t.Fatalf("report %d: %v; a sled-agent report fails with from_sled_agent", i, r.State)
			}
			if !r.Generation.After(prev.Generation) {
				t.Fatalf("report %d: generation %v after %v", i, r.Generation, prev.Generation)
			}
			if r.TimeUpdated.Before(prev.TimeUpdated) {
				t.Fatalf("report %d: time goes back from %v to %v", i, prev.TimeUpdated, r.TimeUpdated)
			}
			if r.SledAgent().Runtime() != r {
				t.Fatalf("report %d: %v is not what the sled-agent wire carries", i, r)
			}
			next, o, err := stored.Observe(r)
			if err := invariant.CheckVMMStep(stored, next, o, err); err != nil {
				t.Fatalf("report %d: %v", i, err)
			}
			if err != nil || o != vmmstate.Applied || next != r {
				t.Fatalf("report %d: Observe(%v) = %v, %v, %v; want applied", i, r, next, o, err)
			}
			stored = next
		}
	})
}

// Over fixed seeds, LegalPath visits every reportable kind, and walks the
// whole lifecycle sometimes.
func TestLegalPathCovers(t *testing.T) {
	seen := map[vmmstate.Kind]bool{}
	longest := 0
	for seed := range 300 {
		path := vmmtest.LegalPath().Example(seed)
		longest = max(longest, len(path))
		for _, r := range path {
			seen[r.State.Kind()] = true
		}
	}
	for _, k := range vmmstate.AllKinds() {
		if seen[k] != (k != vmmstate.KindSagaUnwound) {
			t.Errorf("LegalPath visits %v: %v", k, seen[k])
		}
	}
	if longest < 8 {
		t.Errorf("the longest path has %d elements", longest)
	}
}

func TestReportableNext(t *testing.T) {
	want := map[vmmstate.Kind][]vmmstate.Kind{
		vmmstate.KindCreating:    vmmstate.ReportableSuccessors(vmmstate.KindCreating),
		vmmstate.KindFailed:      nil,
		vmmstate.KindDestroyed:   nil,
		vmmstate.KindSagaUnwound: {vmmstate.KindFailed, vmmstate.KindDestroyed},
		vmmstate.KindStopped:     {vmmstate.KindStopped, vmmstate.KindFailed, vmmstate.KindDestroyed},
		vmmstate.KindStopping:    {vmmstate.KindStopping, vmmstate.KindStopped, vmmstate.KindFailed, vmmstate.KindDestroyed},
	}
	for k, w := range want {
		if got := vmmtest.ReportableNext(k); !slices.Equal(got, w) {
			t.Errorf("ReportableNext(%v) = %v, want %v", k, got, w)
		}
	}
	if got := vmmtest.ReportableNext(vmmstate.KindCreating); slices.Contains(got, vmmstate.KindCreating) {
		t.Errorf("ReportableNext(creating) = %v contains creating", got)
	}
	for _, k := range []vmmstate.Kind{vmmstate.KindStarting, vmmstate.KindRunning, vmmstate.KindRebooting, vmmstate.KindMigrating} {
		got := vmmtest.ReportableNext(k)
		if got[0] != k || len(got) != 8 {
			t.Errorf("ReportableNext(%v) = %v; want itself, the other three active kinds, stopping, stopped, failed, destroyed", k, got)
		}
	}
}

// Deliveries delivers only the path's reports, each zero to three times,
// and leaves the path alone.
func TestDeliveries(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		path := vmmtest.LegalPath().Draw(t, "path")
		orig := slices.Clone(path)
		got := vmmtest.Deliveries(path).Draw(t, "deliveries")
		if !slices.Equal(path, orig) {
			t.Fatalf("Deliveries modified the path")
		}
		count := map[vmmstate.Runtime]int{}
		for _, r := range got {
			count[r]++
		}
		for r, n := range count {
			if !slices.Contains(path[1:], r) {
				t.Fatalf("delivered %v, which is not a report of the path", r)
			}
			if n > 3 {
				t.Fatalf("delivered %v %d times", r, n)
			}
		}
	})
}

// Over fixed seeds, Deliveries drops, duplicates and reorders.
func TestDeliveriesCovers(t *testing.T) {
	var dropped, duplicated, reordered bool
	for seed := range 200 {
		path := vmmtest.LegalPath().Example(seed)
		got := vmmtest.Deliveries(path).Example(seed)
		count := map[vmmstate.Runtime]int{}
		for i, r := range got {
			count[r]++
			if i > 0 && r.Generation.Before(got[i-1].Generation) {
				reordered = true
			}
		}
		for _, r := range path[1:] {
			dropped = dropped || count[r] == 0
			duplicated = duplicated || count[r] > 1
		}
	}
	if !dropped || !duplicated || !reordered {
		t.Errorf("over 200 seeds: dropped %v, duplicated %v, reordered %v; want all", dropped, duplicated, reordered)
	}
}

package vmmstate_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/vmlife/vmlife/invariant"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/vmmstate/vmmtest"
)

// anyState is any byte as a State: mostly valid ones, but the zero value
// and garbage too, which every operation must take without panicking.
func anyState() *rapid.Generator[vmmstate.State] {
	return rapid.OneOf(vmmtest.State(), rapid.Map(rapid.Uint8(), func(b uint8) vmmstate.State { return vmmstate.State(b) }))
}

// nearGeneration is a generation near g (from g−3 to g+5, clamped to the
// valid range), so that reports are both stale and newer, and sometimes
// exactly Max.
func nearGeneration(t *rapid.T, g generation.Generation, label string) generation.Generation {
	d := rapid.Int64Range(-3, 5).Draw(t, label)
	n := g.Int64() + d
	switch {
	case d > 0 && g.Int64() > generation.Max-d:
		n = generation.Max
	case n < 0:
		n = 0
	}
	out, err := generation.FromInt64(n)
	if err != nil {
		t.Fatalf("generation %d: %v", n, err)
	}
	return out
}

// op applies one Transition or Observe, drawn near r, and returns what the
// call returned along with what was asked.
func op(t *rapid.T, r vmmstate.Runtime, now time.Time) (next vmmstate.Runtime, o vmmstate.Outcome, observed bool, req vmmstate.Runtime, err error) {
	to := anyState().Draw(t, "to")
	if rapid.Bool().Draw(t, "observe") {
		req = vmmstate.Runtime{State: to, Generation: nearGeneration(t, r.Generation, "report_gen"), TimeUpdated: now}
		next, o, err = r.Observe(req)
		return next, o, true, req, err
	}
	req = vmmstate.Runtime{State: to}
	next, o, err = r.Transition(to, now)
	return next, o, false, req, err
}

// D5: the generation strictly increases on every Applied change — by
// exactly one for Transition, to the report's for Observe — and never
// otherwise; a call that does not apply returns the runtime it was given.
func TestPropGenerationDiscipline(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := vmmtest.Runtime().Draw(t, "stored")
		now := vmmtest.Time().Draw(t, "now")
		next, o, observed, req, err := op(t, r, now)
		if cerr := invariant.CheckVMMStep(r, next, o, err); cerr != nil {
			t.Fatal(cerr)
		}
		if o != vmmstate.Applied {
			if next != r {
				t.Fatalf("%v returned %v for %v, want it unchanged", o, next, r)
			}
			return
		}
		if observed {
			if next != req || !req.Generation.After(r.Generation) {
				t.Fatalf("Observe(%v) on %v applied as %v", req, r, next)
			}
			return
		}
		want, _ := r.Generation.Next()
		if next != (vmmstate.Runtime{State: req.State, Generation: want, TimeUpdated: now}) {
			t.Fatalf("Transition(%v) on %v = %v; want generation %v stamped %v", req.State, r, next, want, now)
		}
	})
}

// D6: no sequence of operations leaves failed or destroyed, and the first
// failure reason is kept — whatever the control plane or the sled-agents
// send afterwards.
func TestPropTerminalAbsorbs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := vmmtest.Runtime().Draw(t, "stored")
		var first vmmstate.State // the first terminal state reached
		if r.State.IsTerminal() {
			first = r.State
		}
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		now := vmmtest.Time().Draw(t, "now")
		for i := range steps {
			next, o, _, _, err := op(t, r, now.Add(time.Duration(i)*time.Second))
			if cerr := invariant.CheckVMMStep(r, next, o, err); cerr != nil {
				t.Fatalf("step %d: %v", i, cerr)
			}
			r = next
			if first == 0 && r.State.IsTerminal() {
				first = r.State
			}
			if first != 0 && r.State != first {
				t.Fatalf("step %d: %v left the terminal %v", i, r.State, first)
			}
		}
	})
}

// D5–D7: a sled-agent's legal reports delivered in any order, with
// duplicates and drops, are never refused and end at the report with the
// highest generation delivered (or the record as inserted, if none was).
func TestPropOutOfOrderDeliveries(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		path := vmmtest.LegalPath().Draw(t, "path")
		deliveries := vmmtest.Deliveries(path).Draw(t, "deliveries")
		stored, newest := path[0], path[0]
		for i, report := range deliveries {
			next, o, err := stored.Observe(report)
			if err != nil {
				t.Fatalf("delivery %d: legal report %v refused on %v: %v", i, report, stored, err)
			}
			if cerr := invariant.CheckVMMStep(stored, next, o, err); cerr != nil {
				t.Fatalf("delivery %d: %v", i, cerr)
			}
			if o == vmmstate.Unchanged {
				t.Fatalf("delivery %d: %v on %v is unchanged; a legal path never repeats a terminal state", i, report, stored)
			}
			stored = next
			if report.Generation.After(newest.Generation) {
				newest = report
			}
		}
		if stored != newest {
			t.Fatalf("ended at %v, want the newest delivered report %v", stored, newest)
		}
	})
}

// D8: domain → row → domain is the identity, read strictly or leniently;
// so are the text and JSON forms of a State and a Runtime.
func TestPropRowAndWireIdentity(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := vmmtest.Runtime().Draw(t, "runtime")
		row := r.Row()
		if got, err := row.Runtime(); err != nil || got != r {
			t.Fatalf("%v → %+v → %v, %v", r, row, got, err)
		}
		if got, err := row.LenientRuntime(); err != nil || got != r {
			t.Fatalf("%v → %+v → lenient %v, %v", r, row, got, err)
		}
		if got, err := vmmstate.ParseState(r.State.String()); err != nil || got != r.State {
			t.Fatalf("ParseState(%q) = %v, %v", r.State.String(), got, err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("json.Marshal(%v): %v", r, err)
		}
		var back vmmstate.Runtime
		if err := json.Unmarshal(b, &back); err != nil || back != r {
			t.Fatalf("%s → %v, %v; want %v", b, back, err, r)
		}
	})
}

// D8: sled-agent → domain → sled-agent is the identity.
func TestPropSledAgentIdentity(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sr := vmmstate.SledAgentRuntime{
			State:       vmmtest.SledAgentState().Draw(t, "state"),
			Generation:  vmmtest.Generation().Draw(t, "gen"),
			TimeUpdated: vmmtest.Time().Draw(t, "time"),
		}
		if back := sr.Runtime().SledAgent(); back != sr {
			t.Fatalf("%+v → %v → %+v", sr, sr.Runtime(), back)
		}
		b, err := json.Marshal(sr)
		if err != nil {
			t.Fatal(err)
		}
		var back vmmstate.SledAgentRuntime
		if err := json.Unmarshal(b, &back); err != nil || back != sr {
			t.Fatalf("%s → %+v, %v", b, back, err)
		}
	})
}

// D7, D8: neither saga_unwound nor creating ever reaches the sled-agent
// wire, from any runtime; every state still converts to a valid one.
func TestPropControlPlaneStatesStayHome(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := vmmtest.Runtime().Draw(t, "runtime")
		sr := r.SledAgent()
		if !sr.State.IsValid() {
			t.Fatalf("%v.SledAgent() = %+v is not a sled-agent state", r, sr)
		}
		if k := sr.State.State().Kind(); !k.IsReportable() {
			t.Fatalf("%v goes to the sled-agent as %v, which reads back as %v", r.State, sr.State, k)
		}
		b, err := json.Marshal(sr)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("creating")) || bytes.Contains(b, []byte("saga_unwound")) {
			t.Fatalf("sled-agent JSON %s carries a control-plane state", b)
		}
		if !r.State.External().IsValid() {
			t.Fatalf("%v.External() is invalid", r.State)
		}
	})
}

// D2, D3: no operation panics on any input — the zero value, any byte as a
// State, Kind, SledAgentState, External, Outcome or Reason, any generation
// — and whatever is returned without an error is valid.
func TestPropNoPanic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.Uint8().Draw(t, "byte")
		s := anyState().Draw(t, "state")
		k := vmmstate.Kind(rapid.OneOf(rapid.Uint8(), rapid.Just(b)).Draw(t, "kind"))
		sa := vmmstate.SledAgentState(b)
		ext := vmmstate.External(b)
		out := vmmstate.Outcome(b)
		reason := failure.Reason(b)
		g := vmmtest.Generation().Draw(t, "gen")
		r := vmmstate.Runtime{State: s, Generation: g}

		_ = s.String() + k.String() + sa.String() + ext.String() + out.String()
		_, _ = s.MarshalText()
		_, _ = s.MarshalJSON()
		_, _ = s.AppendText(nil)
		_, _ = k.MarshalText()
		_, _ = k.Value()
		_, _ = sa.MarshalText()
		_, _ = ext.MarshalText()
		_, _ = out.MarshalText()
		_, _ = s.FailureReason()
		_ = s.IsTerminal() || s.IsFailed() || s.IsDestroyable() || s.ExistsOnSled() || s.IsValid()
		_ = k.IsTerminal() || k.IsDestroyable() || k.ExistsOnSled() || k.IsReportable() || sa.IsTerminal()
		_ = vmmstate.CanTransition(k, vmmstate.Kind(b))
		_ = vmmstate.Successors(k)
		_ = vmmstate.ReportableSuccessors(k)
		_ = (vmmstate.VMM{Runtime: r}).String()
		_ = (vmmstate.VMM{Runtime: r}).Validate()
		_ = r.Validate()
		_, _ = json.Marshal(r)
		_, _ = json.Marshal(r.SledAgent())

		if f := vmmstate.Failed(reason); f.IsValid() != reason.IsValid() || (f.IsValid() && !f.IsFailed()) {
			t.Fatalf("Failed(%v) = %v", reason, f)
		}
		if s.Kind().IsValid() != s.IsValid() || s.SledAgent().IsValid() != s.IsValid() || s.External().IsValid() != s.IsValid() {
			t.Fatalf("%v: conversions disagree with IsValid", s)
		}
		if st := sa.State(); st.IsValid() != sa.IsValid() {
			t.Fatalf("%v.State() = %v", sa, st)
		}
		for _, row := range []vmmstate.Row{
			r.Row(),
			{State: k, FailureReason: reasonColumn(reason, b&1 == 1), StateGeneration: g},
		} {
			for _, read := range []func(vmmstate.Row) (vmmstate.Runtime, error){vmmstate.Row.Runtime, vmmstate.Row.LenientRuntime} {
				got, err := read(row)
				if err == nil && !got.State.IsValid() {
					t.Fatalf("row %+v read as invalid %v without an error", row, got)
				}
				if err != nil && !errors.Is(err, vmmstate.ErrInvalidRecord) {
					t.Fatalf("row %+v: %v is not ErrInvalidRecord", row, err)
				}
			}
		}
		next, o, err := r.Transition(anyState().Draw(t, "to"), time.Time{})
		if cerr := invariant.CheckVMMStep(r, next, o, err); cerr != nil && s.IsValid() {
			t.Fatal(cerr)
		}
		if err != nil {
			_ = err.Error()
			if next != r {
				t.Fatalf("refused Transition changed %v to %v", r, next)
			}
		}
		report := vmmstate.Runtime{State: anyState().Draw(t, "report"), Generation: vmmtest.Generation().Draw(t, "report_gen")}
		next, o, err = r.Observe(report)
		if cerr := invariant.CheckVMMStep(r, next, o, err); cerr != nil && s.IsValid() {
			t.Fatal(cerr)
		}
		if err != nil {
			_ = err.Error()
			if next != r {
				t.Fatalf("refused Observe changed %v to %v", r, next)
			}
		}
		if !s.IsValid() && err == nil {
			t.Fatalf("Observe on invalid %v returned no error", s)
		}
	})
}

func reasonColumn(r failure.Reason, valid bool) sql.Null[failure.Reason] {
	return sql.Null[failure.Reason]{V: r, Valid: valid}
}

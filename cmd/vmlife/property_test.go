package main

import (
	"encoding/json"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/wire"
)

// These properties drive the commands with instancetest's generators — the
// snapshots of every shape and the sled-agent reports of every kind that
// the library's own suites use — so the CLI is checked against the same
// cases as the library it wraps.

// input marshals a snapshot document at now with further top-level keys.
func input(t *rapid.T, d instancestate.Document, extra map[string]any) []byte {
	enc, err := encodeDocument(d)
	if err != nil {
		t.Fatalf("encoding a valid snapshot: %v", err)
	}
	b, err := json.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(extra) == 0 {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDocumentRoundTripInstancetest: every snapshot instancetest draws
// encodes to a document that decodes to the same snapshot.
func TestDocumentRoundTripInstancetest(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		if err := roundTrip(instancestate.Document{Now: now, Snapshot: s}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReportIsApplyReport: report answers exactly what
// instancestate.ApplyReport does with the same snapshot and report — the
// same flags and the same snapshot after — and refuses, as bad input,
// exactly what ApplyReport refuses.
func TestReportIsApplyReport(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		r := instancetest.Report(s).Draw(t, "report")
		in := input(t, instancestate.Document{Now: now, Snapshot: s}, map[string]any{"vmm_id": r.VMM, "report": r.Report})

		after, res, applyErr := instancestate.ApplyReport(s, r.VMM, r.Report)
		out, err := report(in)
		if applyErr != nil {
			var bad *wire.DecodeError
			if !errors.As(err, &bad) {
				t.Fatalf("ApplyReport refuses the %v report (%v), but report answers %v, %v", r.Kind, applyErr, out, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ApplyReport accepts the %v report, but report refuses it: %v\n%s", r.Kind, err, in)
		}
		got := out.(reportJSON)
		want := reportJSON{VMMUpdated: res.VMMUpdated, MigrationInUpdated: res.MigrationInUpdated,
			MigrationOutUpdated: res.MigrationOutUpdated, UpdateSagaNeeded: res.UpdateSagaNeeded,
			VMMOutcome: res.VMMOutcome.String()}
		if o := sideOutcome(r.Report.MigrationIn != nil, res.MigrationInNotLinked, res.MigrationInOutcome); (o == nil) != (got.MigrationInOutcome == nil) || o != nil && *o != *got.MigrationInOutcome {
			t.Fatalf("migration_in_outcome %v, ApplyReport %v", got.MigrationInOutcome, o)
		}
		if o := sideOutcome(r.Report.MigrationOut != nil, res.MigrationOutNotLinked, res.MigrationOutOutcome); (o == nil) != (got.MigrationOutOutcome == nil) || o != nil && *o != *got.MigrationOutOutcome {
			t.Fatalf("migration_out_outcome %v, ApplyReport %v", got.MigrationOutOutcome, o)
		}
		got.MigrationInOutcome, got.MigrationOutOutcome = nil, nil
		snap := got.Snapshot
		got.Snapshot = instancestate.Document{}
		if got != want {
			t.Fatalf("report says %+v, ApplyReport %+v", got, want)
		}
		b, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeDocument(b)
		if err != nil {
			t.Fatalf("the snapshot after the report does not decode: %v\n%s", err, b)
		}
		if back != (instancestate.Document{Now: now, Snapshot: after}) {
			t.Fatalf("report's snapshot after is not ApplyReport's:\n%s", b)
		}
	})
}

// TestExplainIsTheLibrary: every field of explain's answer is the
// library's answer for the same snapshot and time.
func TestExplainIsTheLibrary(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		out, err := explain(input(t, instancestate.Document{Now: now, Snapshot: s}, nil))
		if err != nil {
			t.Fatalf("explain refused a valid snapshot: %v", err)
		}
		got := out.(explainJSON)

		state, _ := instancestate.EffectiveState(s)
		plan, required, _ := instancestate.PlanUpdate(s, now)
		reinc, _ := instancestate.Reincarnate(s, now)
		conds, _ := instancestate.Conditions(s, now)
		next, _ := instancestate.Next(s, now)
		switch {
		case got.EffectiveState != state.String():
			t.Fatalf("effective_state %q, library %v", got.EffectiveState, state)
		case (got.Update != nil) != required:
			t.Fatalf("update %v, library says required=%v", got.Update, required)
		case required && *got.Update != plan:
			t.Fatalf("update %+v, plan %+v", *got.Update, plan)
		case got.Reincarnation.Needs != reinc.Needs || got.Reincarnation.Should != reinc.Should || got.Reincarnation.Status != reinc.Status.String():
			t.Fatalf("reincarnation %+v, library %+v", got.Reincarnation, reinc)
		case (got.Reincarnation.Until != nil) != (reinc.Status == instancestate.CoolingDown):
			t.Fatalf("reincarnation.until %v with status %v", got.Reincarnation.Until, reinc.Status)
		case len(got.Conditions) != len(conds):
			t.Fatalf("%d conditions, library %d", len(got.Conditions), len(conds))
		case got.NextAction.Action != next.Action.String():
			t.Fatalf("next_action %q, library %v", got.NextAction.Action, next.Action)
		case (got.NextAction.Until != nil) != (next.Action == instancestate.NextWait):
			t.Fatalf("next_action.until %v with action %v", got.NextAction.Until, next.Action)
		}
		for i, c := range conds {
			if g := got.Conditions[i]; g.Type != c.Type.String() || g.Reason != c.Reason || g.Message != c.Message() {
				t.Fatalf("condition %d is %+v, library %+v", i, g, c)
			}
		}
		for _, q := range []struct {
			r   instancestate.Request
			got decisionJSON
		}{
			{instancestate.RequestStart, got.Requests.Start},
			{instancestate.RequestStop, got.Requests.Stop},
			{instancestate.RequestReboot, got.Requests.Reboot},
			{instancestate.RequestMigrate, got.Requests.Migrate},
			{instancestate.RequestDelete, got.Requests.Delete},
		} {
			d, _ := instancestate.Decide(s, q.r, now)
			if q.got.Action != d.Action.String() || q.got.Status != d.Status || (q.got.Message != nil) != !d.Accepted() {
				t.Fatalf("requests.%v = %+v, library %+v", q.r, q.got, d)
			}
		}
	})
}

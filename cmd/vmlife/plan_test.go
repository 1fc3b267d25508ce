package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
)

// planSideEffects are the keys of explain's "update" that are not columns
// of the instance: what the saga does beside the commit (§13.2, D37).
// Every other key is a column the commit writes.
var planSideEffects = map[string]bool{"destroy_active_vmm": true, "destroy_target_vmm": true, "network": true,
	"deprovision": true, "migration_reservations": true, "stop_target_vmm": true}

// TestPlanDocumentRoundTrip: a control plane outside Go that applies the
// plan explain gives it — writes each of the plan's columns to the
// instance (a null intent or loss leaves the stored one), and drops the
// records the instance no longer links — holds the records the Go path
// (Snapshot.Apply) holds, so explain then decides exactly as it does on
// those: every column a commit writes is in the plan document. It did not
// hold while the document left out vmm_lost (D22): under policy never, the
// instance was then started again by next_action start.
func TestPlanDocumentRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		p, required, err := instancestate.PlanUpdate(s, now)
		if err != nil || !required {
			return
		}
		after, err := s.Apply(p)
		if err != nil {
			t.Fatalf("the plan does not apply: %v", err)
		}
		in := input(t, instancestate.Document{Now: now, Snapshot: s}, nil)
		out, err := explain(in)
		if err != nil {
			t.Fatalf("explain: %v", err)
		}
		var plan struct {
			Update map[string]json.RawMessage `json:"update"`
		}
		decode(t, encode(t, out), &plan)
		if plan.Update == nil {
			t.Fatalf("explain has no update, PlanUpdate has %+v", p)
		}

		// The outside caller's commit, on the snapshot document.
		var doc map[string]json.RawMessage
		var inst map[string]json.RawMessage
		decode(t, in, &doc)
		decode(t, doc["instance"], &inst)
		for k, v := range plan.Update {
			if planSideEffects[k] {
				continue
			}
			if (k == "intended_state" || k == "vmm_lost") && string(v) == "null" {
				continue // unchanged
			}
			inst[k] = v
		}
		linked := func(id json.RawMessage) json.RawMessage {
			for _, key := range []string{"active_vmm", "target_vmm"} {
				var rec struct {
					ID json.RawMessage `json:"id"`
				}
				if string(doc[key]) != "null" && doc[key] != nil {
					decode(t, doc[key], &rec)
					if string(id) != "null" && bytes.Equal(rec.ID, id) {
						return doc[key]
					}
				}
			}
			return json.RawMessage("null")
		}
		doc["active_vmm"], doc["target_vmm"] = linked(inst["active_propolis_id"]), linked(inst["target_propolis_id"])
		if string(inst["migration_id"]) == "null" {
			doc["migration"] = json.RawMessage("null")
		}
		doc["instance"] = encode(t, inst)

		outside, err := explain(encode(t, doc))
		if err != nil {
			t.Fatalf("explain of the outside commit: %v\n%s", err, encode(t, doc))
		}
		inside, err := explain(input(t, instancestate.Document{Now: now, Snapshot: after}, nil))
		if err != nil {
			t.Fatalf("explain of the Go commit: %v", err)
		}
		if a, b := encode(t, outside), encode(t, inside); !bytes.Equal(a, b) {
			t.Fatalf("after the plan %s\napplied from its document, explain says\n%s\napplied in Go, it says\n%s", encode(t, plan.Update), a, b)
		}
	})
}

func encode(t *rapid.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *rapid.T, b []byte, v any) {
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

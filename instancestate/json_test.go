package instancestate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/wire"
)

// docRoundTrip encodes d, decodes it and encodes it again: the same
// document must come back, byte-identically on the second encoding.
func docRoundTrip(t interface {
	Fatalf(string, ...any)
}, d instancestate.Document) {
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("encoding a valid document: %v", err)
	}
	var back instancestate.Document
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("re-decoding %s: %v", b, err)
	}
	if back != d {
		t.Fatalf("%s decodes to another document:\n got %+v\nwant %+v", b, back, d)
	}
	if b2, _ := json.Marshal(back); !bytes.Equal(b, b2) {
		t.Fatalf("encode → decode → encode differs:\n%s\n%s", b, b2)
	}
}

// TestPropDocumentRoundTrip: every snapshot instancetest draws, at every
// time it draws, survives the snapshot document both ways (decode ∘ encode
// = identity).
func TestPropDocumentRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		docRoundTrip(t, instancestate.Document{Now: now, Snapshot: s})
	})
}

// TestPropReportDocumentRoundTrip: a snapshot with any sled-agent report
// instancetest draws decodes as the report document, both parts intact.
func TestPropReportDocumentRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		r := instancetest.Report(s).Draw(t, "report")
		doc, err := json.Marshal(instancestate.Document{Now: now, Snapshot: s})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := json.Marshal(r.Report)
		if err != nil {
			t.Fatal(err)
		}
		vmm, _ := r.VMM.MarshalText()
		in := append(doc[:len(doc)-1:len(doc)-1], `,"vmm_id":"`+string(vmm)+`","report":`+string(rep)+`}`...)
		var got instancestate.ReportDocument
		if err := json.Unmarshal(in, &got); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got.Document != (instancestate.Document{Now: now, Snapshot: s}) || got.VMM != r.VMM || !sameReport(got.Report, r.Report) {
			t.Fatalf("%s decoded as %+v", in, got)
		}
	})
}

func sameReport(a, b instancestate.Report) bool {
	if a.VMM.State != b.VMM.State || a.VMM.Generation != b.VMM.Generation || !a.VMM.TimeUpdated.Equal(b.VMM.TimeUpdated) {
		return false
	}
	eq := func(x, y any) bool {
		bx, _ := json.Marshal(x)
		by, _ := json.Marshal(y)
		return bytes.Equal(bx, by)
	}
	return eq(a.MigrationIn, b.MigrationIn) && eq(a.MigrationOut, b.MigrationOut)
}

// TestDocumentRefusesBrokenRules: a well-formed document whose snapshot
// breaks a rule is refused with the rule (ErrInvalidRecord), not decoded.
func TestDocumentRefusesBrokenRules(t *testing.T) {
	const doc = `{"now":"2026-11-21T10:00:00Z","instance":{"id":"11111111-1111-4111-8111-111111111111","state":"vmm",` +
		`"state_generation":3,"time_state_updated":"2026-11-21T09:00:00Z","intended_state":"running","updater_gen":1}}`
	var d instancestate.Document
	err := json.Unmarshal([]byte(doc), &d)
	var re *instancestate.RuleError
	if !errors.Is(err, instancestate.ErrInvalidRecord) || !errors.As(err, &re) || re.Rule != instancestate.RuleVMMIffActive {
		t.Fatalf("vmm without an active VMM: %v", err)
	}
	if d != (instancestate.Document{}) {
		t.Fatalf("a refused document was half decoded: %+v", d)
	}
}

// FuzzDocument: the snapshot document decoder never panics, refuses only
// with a *wire.DecodeError or a broken rule, and what it accepts survives
// encoding and decoding again.
func FuzzDocument(f *testing.F) {
	f.Add([]byte(`{"now":"2026-11-21T10:00:00Z","instance":{"id":"11111111-1111-4111-8111-111111111111","state":"no_vmm",` +
		`"state_generation":3,"time_state_updated":"2026-11-21T09:00:00Z","intended_state":"running","updater_gen":1}}`))
	f.Add([]byte(`{"now":"2026-11-21T10:00:00Z","instance":{"id":"11111111-1111-4111-8111-111111111111","state":"vmm",` +
		`"state_generation":3,"time_state_updated":"2026-11-21T09:00:00Z","active_propolis_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",` +
		`"intended_state":"running","updater_gen":1},"active_vmm":{"id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",` +
		`"instance_id":"11111111-1111-4111-8111-111111111111","sled_id":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","state":"failed",` +
		`"failure_reason":"sled_off","state_generation":4,"time_state_updated":"2026-11-21T09:30:00Z"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d instancestate.Document
		if err := d.UnmarshalJSON(b); err != nil {
			if !errors.Is(err, wire.ErrDecode) && !errors.Is(err, instancestate.ErrInvalidRecord) {
				t.Fatalf("%q: refused with %T %v", b, err, err)
			}
			return
		}
		docRoundTrip(t, d)
	})
}

// TestPlanJSON: a plan is written with exactly the keys of explain's
// "update" (docs/cli.md).
func TestPlanJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		p, ok, err := instancestate.PlanUpdate(s, now)
		if err != nil || !ok {
			return
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		// D33, D37: restart_failures and stop_target_vmm only when set.
		optional := 0
		if _, ok := m["restart_failures"]; ok != (p.RestartFailures != 0) {
			t.Fatalf("%s: restart_failures written %v, count %d", b, ok, p.RestartFailures)
		} else if ok {
			optional++
		}
		if _, ok := m["stop_target_vmm"]; ok != !p.StopTargetVMM.IsZero() {
			t.Fatalf("%s: stop_target_vmm written %v, plan %v", b, ok, p.StopTargetVMM)
		} else if ok {
			optional++
		}
		if len(m) != 13+optional {
			t.Fatalf("%s: %d keys", b, len(m))
		}
		for _, k := range []string{"state", "state_generation", "time_state_updated", "active_propolis_id", "target_propolis_id",
			"migration_id", "intended_state", "vmm_lost", "destroy_active_vmm", "destroy_target_vmm", "network", "deprovision",
			"migration_reservations"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("%s: no key %q", b, k)
			}
		}
	})
}

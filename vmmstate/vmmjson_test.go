package vmmstate_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/vmmstate/vmmtest"
	"github.com/vmlife/vmlife/wire"
)

// TestPropVMMJSONRoundTrip: every valid VMM record reads back as itself
// from the snapshot document's form (§5.3), failed ones with their reason.
func TestPropVMMJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := vmmtest.VMM().Draw(t, "vmm")
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %v: %v", v, err)
		}
		var got vmmstate.VMM
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("unmarshal %s: %v", b, err)
		}
		if got.ID != v.ID || got.InstanceID != v.InstanceID || got.SledID != v.SledID ||
			got.Runtime.State != v.Runtime.State || got.Runtime.Generation != v.Runtime.Generation ||
			!got.Runtime.TimeUpdated.Equal(v.Runtime.TimeUpdated) {
			t.Fatalf("%s read back as %v, want %v", b, got, v)
		}
	})
}

// vmmDoc is a VMM document with state and failure_reason as given (a
// failure_reason of "" leaves the key out).
func vmmDoc(id, state, reason string) string {
	doc := `{"id":"` + id + `","instance_id":"1b000000-0000-4000-8000-000000000001","sled_id":"3d000000-0000-4000-8000-000000000001","state":"` + state + `"`
	if reason != "" {
		doc += `,"failure_reason":` + reason
	}
	return doc + `,"state_generation":4,"time_state_updated":"2026-11-21T10:00:00Z"}`
}

const okID = "2c000000-0000-4000-8000-00000000000a"
const nilID = "00000000-0000-0000-0000-000000000000"

// TestVMMJSON reads the rows the vmm table can and cannot hold: the state
// and failure_reason columns together (D8, CHECK failure_reason_iff_failed),
// non-nil ids, known reasons; each refusal names its field and the values
// accepted, and leaves the destination as it was.
func TestVMMJSON(t *testing.T) {
	reasons := "prehistoric, from_sled_agent, no_such_instance, sled_expunged, sled_off"
	for _, tc := range []struct {
		name, doc string
		want      vmmstate.State // on success
		err       string         // the whole message, on refusal
	}{
		{"running", vmmDoc(okID, "running", ""), vmmstate.Running, ""},
		{"running, null reason", vmmDoc(okID, "running", "null"), vmmstate.Running, ""},
		{"failed with its reason", vmmDoc(okID, "failed", `"sled_off"`), vmmstate.Failed(failure.SledOff), ""},
		{"failed without a reason", vmmDoc(okID, "failed", ""), 0,
			"failure_reason: null breaks CHECK failure_reason_iff_failed (state is failed) (accepted: " + reasons + ")"},
		{"failed, null reason", vmmDoc(okID, "failed", "null"), 0,
			"failure_reason: null breaks CHECK failure_reason_iff_failed (state is failed) (accepted: " + reasons + ")"},
		{"a reason on a running VMM", vmmDoc(okID, "running", `"sled_off"`), 0,
			`failure_reason: "sled_off" breaks CHECK failure_reason_iff_failed (state is running) (accepted: null unless state is failed)`},
		{"an unknown reason", vmmDoc(okID, "failed", `"bogus"`), 0,
			`failure_reason: unknown value "bogus" (accepted: ` + reasons + `, or null)`},
		{"nil id", vmmDoc(nilID, "running", ""), 0,
			"id: the nil UUID identifies nothing (accepted: a non-nil UUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"},
		{"nil instance_id", strings.Replace(vmmDoc(okID, "running", ""), "1b000000-0000-4000-8000-000000000001", nilID, 1), 0,
			"instance_id: the nil UUID identifies nothing (accepted: a non-nil UUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"},
		{"nil sled_id", strings.Replace(vmmDoc(okID, "running", ""), "3d000000-0000-4000-8000-000000000001", nilID, 1), 0,
			"sled_id: the nil UUID identifies nothing (accepted: a non-nil UUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep := vmmstate.VMM{ID: vmmstate.IDFromUUID([16]byte{9})}
			v := keep
			err := v.UnmarshalJSON([]byte(tc.doc))
			if tc.err == "" {
				if err != nil || v.Runtime.State != tc.want || v.Runtime.Generation.Int64() != 4 {
					t.Fatalf("%s: %v, %v; want %v at 4", tc.doc, v, err, tc.want)
				}
				return
			}
			var de *wire.DecodeError
			if !errors.As(err, &de) || err.Error() != tc.err || v != keep {
				t.Fatalf("%s:\n\tgot  %v (%T), record %v\n\twant %s, record unchanged", tc.doc, err, err, v, tc.err)
			}
		})
	}
}

// TestStateJSONRefusals: every state the domain form refuses matches
// ErrUnknown, and an unknown reason inside {"failed":…} keeps the
// reason's own error rather than the state's.
func TestStateJSONRefusals(t *testing.T) {
	accepted := `"creating", "starting", "running", "stopping", "stopped", "rebooting", "migrating", {"failed":"prehistoric"}, {"failed":"from_sled_agent"}, {"failed":"no_such_instance"}, {"failed":"sled_expunged"}, {"failed":"sled_off"}, "destroyed", "saga_unwound"`
	var s vmmstate.State
	err := s.UnmarshalJSON([]byte(`"bogus"`))
	if !errors.Is(err, vmmstate.ErrUnknown) || err.Error() != `input: unknown value "bogus" (accepted: `+accepted+`)` {
		t.Errorf("unknown label: %v", err)
	}
	var r vmmstate.Runtime
	err = r.UnmarshalJSON([]byte(`{"state":5,"gen":1,"time_updated":"2026-11-21T10:00:00Z"}`))
	if err == nil || err.Error() != "state: want a string, got 5 (accepted: "+accepted+")" {
		t.Errorf("a number for the state: %v", err)
	}
	err = s.UnmarshalJSON([]byte(`{"failed":"bogus"}`))
	var ee *enum.Error
	if !errors.Is(err, vmmstate.ErrUnknown) || !errors.As(err, &ee) || ee.Type != "failure.Reason" {
		t.Errorf("unknown reason: %v, want failure.Reason's own error", err)
	}
}

// TestVMMMarshalRefusesInvalid: a record the table could not hold is not
// written: an invalid state, or a time outside years 0000–9999.
func TestVMMMarshalRefusesInvalid(t *testing.T) {
	good := vmmstate.VMM{ID: vmmstate.IDFromUUID([16]byte{1}), InstanceID: vmmstate.InstanceIDFromUUID([16]byte{2}),
		SledID:  vmmstate.SledIDFromUUID([16]byte{3}),
		Runtime: vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(2), TimeUpdated: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}}
	if _, err := json.Marshal(good); err != nil {
		t.Fatalf("good record: %v", err)
	}
	bad := good
	bad.Runtime.State = 0
	if _, err := json.Marshal(bad); !errors.Is(err, vmmstate.ErrInvalidRecord) {
		t.Errorf("invalid state: %v", err)
	}
	late := good
	late.Runtime.TimeUpdated = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := late.MarshalJSON(); err == nil || !strings.Contains(err.Error(), "time_state_updated") {
		t.Errorf("year 10000: %v", err)
	}
}

package vmmstate_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/wire"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// D8, §4.6: sled-agent → domain, written out. Every failure a sled-agent
// reports is Failed(from_sled_agent): the wire cannot say why.
func TestSledAgentToDomain(t *testing.T) {
	tests := []struct {
		in   vmmstate.SledAgentState
		want vmmstate.State
	}{
		{vmmstate.SledAgentStarting, vmmstate.Starting},
		{vmmstate.SledAgentRunning, vmmstate.Running},
		{vmmstate.SledAgentStopping, vmmstate.Stopping},
		{vmmstate.SledAgentStopped, vmmstate.Stopped},
		{vmmstate.SledAgentRebooting, vmmstate.Rebooting},
		{vmmstate.SledAgentMigrating, vmmstate.Migrating},
		{vmmstate.SledAgentFailed, failedFromSledAgent},
		{vmmstate.SledAgentDestroyed, vmmstate.Destroyed},
	}
	if len(tests) != len(vmmstate.AllSledAgentStates()) {
		t.Fatalf("table has %d rows, want %d", len(tests), len(vmmstate.AllSledAgentStates()))
	}
	for _, tt := range tests {
		got := tt.in.State()
		if got != tt.want {
			t.Errorf("%v.State() = %v, want %v", tt.in, got, tt.want)
		}
		// §3.1's terminal set agrees with the domain's (§21.1).
		if tt.in.IsTerminal() != got.IsTerminal() {
			t.Errorf("%v.IsTerminal() = %v but %v.IsTerminal() = %v", tt.in, tt.in.IsTerminal(), got, got.IsTerminal())
		}
		// Everything a sled-agent says is a state a report may carry (D7).
		if !got.Kind().IsReportable() {
			t.Errorf("%v converts to %v, which a report may not carry", tt.in, got)
		}
		// And it converts back: sled-agent → domain → sled-agent is the identity.
		if back := got.SledAgent(); back != tt.in {
			t.Errorf("%v → %v → %v, want the identity", tt.in, got, back)
		}
	}
	for _, b := range invalidBytes {
		s := vmmstate.SledAgentState(b)
		if s.IsValid() {
			continue
		}
		if got := s.State(); got != 0 {
			t.Errorf("invalid %v.State() = %v, want the zero State", s, got)
		}
		if s.IsTerminal() {
			t.Errorf("invalid %v.IsTerminal() = true", s)
		}
	}
}

// D8: domain → sled-agent, written out. creating is sent as starting and
// saga_unwound as destroyed, so neither ever reaches the wire; a failed
// state loses its reason.
func TestDomainToSledAgent(t *testing.T) {
	want := []vmmstate.SledAgentState{
		vmmstate.SledAgentStarting, // creating
		vmmstate.SledAgentStarting,
		vmmstate.SledAgentRunning,
		vmmstate.SledAgentStopping,
		vmmstate.SledAgentStopped,
		vmmstate.SledAgentRebooting,
		vmmstate.SledAgentMigrating,
		vmmstate.SledAgentFailed, vmmstate.SledAgentFailed, vmmstate.SledAgentFailed, vmmstate.SledAgentFailed, vmmstate.SledAgentFailed,
		vmmstate.SledAgentDestroyed,
		vmmstate.SledAgentDestroyed, // saga_unwound
	}
	for i, s := range allStates {
		if got := s.SledAgent(); got != want[i] {
			t.Errorf("%v.SledAgent() = %v, want %v", s, got, want[i])
		}
	}
	for _, b := range invalidBytes {
		if got := vmmstate.State(b).SledAgent(); got != 0 {
			t.Errorf("State(%d).SledAgent() = %v, want the zero SledAgentState", b, got)
		}
	}
}

// D8: domain → external at the VMM level, written out. creating
// reads as starting and saga_unwound as stopped (D10); repairing is never
// produced (§2.1).
func TestDomainToExternal(t *testing.T) {
	want := []vmmstate.External{
		vmmstate.ExternalStarting, // creating
		vmmstate.ExternalStarting,
		vmmstate.ExternalRunning,
		vmmstate.ExternalStopping,
		vmmstate.ExternalStopped,
		vmmstate.ExternalRebooting,
		vmmstate.ExternalMigrating,
		vmmstate.ExternalFailed, vmmstate.ExternalFailed, vmmstate.ExternalFailed, vmmstate.ExternalFailed, vmmstate.ExternalFailed,
		vmmstate.ExternalDestroyed,
		vmmstate.ExternalStopped, // saga_unwound
	}
	for i, s := range allStates {
		got := s.External()
		if got != want[i] {
			t.Errorf("%v.External() = %v, want %v", s, got, want[i])
		}
		if got == vmmstate.ExternalCreating || got == vmmstate.ExternalRepairing {
			t.Errorf("%v.External() = %v, which no VMM state maps to", s, got)
		}
	}
	for _, b := range invalidBytes {
		if got := vmmstate.State(b).External(); got != 0 {
			t.Errorf("State(%d).External() = %v, want the zero External", b, got)
		}
	}
}

// Runtime ↔ SledAgentRuntime: the state converts as above, the generation
// and time are copied untouched.
func TestSledAgentRuntimeConversion(t *testing.T) {
	g := generation.Of(42)
	at := t0.Add(17 * time.Nanosecond)
	for _, s := range vmmstate.AllSledAgentStates() {
		sr := vmmstate.SledAgentRuntime{State: s, Generation: g, TimeUpdated: at}
		r := sr.Runtime()
		if want := (vmmstate.Runtime{State: s.State(), Generation: g, TimeUpdated: at}); r != want {
			t.Errorf("%+v.Runtime() = %+v, want %+v", sr, r, want)
		}
		if back := r.SledAgent(); back != sr {
			t.Errorf("%+v → %+v → %+v, want the identity", sr, r, back)
		}
	}
	for _, s := range allStates {
		r := vmmstate.Runtime{State: s, Generation: g, TimeUpdated: at}
		if want := (vmmstate.SledAgentRuntime{State: s.SledAgent(), Generation: g, TimeUpdated: at}); r.SledAgent() != want {
			t.Errorf("%+v.SledAgent() = %+v, want %+v", r, r.SledAgent(), want)
		}
	}
}

// The sled-agent JSON (§3.2), written out.
func TestSledAgentRuntimeJSON(t *testing.T) {
	for _, s := range vmmstate.AllSledAgentStates() {
		sr := vmmstate.SledAgentRuntime{State: s, Generation: generation.Of(4), TimeUpdated: t0}
		want := `{"state":"` + s.String() + `","gen":4,"time_updated":"2026-11-21T10:00:00Z"}`
		b, err := json.Marshal(sr)
		if err != nil || string(b) != want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", sr, b, err, want)
		}
		var got vmmstate.SledAgentRuntime
		if err := json.Unmarshal([]byte(want), &got); err != nil || got != sr {
			t.Errorf("json.Unmarshal(%s) = %+v, %v", want, got, err)
		}
	}
	if _, err := json.Marshal(vmmstate.SledAgentRuntime{}); err == nil {
		t.Error("json.Marshal of the zero SledAgentRuntime: no error")
	}
	const ok = `"gen":4,"time_updated":"2026-11-21T10:00:00Z"`
	for _, in := range []string{
		``, `null`, `{}`, `"running"`,
		`{"state":"running","gen":4}`,
		`{"state":"running",` + ok + `,"state":"running"}`,
		`{"state":"creating",` + ok + `}`,     // D8: not a sled-agent state
		`{"state":"saga_unwound",` + ok + `}`, // D8: not a sled-agent state
		`{"state":{"failed":"sled_off"},` + ok + `}`,
		`{"state":"Running",` + ok + `}`,
		`{"state":null,` + ok + `}`,
		`{"state":"running","gen":-4,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{"state":"running","gen":4.5,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{"state":"running","gen":4,"time_updated":"2026-11-21"}`,
	} {
		keep := vmmstate.SledAgentRuntime{State: vmmstate.SledAgentStopped, Generation: generation.Of(2), TimeUpdated: t1}
		got := keep
		err := got.UnmarshalJSON([]byte(in))
		if err == nil || got != keep {
			t.Errorf("UnmarshalJSON(%s) = %+v, %v; want an error and no change", in, got, err)
		}
	}
	// An unknown state names the accepted ones, findable through the JSON
	// wrapper (D3).
	var got vmmstate.SledAgentRuntime
	err := json.Unmarshal([]byte(`{"state":"creating",`+ok+`}`), &got)
	var de *wire.DecodeError
	if !errors.Is(err, vmmstate.ErrUnknown) || !strings.Contains(err.Error(), "starting, running") || !errors.As(err, &de) || de.Path != "state" {
		t.Errorf("unknown sled-agent state: err = %v; want ErrUnknown naming the field and listing the states", err)
	}
}

// TestSledAgentRuntimeIgnoresUnknownKeys: D20 — a newer sled-agent may add
// keys; the report is read, never refused for them, whatever they hold.
func TestSledAgentRuntimeIgnoresUnknownKeys(t *testing.T) {
	want := vmmstate.SledAgentRuntime{State: vmmstate.SledAgentRunning, Generation: generation.Of(4), TimeUpdated: t1}
	for _, extra := range []string{
		`"migration_in":null`, `"cpu_platform":"amd_turin"`, `"vcpus":[1,2,{"a":[true,false,null]}]`,
		`"nested":{"deeper":{"and":{"deeper":-1.5e3}}}`, `"escaped\u0041":"\"x\""`,
	} {
		for _, doc := range []string{
			`{` + extra + `,"state":"running","gen":4,"time_updated":"` + t1.Format(time.RFC3339) + `"}`,
			`{"state":"running","gen":4,` + extra + `,"time_updated":"` + t1.Format(time.RFC3339) + `"}`,
			`{"state":"running","gen":4,"time_updated":"` + t1.Format(time.RFC3339) + `",` + extra + `}`,
		} {
			var got vmmstate.SledAgentRuntime
			if err := json.Unmarshal([]byte(doc), &got); err != nil || got != want {
				t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", doc, got, err, want)
			}
		}
	}
	// Unknown values of known keys are still refused, and so is an unknown
	// key nested past the bound.
	deep := strings.Repeat(`[`, wire.MaxDepth+1) + strings.Repeat(`]`, wire.MaxDepth+1)
	for _, doc := range []string{
		`{"state":"paused","gen":4,"time_updated":"` + t1.Format(time.RFC3339) + `","x":1}`,
		`{"state":"running","gen":4,"time_updated":"` + t1.Format(time.RFC3339) + `","x":` + deep + `}`,
		`{"state":"running","gen":4,"time_updated":"` + t1.Format(time.RFC3339) + `","x":}`,
	} {
		var got vmmstate.SledAgentRuntime
		if err := json.Unmarshal([]byte(doc), &got); err == nil {
			t.Errorf("Unmarshal(%s) accepted %+v", doc, got)
		}
	}
}

package vmmstate_test

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/vmmstate"
)

// The fourteen valid states, written out: nine plain states and a failed
// state per reason (§4.1, §4.3, D4). Every table below has one row per entry.
var (
	failedPrehistoric    = vmmstate.Failed(failure.Prehistoric)
	failedFromSledAgent  = vmmstate.Failed(failure.FromSledAgent)
	failedNoSuchInstance = vmmstate.Failed(failure.NoSuchInstance)
	failedSledExpunged   = vmmstate.Failed(failure.SledExpunged)
	failedSledOff        = vmmstate.Failed(failure.SledOff)
)

var allStates = []vmmstate.State{
	vmmstate.Creating, vmmstate.Starting, vmmstate.Running, vmmstate.Stopping, vmmstate.Stopped,
	vmmstate.Rebooting, vmmstate.Migrating,
	failedPrehistoric, failedFromSledAgent, failedNoSuchInstance, failedSledExpunged, failedSledOff,
	vmmstate.Destroyed, vmmstate.SagaUnwound,
}

// Values no enum of this package accepts: the zero value, one past the end,
// and bytes that put garbage in a State's reason bits.
var invalidBytes = []uint8{0, 0x08, 11, 12, 15, 16, 0x21, 0x68, 0x78, 0x80, 0xf8, 0xff}

func TestAllStates(t *testing.T) {
	if got := vmmstate.AllStates(); !slices.Equal(got, allStates) {
		t.Fatalf("AllStates() = %v, want %v", got, allStates)
	}
	// Every byte is either one of the fourteen or invalid: nothing else
	// passes IsValid (D4: no invalid pair can be built).
	var valid []vmmstate.State
	for b := range 256 {
		if s := vmmstate.State(b); s.IsValid() {
			valid = append(valid, s)
		}
	}
	slices.Sort(valid)
	want := slices.Clone(allStates)
	slices.Sort(want)
	if !slices.Equal(valid, want) {
		t.Fatalf("valid State bytes = %v, want exactly %v", valid, want)
	}
}

// §4.2, written out literally. The Kind predicates must agree with the
// State predicates for every state of that kind.
func TestPredicates(t *testing.T) {
	const F, T = false, true
	tests := []struct {
		s                                         vmmstate.State
		terminal, failed, destroyable, onSled, rp bool // rp: reportable by a sled-agent (§3.1, D7)
	}{
		{vmmstate.Creating, F, F, F, F, F},
		{vmmstate.Starting, F, F, F, T, T},
		{vmmstate.Running, F, F, F, T, T},
		{vmmstate.Stopping, F, F, F, T, T},
		{vmmstate.Stopped, F, F, F, T, T},
		{vmmstate.Rebooting, F, F, F, T, T},
		{vmmstate.Migrating, F, F, F, T, T},
		{failedPrehistoric, T, T, T, T, T},
		{failedFromSledAgent, T, T, T, T, T},
		{failedNoSuchInstance, T, T, T, T, T},
		{failedSledExpunged, T, T, T, T, T},
		{failedSledOff, T, T, T, T, T},
		{vmmstate.Destroyed, T, F, T, F, T},
		{vmmstate.SagaUnwound, F, F, T, F, F},
	}
	if len(tests) != len(allStates) {
		t.Fatalf("table has %d rows, want one per state (%d)", len(tests), len(allStates))
	}
	for i, tt := range tests {
		s := tt.s
		if s != allStates[i] {
			t.Fatalf("row %d is %v, want %v (rows follow declaration order)", i, s, allStates[i])
		}
		got := [...]bool{s.IsTerminal(), s.IsFailed(), s.IsDestroyable(), s.ExistsOnSled(), s.Kind().IsReportable()}
		want := [...]bool{tt.terminal, tt.failed, tt.destroyable, tt.onSled, tt.rp}
		if got != want {
			t.Errorf("%v: terminal, failed, destroyable, onSled, reportable = %v, want %v", s, got, want)
		}
		k := s.Kind()
		if k.IsTerminal() != tt.terminal || k.IsDestroyable() != tt.destroyable || k.ExistsOnSled() != tt.onSled {
			t.Errorf("%v: Kind %v predicates disagree with the State's", s, k)
		}
	}
	// Every predicate is false for every invalid value (D2: the zero value
	// is "unset", not some state).
	for _, b := range invalidBytes {
		s, k := vmmstate.State(b), vmmstate.Kind(b)
		if !s.IsValid() && (s.IsTerminal() || s.IsFailed() || s.IsDestroyable() || s.ExistsOnSled()) {
			t.Errorf("invalid %v has a true predicate", s)
		}
		if !k.IsValid() && (k.IsTerminal() || k.IsDestroyable() || k.ExistsOnSled() || k.IsReportable()) {
			t.Errorf("invalid %v has a true predicate", k)
		}
	}
}

// Each state's Kind and FailureReason, and Failed for every reason (D4).
func TestKindAndReason(t *testing.T) {
	tests := []struct {
		s      vmmstate.State
		kind   vmmstate.Kind
		reason failure.Reason // 0: not failed
	}{
		{vmmstate.Creating, vmmstate.KindCreating, 0},
		{vmmstate.Starting, vmmstate.KindStarting, 0},
		{vmmstate.Running, vmmstate.KindRunning, 0},
		{vmmstate.Stopping, vmmstate.KindStopping, 0},
		{vmmstate.Stopped, vmmstate.KindStopped, 0},
		{vmmstate.Rebooting, vmmstate.KindRebooting, 0},
		{vmmstate.Migrating, vmmstate.KindMigrating, 0},
		{failedPrehistoric, vmmstate.KindFailed, failure.Prehistoric},
		{failedFromSledAgent, vmmstate.KindFailed, failure.FromSledAgent},
		{failedNoSuchInstance, vmmstate.KindFailed, failure.NoSuchInstance},
		{failedSledExpunged, vmmstate.KindFailed, failure.SledExpunged},
		{failedSledOff, vmmstate.KindFailed, failure.SledOff},
		{vmmstate.Destroyed, vmmstate.KindDestroyed, 0},
		{vmmstate.SagaUnwound, vmmstate.KindSagaUnwound, 0},
	}
	for _, tt := range tests {
		if !tt.s.IsValid() {
			t.Errorf("%v: not valid", tt.s)
		}
		if got := tt.s.Kind(); got != tt.kind {
			t.Errorf("%v.Kind() = %v, want %v", tt.s, got, tt.kind)
		}
		r, ok := tt.s.FailureReason()
		if ok != (tt.reason != 0) || r != tt.reason {
			t.Errorf("%v.FailureReason() = %v, %v; want %v", tt.s, r, ok, tt.reason)
		}
	}
	// Distinct reasons make distinct states: equality includes the reason.
	for _, a := range failure.AllReasons() {
		for _, b := range failure.AllReasons() {
			if (vmmstate.Failed(a) == vmmstate.Failed(b)) != (a == b) {
				t.Errorf("Failed(%v) == Failed(%v) is %v", a, b, a != b)
			}
		}
	}
	// Failed of an invalid reason is the invalid zero State, never a
	// failed state without a reason (D4).
	for _, r := range []failure.Reason{0, 6, 7, 15, 16, 255} {
		if s := vmmstate.Failed(r); s != 0 {
			t.Errorf("Failed(%v) = %v (%d), want the zero State", r, s, uint8(s))
		}
	}
	for _, b := range invalidBytes {
		s := vmmstate.State(b)
		if s.IsValid() {
			continue
		}
		if k := s.Kind(); k != 0 {
			t.Errorf("invalid State(%d).Kind() = %v, want 0", b, k)
		}
		if r, ok := s.FailureReason(); ok || r != 0 {
			t.Errorf("invalid State(%d).FailureReason() = %v, %v", b, r, ok)
		}
	}
}

// The wire strings, written out (§4.1, §5.1, §3.1, §2.1, D9).
func TestWireStrings(t *testing.T) {
	t.Run("Kind", func(t *testing.T) {
		want := []string{"creating", "starting", "running", "stopping", "stopped",
			"rebooting", "migrating", "failed", "destroyed", "saga_unwound"}
		checkEnumStrings(t, "vmmstate.Kind", vmmstate.AllKinds(), want, vmmstate.ParseKind,
			func(v *vmmstate.Kind) enumCodec { return v }, func(b uint8) vmmstate.Kind { return vmmstate.Kind(b) })
	})
	t.Run("SledAgentState", func(t *testing.T) {
		want := []string{"starting", "running", "stopping", "stopped", "rebooting", "migrating", "failed", "destroyed"}
		checkEnumStrings(t, "vmmstate.SledAgentState", vmmstate.AllSledAgentStates(), want, vmmstate.ParseSledAgentState,
			func(v *vmmstate.SledAgentState) enumCodec { return v }, func(b uint8) vmmstate.SledAgentState { return vmmstate.SledAgentState(b) })
	})
	t.Run("External", func(t *testing.T) {
		want := []string{"creating", "starting", "running", "stopping", "stopped",
			"rebooting", "migrating", "repairing", "failed", "destroyed"}
		checkEnumStrings(t, "instancestate.State", vmmstate.AllExternal(), want, vmmstate.ParseExternal,
			func(v *vmmstate.External) enumCodec { return v }, func(b uint8) vmmstate.External { return vmmstate.External(b) })
	})
}

// enumCodec is what a pointer to every string enum here implements.
type enumCodec interface {
	UnmarshalText([]byte) error
	Scan(any) error
}

// enumValue is what every string enum value implements (D9).
type enumValue interface {
	comparable
	IsValid() bool
	String() string
	MarshalText() ([]byte, error)
	AppendText([]byte) ([]byte, error)
	Value() (driver.Value, error)
}

// checkEnumStrings walks every value of an enum against its literal wire
// strings, through every encoding, and checks the invalid values fail each
// one the same way.
func checkEnumStrings[E enumValue](t *testing.T, typ string, all []E, want []string, parse func(string) (E, error), codec func(*E) enumCodec, fromByte func(uint8) E) {
	t.Helper()
	if len(all) != len(want) {
		t.Fatalf("All = %v, want %d values %v", all, len(want), want)
	}
	for i, v := range all {
		w := want[i]
		if v != fromByte(uint8(i+1)) {
			t.Errorf("value %d is %v, want byte %d (declaration order)", i, v, i+1)
		}
		if !v.IsValid() {
			t.Errorf("%v is not valid", v)
		}
		if got := v.String(); got != w {
			t.Errorf("value %d: String() = %q, want %q", i+1, got, w)
		}
		if b, err := v.MarshalText(); err != nil || string(b) != w {
			t.Errorf("%v.MarshalText() = %q, %v", v, b, err)
		}
		if b, err := v.AppendText([]byte("x=")); err != nil || string(b) != "x="+w {
			t.Errorf("%v.AppendText = %q, %v", v, b, err)
		}
		if b, err := json.Marshal(v); err != nil || string(b) != `"`+w+`"` {
			t.Errorf("json.Marshal(%v) = %s, %v", v, b, err)
		}
		if dv, err := v.Value(); err != nil || dv != w {
			t.Errorf("%v.Value() = %#v, %v", v, dv, err)
		}
		if p, err := parse(w); err != nil || p != v {
			t.Errorf("Parse(%q) = %v, %v", w, p, err)
		}
		for _, src := range []any{w, []byte(w)} {
			var got E
			if err := codec(&got).Scan(src); err != nil || got != v {
				t.Errorf("Scan(%#v) = %v, %v", src, got, err)
			}
		}
		var got E
		if err := codec(&got).UnmarshalText([]byte(w)); err != nil || got != v {
			t.Errorf("UnmarshalText(%q) = %v, %v", w, got, err)
		}
		var fromJSON E
		if err := json.Unmarshal([]byte(`"`+w+`"`), &fromJSON); err != nil || fromJSON != v {
			t.Errorf("json.Unmarshal(%q) = %v, %v", w, fromJSON, err)
		}
	}
	// Rejected input: not a wire string, wrong case, surrounding space, a
	// string of another enum, NULL. The destination keeps its value.
	keep := all[len(all)-1]
	for _, in := range []string{"", "Running", "RUNNING", " running", "running ", "saga-unwound", "failed(sled_off)", "unknown", "vmm"} {
		if slices.Contains(want, in) {
			continue
		}
		if p, err := parse(in); err == nil && foldsCase(typ) && strings.EqualFold(p.String(), in) {
			continue // D24: the state column folds ASCII case, as Omicron's parser does
		}
		if _, err := parse(in); !errors.Is(err, vmmstate.ErrUnknown) {
			t.Errorf("Parse(%q): err = %v, want ErrUnknown", in, err)
		} else if !bytes.Contains([]byte(err.Error()), []byte(want[0])) || !bytes.Contains([]byte(err.Error()), []byte(typ)) {
			t.Errorf("Parse(%q): error %q does not name the type and list the accepted values", in, err)
		}
		got := keep
		if err := codec(&got).UnmarshalText([]byte(in)); !errors.Is(err, vmmstate.ErrUnknown) || got != keep {
			t.Errorf("UnmarshalText(%q) = %v, %v; want ErrUnknown and %v unchanged", in, got, err, keep)
		}
	}
	for _, src := range []any{nil, 7, int64(1), true, 1.5} {
		got := keep
		if err := codec(&got).Scan(src); !errors.Is(err, vmmstate.ErrUnknown) || got != keep {
			t.Errorf("Scan(%#v) = %v, %v; want ErrUnknown and %v unchanged", src, got, err, keep)
		}
	}
	// The invalid values: a "pkg.Type(n)" string and an error from every
	// encoder, never a panic (D2).
	for _, n := range []int{0, len(all) + 1, 255} {
		v := fromByte(uint8(n))
		if v.IsValid() {
			t.Fatalf("value %d reported valid", n)
		}
		if got, want := v.String(), typ+"("+strconv.Itoa(n)+")"; got != want {
			t.Errorf("String() of %d = %q, want %q", n, got, want)
		}
		if _, err := v.MarshalText(); !errors.Is(err, vmmstate.ErrUnknown) {
			t.Errorf("MarshalText of %d: err = %v", n, err)
		}
		if b, err := v.AppendText([]byte("x")); !errors.Is(err, vmmstate.ErrUnknown) || string(b) != "x" {
			t.Errorf("AppendText of %d = %q, %v", n, b, err)
		}
		if _, err := json.Marshal(v); err == nil {
			t.Errorf("json.Marshal of %d: no error", n)
		}
		if _, err := v.Value(); !errors.Is(err, vmmstate.ErrUnknown) {
			t.Errorf("Value of %d: err = %v", n, err)
		}
	}
}

// The text and JSON forms of all fourteen states, written out (D9): text is
// "failed(reason)" so String is unambiguous, JSON is Omicron's externally
// tagged form.
func TestStateWireForms(t *testing.T) {
	tests := []struct {
		s          vmmstate.State
		text, json string
	}{
		{vmmstate.Creating, "creating", `"creating"`},
		{vmmstate.Starting, "starting", `"starting"`},
		{vmmstate.Running, "running", `"running"`},
		{vmmstate.Stopping, "stopping", `"stopping"`},
		{vmmstate.Stopped, "stopped", `"stopped"`},
		{vmmstate.Rebooting, "rebooting", `"rebooting"`},
		{vmmstate.Migrating, "migrating", `"migrating"`},
		{failedPrehistoric, "failed(prehistoric)", `{"failed":"prehistoric"}`},
		{failedFromSledAgent, "failed(from_sled_agent)", `{"failed":"from_sled_agent"}`},
		{failedNoSuchInstance, "failed(no_such_instance)", `{"failed":"no_such_instance"}`},
		{failedSledExpunged, "failed(sled_expunged)", `{"failed":"sled_expunged"}`},
		{failedSledOff, "failed(sled_off)", `{"failed":"sled_off"}`},
		{vmmstate.Destroyed, "destroyed", `"destroyed"`},
		{vmmstate.SagaUnwound, "saga_unwound", `"saga_unwound"`},
	}
	if len(tests) != len(allStates) {
		t.Fatalf("table has %d rows, want %d", len(tests), len(allStates))
	}
	for _, tt := range tests {
		s := tt.s
		if got := s.String(); got != tt.text {
			t.Errorf("String() = %q, want %q", got, tt.text)
		}
		if b, err := s.MarshalText(); err != nil || string(b) != tt.text {
			t.Errorf("%v.MarshalText() = %q, %v", s, b, err)
		}
		if b, err := s.AppendText([]byte("s=")); err != nil || string(b) != "s="+tt.text {
			t.Errorf("%v.AppendText() = %q, %v", s, b, err)
		}
		if p, err := vmmstate.ParseState(tt.text); err != nil || p != s {
			t.Errorf("ParseState(%q) = %v, %v", tt.text, p, err)
		}
		var u vmmstate.State
		if err := u.UnmarshalText([]byte(tt.text)); err != nil || u != s {
			t.Errorf("UnmarshalText(%q) = %v, %v", tt.text, u, err)
		}
		if b, err := s.MarshalJSON(); err != nil || string(b) != tt.json {
			t.Errorf("%v.MarshalJSON() = %s, %v; want %s", s, b, err, tt.json)
		}
		if b, err := json.Marshal(s); err != nil || string(b) != tt.json {
			t.Errorf("json.Marshal(%v) = %s, %v; want %s", s, b, err, tt.json)
		}
		var j vmmstate.State
		if err := json.Unmarshal([]byte(tt.json), &j); err != nil || j != s {
			t.Errorf("json.Unmarshal(%s) = %v, %v", tt.json, j, err)
		}
		// Whitespace inside the JSON value is allowed, as in any JSON.
		spaced := bytes.ReplaceAll([]byte(tt.json), []byte(":"), []byte(" : "))
		var js vmmstate.State
		if err := json.Unmarshal(spaced, &js); err != nil || js != s {
			t.Errorf("json.Unmarshal(%s) = %v, %v", spaced, js, err)
		}
	}
}

func TestStateDecodeRejects(t *testing.T) {
	texts := []string{
		"", "failed", "Failed(sled_off)", "failed()", "failed(sled_off", "failed(SLED_OFF)",
		"failed(unknown)", "failed(sled_off) ", "failed (sled_off)", "failed(failed(sled_off))",
		"running(sled_off)", "Running", "saga-unwound", `"running"`, "vmmstate.State(0)",
	}
	for _, in := range texts {
		if _, err := vmmstate.ParseState(in); !errors.Is(err, vmmstate.ErrUnknown) {
			t.Errorf("ParseState(%q): err = %v, want ErrUnknown", in, err)
		}
		s := vmmstate.Running
		if err := s.UnmarshalText([]byte(in)); err == nil || s != vmmstate.Running {
			t.Errorf("UnmarshalText(%q) = %v, %v; want an error and no change", in, s, err)
		}
	}
	// A bare "failed" says which form is accepted instead (D4).
	if _, err := vmmstate.ParseState("failed"); err == nil || !bytes.Contains([]byte(err.Error()), []byte("failed(sled_off)")) {
		t.Errorf("ParseState(\"failed\") error %v does not list failed(reason)", err)
	}
	jsons := []string{
		``, `null`, `"failed"`, `"Running"`, `"unknown"`, `1`, `true`, `[]`, `["running"]`,
		`{}`, `{"failed":null}`, `{"failed":""}`, `{"failed":"unknown"}`, `{"failed":"SLED_OFF"}`,
		`{"failed":1}`, `{"Failed":"sled_off"}`, `{"running":"sled_off"}`,
		`{"failed":"sled_off","x":1}`, `{"failed":"sled_off"`, `"running`, `"failed(sled_off)"`,
		// Not JSON: whitespace JSON does not have (found by FuzzStateJSON).
		"\"running\"\v", "\f\"running\"", "\u00a0\"running\"", "{\"failed\":\"sled_off\"}\u0085",
		// D3: a key twice is ambiguous, as in every strict decoder here.
		`{"failed":"sled_off","failed":"no_such_instance"}`, `{"failed":"sled_off","failed":"sled_off"}`,
	}
	for _, in := range jsons {
		s := vmmstate.Running
		if err := s.UnmarshalJSON([]byte(in)); !errors.Is(err, vmmstate.ErrUnknown) || s != vmmstate.Running {
			t.Errorf("UnmarshalJSON(%s) = %v, %v; want ErrUnknown and no change", in, s, err)
		}
	}
	if err := new(vmmstate.State).UnmarshalJSON([]byte(`"nope"`)); !errors.Is(err, vmmstate.ErrUnknown) ||
		!bytes.Contains([]byte(err.Error()), []byte(`{"failed":"sled_off"}`)) {
		t.Errorf(`UnmarshalJSON("nope") error %v: want ErrUnknown listing the JSON forms`, err)
	}
}

// An invalid State prints as "vmmstate.State(n)" and every encoder returns
// an error for it, never a panic or a made-up label (D2, D3).
func TestInvalidStateEncoders(t *testing.T) {
	for _, b := range invalidBytes {
		s := vmmstate.State(b)
		if s.IsValid() {
			t.Fatalf("State(%d) is valid", b)
		}
		if got, want := s.String(), "vmmstate.State("+strconv.Itoa(int(b))+")"; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if _, err := s.MarshalText(); !errors.Is(err, vmmstate.ErrUnknown) {
			t.Errorf("%v.MarshalText(): %v", s, err)
		}
		if out, err := s.AppendText([]byte("x")); !errors.Is(err, vmmstate.ErrUnknown) || string(out) != "x" {
			t.Errorf("%v.AppendText() = %q, %v", s, out, err)
		}
		if _, err := s.MarshalJSON(); !errors.Is(err, vmmstate.ErrUnknown) {
			t.Errorf("%v.MarshalJSON(): %v", s, err)
		}
		if _, err := json.Marshal(s); err == nil {
			t.Errorf("json.Marshal(%v): no error", s)
		}
	}
}

func TestOutcomeStrings(t *testing.T) {
	want := map[vmmstate.Outcome]string{vmmstate.Applied: "applied", vmmstate.Unchanged: "unchanged", vmmstate.Stale: "stale"}
	for o, w := range want {
		if !o.IsValid() || o.String() != w {
			t.Errorf("Outcome %d: IsValid %v, String %q; want %q", uint8(o), o.IsValid(), o.String(), w)
		}
		if b, err := o.MarshalText(); err != nil || string(b) != w {
			t.Errorf("%v.MarshalText() = %q, %v", o, b, err)
		}
	}
	for _, o := range []vmmstate.Outcome{0, 4, 255} {
		if o.IsValid() || o.String() != "vmmstate.Outcome("+strconv.Itoa(int(o))+")" {
			t.Errorf("Outcome(%d): IsValid %v, String %q", uint8(o), o.IsValid(), o.String())
		}
		if _, err := o.MarshalText(); !errors.Is(err, vmmstate.ErrUnknown) {
			t.Errorf("Outcome(%d).MarshalText(): %v", uint8(o), err)
		}
	}
}

// TestStateIsNoColumn: a domain state is two database columns, state and
// failure_reason (D9, §6.3), written and read through Row; State itself is
// neither an sql.Scanner nor a driver.Valuer, so it cannot be written into
// one column as "failed(sled_off)", which no database enum holds. Kind,
// the state column, is both.
func TestStateIsNoColumn(t *testing.T) {
	var s any = new(vmmstate.State)
	if _, ok := s.(sql.Scanner); ok {
		t.Error("*State is an sql.Scanner")
	}
	if _, ok := any(vmmstate.Running).(driver.Valuer); ok {
		t.Error("State is a driver.Valuer")
	}
	if _, ok := any(new(vmmstate.Kind)).(sql.Scanner); !ok {
		t.Error("*Kind is not an sql.Scanner")
	}
	if _, ok := any(vmmstate.KindRunning).(driver.Valuer); !ok {
		t.Error("Kind is not a driver.Valuer")
	}
}

// TestKindFoldsASCIICaseOnly: the state column's parser folds ASCII case,
// as Omicron's database enum parser does, and never folds by Unicode rules
// (D24): "ſ" (long s) and "K" (Kelvin sign) fold to s and k under Unicode.
func TestKindFoldsASCIICaseOnly(t *testing.T) {
	for in, want := range map[string]vmmstate.Kind{"RUNNING": vmmstate.KindRunning, "Saga_Unwound": vmmstate.KindSagaUnwound, "dEsTrOyEd": vmmstate.KindDestroyed} {
		if k, err := vmmstate.ParseKind(in); err != nil || k != want {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", in, k, err, want)
		}
	}
	for _, in := range []string{"deſtroyed", "ſtopped", "ſaga_unwound", "running\u212a"} {
		if k, err := vmmstate.ParseKind(in); !errors.Is(err, vmmstate.ErrUnknown) {
			t.Errorf("ParseKind(%q) = %v, %v; want ErrUnknown", in, k, err)
		}
	}
	// The domain state's own forms (text, JSON) are spelt exactly.
	if _, err := vmmstate.ParseState("RUNNING"); err == nil {
		t.Error(`ParseState("RUNNING") accepted`)
	}
}

// foldsCase names the enums whose parsers fold ASCII case, where Omicron's
// do (D24): the database's VMM state column.
func foldsCase(typ string) bool { return typ == "vmmstate.Kind" }

// TestGoStrings: %#v shows states, reasons and ids as a reader writes them.
func TestGoStrings(t *testing.T) {
	id := vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000a"))
	got := fmt.Sprintf("%#v %#v %#v %#v", vmmstate.Running, vmmstate.Failed(failure.SledOff), id, vmmstate.State(0))
	want := `vmmstate.State("running") vmmstate.Failed(failure.Reason("sled_off")) vmmstate.ID("2c000000-0000-4000-8000-00000000000a") vmmstate.State(0)`
	if got != want {
		t.Errorf("%s\nwant %s", got, want)
	}
}

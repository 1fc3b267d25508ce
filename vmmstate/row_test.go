package vmmstate_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

func null() sql.Null[failure.Reason] { return sql.Null[failure.Reason]{} }

func reason(r failure.Reason) sql.Null[failure.Reason] {
	return sql.Null[failure.Reason]{V: r, Valid: true}
}

// D8, §6.3: domain → row for every state, written out. A failed state
// writes its reason; every other state writes NULL.
func TestRuntimeRow(t *testing.T) {
	tests := []struct {
		s      vmmstate.State
		kind   vmmstate.Kind
		reason sql.Null[failure.Reason]
	}{
		{vmmstate.Creating, vmmstate.KindCreating, null()},
		{vmmstate.Starting, vmmstate.KindStarting, null()},
		{vmmstate.Running, vmmstate.KindRunning, null()},
		{vmmstate.Stopping, vmmstate.KindStopping, null()},
		{vmmstate.Stopped, vmmstate.KindStopped, null()},
		{vmmstate.Rebooting, vmmstate.KindRebooting, null()},
		{vmmstate.Migrating, vmmstate.KindMigrating, null()},
		{failedPrehistoric, vmmstate.KindFailed, reason(failure.Prehistoric)},
		{failedFromSledAgent, vmmstate.KindFailed, reason(failure.FromSledAgent)},
		{failedNoSuchInstance, vmmstate.KindFailed, reason(failure.NoSuchInstance)},
		{failedSledExpunged, vmmstate.KindFailed, reason(failure.SledExpunged)},
		{failedSledOff, vmmstate.KindFailed, reason(failure.SledOff)},
		{vmmstate.Destroyed, vmmstate.KindDestroyed, null()},
		{vmmstate.SagaUnwound, vmmstate.KindSagaUnwound, null()},
	}
	if len(tests) != len(allStates) {
		t.Fatalf("table has %d rows, want %d", len(tests), len(allStates))
	}
	g := generation.Of(12)
	for _, tt := range tests {
		r := vmmstate.Runtime{State: tt.s, Generation: g, TimeUpdated: t0}
		want := vmmstate.Row{State: tt.kind, FailureReason: tt.reason, StateGeneration: g, TimeStateUpdated: t0}
		row := r.Row()
		if row != want {
			t.Errorf("%v.Row() = %+v, want %+v", tt.s, row, want)
		}
		// Both readers give the runtime back: domain → row → domain is the
		// identity.
		for name, read := range map[string]func(vmmstate.Row) (vmmstate.Runtime, error){
			"Runtime": vmmstate.Row.Runtime, "LenientRuntime": vmmstate.Row.LenientRuntime,
		} {
			if got, err := read(row); err != nil || got != r {
				t.Errorf("%+v.%s() = %v, %v; want %v", row, name, got, err, r)
			}
		}
		// The column values a driver is handed: the DB strings and NULL.
		kv, err := row.State.Value()
		if err != nil || kv != tt.kind.String() {
			t.Errorf("%v: state column = %#v, %v", tt.s, kv, err)
		}
		rv, err := row.FailureReason.Value()
		if wantRV := any(nil); tt.reason.Valid {
			if err != nil || rv != tt.reason.V.String() {
				t.Errorf("%v: failure_reason column = %#v, %v", tt.s, rv, err)
			}
		} else if err != nil || rv != wantRV {
			t.Errorf("%v: failure_reason column = %#v, %v; want NULL", tt.s, rv, err)
		}
	}
	// An invalid state writes an invalid kind, which no reader accepts.
	row := vmmstate.Runtime{State: 0x68, Generation: g}.Row()
	if row.State.IsValid() || row.FailureReason.Valid {
		t.Errorf("Row of an invalid state = %+v", row)
	}
}

// Reading rows, strictly and leniently (D8, §6.3, §5.5): every case of the
// rule, written out. An empty want means the read fails with a
// *RecordError naming field.
func TestRowRead(t *testing.T) {
	type result struct {
		state vmmstate.State // 0: an error naming field
		field string
	}
	tests := []struct {
		name             string
		kind             vmmstate.Kind
		reason           sql.Null[failure.Reason]
		strict, lenient  result
		strictRuleSubstr string
	}{
		{"failed+NULL", vmmstate.KindFailed, null(),
			result{0, "failure_reason"}, result{failedPrehistoric, ""}, "CHECK failure_reason_iff_failed"},
		{"failed+sled_off", vmmstate.KindFailed, reason(failure.SledOff),
			result{failedSledOff, ""}, result{failedSledOff, ""}, ""},
		{"failed+invalid reason 0", vmmstate.KindFailed, reason(0),
			result{0, "failure_reason"}, result{0, "failure_reason"}, "vmm_failure_reason"},
		{"failed+invalid reason 6", vmmstate.KindFailed, reason(6),
			result{0, "failure_reason"}, result{0, "failure_reason"}, "vmm_failure_reason"},
		{"failed+NULL with garbage in V", vmmstate.KindFailed, sql.Null[failure.Reason]{V: failure.SledOff},
			result{0, "failure_reason"}, result{failedPrehistoric, ""}, "CHECK failure_reason_iff_failed"},
		{"running+no_such_instance", vmmstate.KindRunning, reason(failure.NoSuchInstance),
			result{0, "failure_reason"}, result{vmmstate.Running, ""}, "CHECK failure_reason_iff_failed"},
		{"destroyed+prehistoric", vmmstate.KindDestroyed, reason(failure.Prehistoric),
			result{0, "failure_reason"}, result{vmmstate.Destroyed, ""}, "CHECK failure_reason_iff_failed"},
		{"saga_unwound+sled_off", vmmstate.KindSagaUnwound, reason(failure.SledOff),
			result{0, "failure_reason"}, result{vmmstate.SagaUnwound, ""}, "CHECK failure_reason_iff_failed"},
		{"running+invalid reason 9", vmmstate.KindRunning, reason(9),
			result{0, "failure_reason"}, result{vmmstate.Running, ""}, "CHECK failure_reason_iff_failed"},
		{"running+NULL with garbage in V", vmmstate.KindRunning, sql.Null[failure.Reason]{V: 9},
			result{vmmstate.Running, ""}, result{vmmstate.Running, ""}, ""},
		{"kind 0", 0, null(), result{0, "state"}, result{0, "state"}, "vmm_state"},
		{"kind 0+reason", 0, reason(failure.SledOff), result{0, "state"}, result{0, "state"}, "vmm_state"},
		{"kind 11", 11, null(), result{0, "state"}, result{0, "state"}, "vmm_state"},
		{"kind 255+reason", 255, reason(failure.SledOff), result{0, "state"}, result{0, "state"}, "vmm_state"},
	}
	// Every non-failed kind with a reason: strict refuses, lenient ignores.
	for _, k := range vmmstate.AllKinds() {
		if k == vmmstate.KindFailed {
			continue
		}
		for _, r := range failure.AllReasons() {
			tests = append(tests, struct {
				name             string
				kind             vmmstate.Kind
				reason           sql.Null[failure.Reason]
				strict, lenient  result
				strictRuleSubstr string
			}{k.String() + "+" + r.String(), k, reason(r), result{0, "failure_reason"}, result{vmmstate.State(k), ""}, "(state is " + k.String() + ")"})
		}
	}
	g := generation.Of(5)
	for _, tt := range tests {
		row := vmmstate.Row{State: tt.kind, FailureReason: tt.reason, StateGeneration: g, TimeStateUpdated: t0}
		for _, mode := range []struct {
			name string
			read func(vmmstate.Row) (vmmstate.Runtime, error)
			want result
		}{
			{"strict", vmmstate.Row.Runtime, tt.strict},
			{"lenient", vmmstate.Row.LenientRuntime, tt.lenient},
		} {
			got, err := mode.read(row)
			if mode.want.state != 0 {
				want := vmmstate.Runtime{State: mode.want.state, Generation: g, TimeUpdated: t0}
				if err != nil || got != want {
					t.Errorf("%s %s: %v, %v; want %v", mode.name, tt.name, got, err, want)
				}
				continue
			}
			var re *vmmstate.RecordError
			if !errors.As(err, &re) || re.Field != mode.want.field {
				t.Errorf("%s %s: err = %v; want a *RecordError on %q", mode.name, tt.name, err, mode.want.field)
				continue
			}
			if got != (vmmstate.Runtime{}) {
				t.Errorf("%s %s: returned %v with the error, want the zero Runtime", mode.name, tt.name, got)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) != (s == vmmstate.ErrInvalidRecord) {
					t.Errorf("%s %s: errors.Is(err, %q) = %v", mode.name, tt.name, s, !(s == vmmstate.ErrInvalidRecord))
				}
			}
			if mode.name == "strict" && !strings.Contains(re.Rule, tt.strictRuleSubstr) {
				t.Errorf("%s %s: rule %q does not mention %q", mode.name, tt.name, re.Rule, tt.strictRuleSubstr)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "vmmstate: invalid record: "+re.Field+" = "+re.Value) || !strings.Contains(msg, re.Rule) {
				t.Errorf("%s %s: message %q does not name the field, value and rule", mode.name, tt.name, msg)
			}
		}
	}
}

// A row whose state is not a kind lists the ten accepted strings (D3).
func TestRowBadKindListsKinds(t *testing.T) {
	_, err := vmmstate.Row{State: 11}.Runtime()
	var re *vmmstate.RecordError
	if !errors.As(err, &re) || re.Value != "vmmstate.Kind(11)" ||
		!strings.Contains(re.Rule, "creating, starting, running, stopping, stopped, rebooting, migrating, failed, destroyed, saga_unwound") {
		t.Errorf("Row{State: 11}.Runtime() = %#v", err)
	}
	_, err = vmmstate.Row{State: vmmstate.KindFailed}.Runtime()
	if !errors.As(err, &re) || re.Value != "NULL" {
		t.Errorf("failed+NULL: %#v", err)
	}
}

// Scanning columns as a driver returns them straight into a Row, then
// reading it: the path a datastore takes.
func TestRowScan(t *testing.T) {
	tests := []struct {
		state, reason any // driver column values
		gen           any
		want          vmmstate.State // 0: the strict read fails
	}{
		{"running", nil, int64(3), vmmstate.Running},
		{[]byte("failed"), "sled_expunged", int64(3), failedSledExpunged},
		{"failed", []byte("from_sled_agent"), []byte("3"), failedFromSledAgent},
		{"saga_unwound", nil, "3", vmmstate.SagaUnwound},
		{"failed", nil, int64(3), 0},
		{"stopped", "sled_off", int64(3), 0},
	}
	for _, tt := range tests {
		var row vmmstate.Row
		if err := row.State.Scan(tt.state); err != nil {
			t.Fatalf("scan state %#v: %v", tt.state, err)
		}
		if err := row.FailureReason.Scan(tt.reason); err != nil {
			t.Fatalf("scan failure_reason %#v: %v", tt.reason, err)
		}
		if err := row.StateGeneration.Scan(tt.gen); err != nil {
			t.Fatalf("scan state_generation %#v: %v", tt.gen, err)
		}
		row.TimeStateUpdated = t0
		got, err := row.Runtime()
		if tt.want == 0 {
			if !errors.Is(err, vmmstate.ErrInvalidRecord) {
				t.Errorf("%#v/%#v: err = %v, want ErrInvalidRecord", tt.state, tt.reason, err)
			}
			continue
		}
		if want := (vmmstate.Runtime{State: tt.want, Generation: generation.Of(3), TimeUpdated: t0}); err != nil || got != want {
			t.Errorf("%#v/%#v: %v, %v; want %v", tt.state, tt.reason, got, err, want)
		}
	}
	// A column value that is not a kind fails at Scan, with ErrUnknown.
	var row vmmstate.Row
	if err := row.State.Scan("paused"); !errors.Is(err, vmmstate.ErrUnknown) || row.State != 0 {
		t.Errorf("Scan(\"paused\") = %v, %v", row.State, err)
	}
	if err := row.FailureReason.Scan("unknown"); !errors.Is(err, vmmstate.ErrUnknown) {
		t.Errorf("failure_reason Scan(\"unknown\") = %+v, %v", row.FailureReason, err)
	}
	// sql.Null.Scan sets Valid before converting, so a caller who ignores
	// the error holds a non-NULL invalid reason: neither reader accepts it.
	row.State = vmmstate.KindFailed
	if _, err := row.Runtime(); !errors.Is(err, vmmstate.ErrInvalidRecord) {
		t.Errorf("failed row after a failed reason Scan: strict read err = %v", err)
	}
	if _, err := row.LenientRuntime(); !errors.Is(err, vmmstate.ErrInvalidRecord) {
		t.Errorf("failed row after a failed reason Scan: lenient read err = %v", err)
	}
}

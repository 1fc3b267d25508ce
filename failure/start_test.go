package failure_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
)

var (
	causeNames = []string{"insufficient_capacity", "affinity_unsatisfiable", "anti_affinity_unsatisfiable",
		"local_storage_unavailable", "sled_agent_error", "vmm_gone", "internal"}
	startReasonNames = []string{"user", "auto_start", "auto_restart"}
)

func TestCauseEnum(t *testing.T) {
	checkEnum(t, "failure.Cause", failure.AllCauses(), causeNames, failure.ParseCause)
}

func TestStartReasonEnum(t *testing.T) {
	checkEnum(t, "failure.StartReason", failure.AllStartReasons(), startReasonNames, failure.ParseStartReason)
}

// TestCauseTransience walks the transience table (D13, D15): only
// an unsatisfiable constraint system is permanent.
func TestCauseTransience(t *testing.T) {
	want := map[failure.Cause]bool{
		failure.CauseInsufficientCapacity:      true,
		failure.CauseAffinityUnsatisfiable:     false, // D15: permanent until a user acts
		failure.CauseAntiAffinityUnsatisfiable: false, // D15: permanent until a user acts
		failure.CauseLocalStorageUnavailable:   true,
		failure.CauseSledAgentError:            true,
		failure.CauseVMMGone:                   true,
		failure.CauseInternal:                  true,
	}
	all := failure.AllCauses()
	if len(want) != len(all) {
		t.Fatalf("table has %d rows for %d causes", len(want), len(all))
	}
	for _, c := range all {
		w, ok := want[c]
		if !ok {
			t.Errorf("no row for cause %v", c)
			continue
		}
		if c.Transient() != w {
			t.Errorf("%v.Transient() = %v; want %v", c, c.Transient(), w)
		}
		if c.Description() == "" {
			t.Errorf("%v has no description", c)
		}
	}
	for _, bad := range []failure.Cause{0, 8, 255} {
		if bad.Transient() || bad.Description() != "" {
			t.Errorf("invalid %v: Transient %v, Description %q; want false, \"\"", bad, bad.Transient(), bad.Description())
		}
	}
}

var failedAt = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func TestNewStartFailure(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	for _, c := range failure.AllCauses() {
		for _, r := range failure.AllStartReasons() {
			now := failedAt.In(zone)
			f := failure.NewStartFailure(c, r, now)
			want := failure.StartFailure{Cause: c, Transient: c.Transient(), Reason: r, Time: failedAt}
			if f != want {
				t.Errorf("NewStartFailure(%v, %v) = %+v; want %+v (time in UTC)", c, r, f, want)
			}
			if err := f.Validate(); err != nil {
				t.Errorf("NewStartFailure(%v, %v).Validate() = %v", c, r, err)
			}
		}
	}
	// The monotonic reading is dropped so that the value compares equal to
	// itself after a round trip.
	mono := time.Now()
	if f := failure.NewStartFailure(failure.CauseInternal, failure.StartReasonUser, mono); f.Time != mono.UTC().Round(0) || f.Time.String() != mono.UTC().Round(0).String() {
		t.Errorf("NewStartFailure kept %v; want the wall-clock time in UTC", f.Time)
	}
}

func TestStartFailureMessage(t *testing.T) {
	rows := []struct {
		f    failure.StartFailure
		want string
	}{
		{failure.NewStartFailure(failure.CauseInsufficientCapacity, failure.StartReasonAutoRestart, failedAt),
			"automatic restart failed: no sled has enough capacity (transient; a retry may succeed)"},
		{failure.NewStartFailure(failure.CauseAntiAffinityUnsatisfiable, failure.StartReasonUser, failedAt),
			"start failed: its anti-affinity rules cannot be satisfied (permanent; not retried until a user acts)"},
		{failure.NewStartFailure(failure.CauseVMMGone, failure.StartReasonAutoStart, failedAt),
			"automatic start after create failed: its VMM disappeared from the sled while starting (transient; a retry may succeed)"},
		{failure.StartFailure{Cause: failure.CauseInsufficientCapacity, Transient: false, Reason: failure.StartReasonUser, Time: failedAt},
			"start failed: no sled has enough capacity (permanent; not retried until a user acts)"},
		{failure.StartFailure{}, "start failed: failure.Cause(0) (permanent; not retried until a user acts)"},
		// One field valid and the other not: still a sentence, naming the bad one.
		{failure.StartFailure{Cause: 0, Reason: failure.StartReasonUser},
			"start failed: failure.Cause(0) (permanent; not retried until a user acts)"},
		{failure.StartFailure{Cause: 200, Reason: failure.StartReasonUser, Transient: true},
			"start failed: failure.Cause(200) (transient; a retry may succeed)"},
	}
	for _, row := range rows {
		if got := row.f.Message(); got != row.want {
			t.Errorf("%+v.Message() =\n\t%q; want\n\t%q", row.f, got, row.want)
		}
	}
	// Every combination says something different.
	seen := map[string]bool{}
	for _, c := range failure.AllCauses() {
		for _, r := range failure.AllStartReasons() {
			for _, transient := range []bool{true, false} {
				m := failure.StartFailure{Cause: c, Transient: transient, Reason: r, Time: failedAt}.Message()
				if seen[m] {
					t.Errorf("message %q is given to two different start failures", m)
				}
				seen[m] = true
			}
		}
	}
}

func TestStartFailureJSON(t *testing.T) {
	rows := []struct {
		f    failure.StartFailure
		want string
	}{
		{failure.NewStartFailure(failure.CauseInsufficientCapacity, failure.StartReasonAutoRestart, failedAt),
			`{"cause":"insufficient_capacity","transient":true,"reason":"auto_restart","time":"2026-11-21T10:00:00Z"}`},
		{failure.NewStartFailure(failure.CauseAffinityUnsatisfiable, failure.StartReasonUser, failedAt.Add(1500*time.Millisecond)),
			`{"cause":"affinity_unsatisfiable","transient":false,"reason":"user","time":"2026-11-21T10:00:01.5Z"}`},
		// An offset is written in UTC.
		{failure.StartFailure{Cause: failure.CauseInternal, Transient: true, Reason: failure.StartReasonAutoStart, Time: failedAt.In(time.FixedZone("", -7*3600))},
			`{"cause":"internal","transient":true,"reason":"auto_start","time":"2026-11-21T10:00:00Z"}`},
	}
	for _, row := range rows {
		got, err := json.Marshal(row.f)
		if err != nil || string(got) != row.want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", row.f, got, err, row.want)
			continue
		}
		var back failure.StartFailure
		if err := json.Unmarshal(got, &back); err != nil || !back.Time.Equal(row.f.Time) || back.Time.Location() != time.UTC ||
			back.Cause != row.f.Cause || back.Reason != row.f.Reason || back.Transient != row.f.Transient {
			t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", got, back, err, row.f)
		}
	}
	// The document form of docs/cli.md reads as a nullable field.
	var doc struct {
		StartFailure *failure.StartFailure `json:"start_failure"`
	}
	if err := json.Unmarshal([]byte(`{"start_failure": null}`), &doc); err != nil || doc.StartFailure != nil {
		t.Errorf("null start_failure: %+v, %v; want nil", doc.StartFailure, err)
	}
	if err := json.Unmarshal([]byte(`{"start_failure": {"time": "2026-11-21T11:00:00+01:00", "reason": "user", "transient": false, "cause": "vmm_gone"}}`), &doc); err != nil ||
		doc.StartFailure == nil || *doc.StartFailure != (failure.StartFailure{Cause: failure.CauseVMMGone, Reason: failure.StartReasonUser, Time: failedAt}) {
		t.Errorf("start_failure in another key order and zone: %+v, %v", doc.StartFailure, err)
	}
}

func TestStartFailureUnmarshalJSONRejects(t *testing.T) {
	const (
		cause     = `"cause":"internal"`
		transient = `"transient":true`
		reason    = `"reason":"user"`
		tm        = `"time":"2026-11-21T10:00:00Z"`
	)
	obj := func(kv ...string) string { return "{" + strings.Join(kv, ",") + "}" }
	rows := []struct {
		name, in, field string
		unknown         bool // the error also matches ErrUnknown (an unknown enum string)
	}{
		{"empty", ``, "", false},
		{"null", `null`, "", false},
		{"array", `[]`, "", false},
		{"string", `"internal"`, "", false},
		{"unterminated", `{` + cause, "", false},
		{"trailing comma", obj(cause, transient, reason, tm+","), "", false},
		{"trailing data", obj(cause, transient, reason, tm) + ` {}`, "", false},
		{"trailing garbage", obj(cause, transient, reason, tm) + `x`, "", false},
		{"unknown key", obj(cause, transient, reason, tm, `"extra":1`), "extra", false},
		{"key in another case", obj(`"Cause":"internal"`, transient, reason, tm), "Cause", false},
		{"duplicate key", obj(cause, transient, reason, tm, `"cause":"vmm_gone"`), "cause", false},
		{"missing cause", obj(transient, reason, tm), "cause", false},
		{"missing transient", obj(cause, reason, tm), "transient", false},
		{"missing reason", obj(cause, transient, tm), "reason", false},
		{"missing time", obj(cause, transient, reason), "time", false},
		{"empty object", `{}`, "cause", false},
		{"cause null", obj(`"cause":null`, transient, reason, tm), "cause", false},
		{"cause number", obj(`"cause":1`, transient, reason, tm), "cause", false},
		{"cause unknown", obj(`"cause":"capacity"`, transient, reason, tm), "cause", true},
		{"cause in another case", obj(`"cause":"INTERNAL"`, transient, reason, tm), "cause", true},
		{"transient string", obj(cause, `"transient":"true"`, reason, tm), "transient", false},
		{"transient null", obj(cause, `"transient":null`, reason, tm), "transient", false},
		{"transient number", obj(cause, `"transient":1`, reason, tm), "transient", false},
		{"reason unknown", obj(cause, transient, `"reason":"auto"`, tm), "reason", true},
		{"reason array", obj(cause, transient, `"reason":["user"]`, tm), "reason", false},
		{"time null", obj(cause, transient, reason, `"time":null`), "time", false},
		{"time number", obj(cause, transient, reason, `"time":1795000000`), "time", false},
		{"time not RFC 3339", obj(cause, transient, reason, `"time":"2026-11-21 10:00:00"`), "time", false},
		{"time without zone", obj(cause, transient, reason, `"time":"2026-11-21T10:00:00"`), "time", false},
		{"zero time", obj(cause, transient, reason, `"time":"0001-01-01T00:00:00Z"`), "time", false},
		{"year 0", obj(cause, transient, reason, `"time":"0000-06-01T00:00:00Z"`), "time", false},
	}
	kept := failure.NewStartFailure(failure.CauseSledAgentError, failure.StartReasonAutoRestart, failedAt)
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			f := kept
			err := f.UnmarshalJSON([]byte(row.in))
			if f != kept {
				t.Errorf("UnmarshalJSON(%s) changed the receiver to %+v", row.in, f)
			}
			checkStartFailureError(t, err, row.field)
			if errors.Is(err, failure.ErrUnknown) != row.unknown {
				t.Errorf("UnmarshalJSON(%s) = %v; errors.Is(ErrUnknown) = %v, want %v", row.in, err, !row.unknown, row.unknown)
			}
		})
	}
}

func checkStartFailureError(t *testing.T, err error, field string) {
	t.Helper()
	if !errors.Is(err, failure.ErrInvalidStartFailure) {
		t.Fatalf("error %v does not match ErrInvalidStartFailure", err)
	}
	var se *failure.StartFailureError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *StartFailureError", err)
	}
	if se.Field != field || se.Accepted == "" || se.Value == "" {
		t.Errorf("StartFailureError = %+v; want field %q with its value and the accepted values", *se, field)
	}
	if msg := err.Error(); !strings.Contains(msg, se.Accepted) || strings.Contains(msg, "\n") {
		t.Errorf("message %q: want one line listing the accepted values", msg)
	}
}

func TestStartFailureAcceptedValuesAreListed(t *testing.T) {
	rows := []struct{ in, want string }{
		{`{"cause":"x","transient":true,"reason":"user","time":"2026-11-21T10:00:00Z"}`, strings.Join(causeNames, ", ")},
		{`{"cause":"internal","transient":true,"reason":"x","time":"2026-11-21T10:00:00Z"}`, strings.Join(startReasonNames, ", ")},
		{`{"cause":"internal","transient":"x","reason":"user","time":"2026-11-21T10:00:00Z"}`, "true, false"},
		{`{"cause":"internal","transient":true,"reason":"user","x":1}`, "cause, transient, reason, time"},
	}
	for _, row := range rows {
		var f failure.StartFailure
		var se *failure.StartFailureError
		if err := json.Unmarshal([]byte(row.in), &f); !errors.As(err, &se) || se.Accepted != row.want {
			t.Errorf("json.Unmarshal(%s) = %v; want accepted %q", row.in, err, row.want)
		}
	}
}

func TestStartFailureValidate(t *testing.T) {
	valid := failure.NewStartFailure(failure.CauseInternal, failure.StartReasonUser, failedAt)
	rows := []struct {
		name  string
		edit  func(*failure.StartFailure)
		field string
	}{
		{"zero cause", func(f *failure.StartFailure) { f.Cause = 0 }, "cause"},
		{"cause out of range", func(f *failure.StartFailure) { f.Cause = 8 }, "cause"},
		{"zero reason", func(f *failure.StartFailure) { f.Reason = 0 }, "reason"},
		{"reason out of range", func(f *failure.StartFailure) { f.Reason = 4 }, "reason"},
		{"zero time", func(f *failure.StartFailure) { f.Time = time.Time{} }, "time"},
		{"year 10000", func(f *failure.StartFailure) { f.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "time"},
		{"year 0", func(f *failure.StartFailure) { f.Time = time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC) }, "time"},
		{"year 10000 once in UTC", func(f *failure.StartFailure) {
			f.Time = time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("", -2*3600))
		}, "time"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			f := valid
			row.edit(&f)
			checkStartFailureError(t, f.Validate(), row.field)
			if b, err := json.Marshal(f); err == nil || !errors.Is(err, failure.ErrInvalidStartFailure) {
				t.Errorf("json.Marshal(%+v) = %s, %v; want ErrInvalidStartFailure", f, b, err)
			}
		})
	}
	// The boundary years themselves are valid: RFC 3339 writes years 0001
	// to 9999, and only the zero instant of year 1 means "unset".
	for _, at := range []time.Time{
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		f := valid
		f.Time = at
		if err := f.Validate(); err != nil {
			t.Errorf("time %v: %v; want valid (years 0001..9999 round-trip)", at, err)
		}
	}
	// Transient is the caller's to override: the table only gives the default.
	permanent := valid
	permanent.Transient = !valid.Transient
	if err := permanent.Validate(); err != nil {
		t.Errorf("overridden transience: %v; want valid", err)
	}
	if err := valid.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", valid, err)
	}
}

func startFailureGen() *rapid.Generator[failure.StartFailure] {
	return rapid.Custom(func(t *rapid.T) failure.StartFailure {
		c := rapid.SampledFrom(failure.AllCauses()).Draw(t, "cause")
		r := rapid.SampledFrom(failure.AllStartReasons()).Draw(t, "reason")
		// Any instant with a four-digit UTC year, in any whole-minute zone.
		sec := rapid.Int64Range(time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC).Unix(), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()).Draw(t, "sec")
		nsec := rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(0, 999_999_999)).Draw(t, "nsec")
		zone := time.FixedZone("", 60*rapid.IntRange(-23*60-59, 23*60+59).Draw(t, "offset minutes"))
		f := failure.NewStartFailure(c, r, time.Unix(sec, nsec).In(zone))
		f.Transient = rapid.Bool().Draw(t, "transient")
		return f
	})
}

// TestStartFailureRoundTrip: every valid start failure survives JSON
// unchanged (==), and re-marshals byte-identically.
func TestStartFailureRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := startFailureGen().Draw(t, "f")
		if err := f.Validate(); err != nil {
			t.Fatalf("Validate(%+v) = %v", f, err)
		}
		b1, err := json.Marshal(f)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v", f, err)
		}
		var back failure.StartFailure
		if err := json.Unmarshal(b1, &back); err != nil || back != f {
			t.Fatalf("json.Unmarshal(%s) = %+v, %v; want %+v", b1, back, err, f)
		}
		if b2, err := json.Marshal(back); err != nil || string(b2) != string(b1) {
			t.Fatalf("re-marshal gave %s, %v; want %s", b2, err, b1)
		}
	})
}

func FuzzStartFailureUnmarshalJSON(f *testing.F) {
	f.Add([]byte(`{"cause":"insufficient_capacity","transient":true,"reason":"auto_restart","time":"2026-11-21T10:00:00Z"}`))
	f.Add([]byte(`{"time":"2026-11-21T11:00:00.123456789+01:00","reason":"user","transient":false,"cause":"vmm_gone"}`))
	f.Add([]byte(` { "cause" : "internal" , "transient" : false , "reason" : "auto_start" , "time" : "9999-12-31T23:59:59Z" } `))
	f.Add([]byte(`{"cause":"internal","transient":false,"reason":"auto_start","time":"2026-11-21T10:00:00Z","cause":"internal"}`))
	f.Add([]byte(`{"cause":"internal","transient":false}`))
	f.Add([]byte(`{"\u0063ause":"internal","transient":false,"reason":"user","time":"2026-11-21T10:00:00Z"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kept := failure.NewStartFailure(failure.CauseInternal, failure.StartReasonUser, failedAt)
		v := kept
		if err := v.UnmarshalJSON(b); err != nil {
			var se *failure.StartFailureError
			if v != kept || !errors.Is(err, failure.ErrInvalidStartFailure) || !errors.As(err, &se) || se.Accepted == "" {
				t.Fatalf("UnmarshalJSON(%q) = %v leaving %+v; want a *StartFailureError and the receiver unchanged", b, err, v)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("UnmarshalJSON accepted invalid JSON %q", b)
		}
		if err := v.Validate(); err != nil || v.Time.Location() != time.UTC {
			t.Fatalf("UnmarshalJSON(%q) = %+v, which is invalid (%v) or not in UTC", b, v, err)
		}
		m1, err := v.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON(%+v) = %v", v, err)
		}
		var again failure.StartFailure
		if err := again.UnmarshalJSON(m1); err != nil || again != v {
			t.Fatalf("UnmarshalJSON(%s) = %+v, %v; want %+v", m1, again, err, v)
		}
		if m2, err := again.MarshalJSON(); err != nil || string(m2) != string(m1) {
			t.Fatalf("marshal→unmarshal→marshal gave %s, %v; want %s", m2, err, m1)
		}
	})
}

func FuzzCauseText(f *testing.F)       { fuzzEnum[failure.Cause](f, causeNames) }
func FuzzStartReasonText(f *testing.F) { fuzzEnum[failure.StartReason](f, startReasonNames) }

func BenchmarkStartFailureMarshalJSON(b *testing.B) {
	f := failure.NewStartFailure(failure.CauseInsufficientCapacity, failure.StartReasonAutoRestart, failedAt)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStartFailureUnmarshalJSON(b *testing.B) {
	in := []byte(`{"cause":"insufficient_capacity","transient":true,"reason":"auto_restart","time":"2026-11-21T10:00:00Z"}`)
	b.ReportAllocs()
	for b.Loop() {
		var f failure.StartFailure
		if err := f.UnmarshalJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

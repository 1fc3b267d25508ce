package failure_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/wire"
)

// TestOutcomeJSON: the two forms vmlife classify reads, both ways, and the
// keys that are absent are not written.
func TestOutcomeJSON(t *testing.T) {
	for in, want := range map[string]failure.Outcome{
		`{"status": 404, "error_code": "NO_SUCH_INSTANCE"}`: {Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance},
		`{"status": 503}`:              {Status: 503},
		`{"communication": "timeout"}`: {Communication: failure.CommTimeout},
		`{"status": null, "communication": "connect", "error_code": null}`: {Communication: failure.CommConnect},
		`{}`: {},
	} {
		var got failure.Outcome
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", in, got, err, want)
			continue
		}
		b, err := json.Marshal(got)
		var back failure.Outcome
		if err != nil || json.Unmarshal(b, &back) != nil || back != got {
			t.Errorf("%+v: wrote %s, read back %+v (%v)", got, b, back, err)
		}
	}
	if b, _ := json.Marshal(failure.Outcome{Status: 500}); string(b) != `{"status":500}` {
		t.Errorf("absent keys written: %s", b)
	}
	if b, _ := json.Marshal(failure.Outcome{ErrorCode: "X", Communication: failure.CommTimeout}); string(b) != `{"error_code":"X","communication":"timeout"}` {
		t.Errorf("separators: %s", b)
	}
	if b, _ := json.Marshal(failure.Outcome{}); string(b) != `{}` {
		t.Errorf("empty outcome: %s", b)
	}
	for _, in := range []string{`{"status": "404"}`, `{"communication": "reset"}`, `{"status": 1.5}`, `{"colour": 1}`, `[]`, `{"status": 99999999999}`} {
		before := failure.Outcome{Status: 418}
		got := before
		err := got.UnmarshalJSON([]byte(in))
		var de *wire.DecodeError
		if !errors.As(err, &de) || got != before {
			t.Errorf("%s: %+v, %v; want a *wire.DecodeError and no change", in, got, err)
		}
	}
}

// TestPropOutcomeJSONRoundTrip: every outcome survives its JSON form.
func TestPropOutcomeJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		o := failure.Outcome{
			Status:        rapid.SampledFrom([]int{0, 400, 404, 410, 500, 503}).Draw(t, "status"),
			ErrorCode:     rapid.SampledFrom([]string{"", "NO_SUCH_INSTANCE", "é\"\\"}).Draw(t, "code"),
			Communication: rapid.SampledFrom(append([]failure.Communication{0}, failure.AllCommunications()...)).Draw(t, "comm"),
		}
		b, err := json.Marshal(o)
		var back failure.Outcome
		if err != nil || json.Unmarshal(b, &back) != nil || back != o {
			t.Fatalf("%+v → %s → %+v (%v)", o, b, back, err)
		}
	})
}

// TestStartFailureErrorSaysThingsOnce: an unknown enum value's error, or
// the decode error a StartFailureError was made from, is not repeated in
// its message.
func TestStartFailureErrorSaysThingsOnce(t *testing.T) {
	var f failure.StartFailure
	err := f.UnmarshalJSON([]byte(`{"cause":"bad_luck","transient":true,"reason":"user","time":"2026-11-21T10:00:00Z"}`))
	if err == nil || strings.Count(err.Error(), "(accepted:") != 1 {
		t.Fatalf("%v", err)
	}
	_, perr := failure.ParseCause("bad_luck")
	e := &failure.StartFailureError{Field: "cause", Value: `"bad_luck"`, Accepted: "…", Err: perr}
	if strings.Count(e.Error(), "accepted:") != 1 {
		t.Fatalf("%v", e)
	}
}

package vmmstate_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// Every decoder is fuzzed for the same contract (D3, D9): it never panics;
// on error the destination keeps its value; an accepted input is a valid
// value whose encoding decodes to the same value and encodes to the same
// bytes again (marshal → unmarshal → marshal is byte-identical). Where the
// format has one canonical spelling (every text form here), an accepted
// input must be exactly that spelling.

var stateTextSeeds = func() []string {
	seeds := []string{"", "failed", "failed()", "failed(sled_off", "Running", " running", "failed(failed(x))", "\xff", "saga_unwound\x00"}
	for _, s := range vmmstate.AllStates() {
		seeds = append(seeds, s.String())
	}
	return seeds
}()

func FuzzStateJSON(f *testing.F) {
	for _, s := range vmmstate.AllStates() {
		b, _ := s.MarshalJSON()
		f.Add(b)
	}
	for _, s := range []string{``, `null`, `"failed"`, `{}`, `{"failed":null}`, ` {"failed" : "sled_off"} `,
		`{"failed":"sled_off","failed":"sled_off"}`, `{"failed":"sled_off","x":1}`, `"\u0072unning"`, `["running"]`, `"running" "x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := vmmstate.Migrating
		err := s.UnmarshalJSON(in)
		if err != nil {
			if s != vmmstate.Migrating {
				t.Fatalf("UnmarshalJSON(%q) failed with %v but changed the state to %v", in, err, s)
			}
			if !errors.Is(err, vmmstate.ErrUnknown) {
				t.Fatalf("UnmarshalJSON(%q): %v does not match ErrUnknown", in, err)
			}
			return
		}
		if !s.IsValid() {
			t.Fatalf("UnmarshalJSON(%q) accepted invalid %v", in, s)
		}
		m1, err := s.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON(%v): %v", s, err)
		}
		var again vmmstate.State
		if err := again.UnmarshalJSON(m1); err != nil || again != s {
			t.Fatalf("UnmarshalJSON(%s) = %v, %v; want %v", m1, again, err, s)
		}
		if m2, _ := again.MarshalJSON(); !bytes.Equal(m1, m2) {
			t.Fatalf("re-marshal %s != %s", m2, m1)
		}
		// What was accepted is valid JSON meaning the same thing: an
		// encoding/json reader sees the same label or the same object.
		var viaJSON any
		if err := json.Unmarshal(in, &viaJSON); err != nil {
			t.Fatalf("accepted %q, which is not JSON: %v", in, err)
		}
		var canon any
		_ = json.Unmarshal(m1, &canon)
		if cb, _ := json.Marshal(canon); !bytes.Equal(mustJSON(t, viaJSON), cb) {
			t.Fatalf("accepted %q as %v, but it reads as %s", in, s, mustJSON(t, viaJSON))
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzStateText(f *testing.F) {
	for _, s := range stateTextSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, perr := vmmstate.ParseState(in)
		u := vmmstate.Migrating
		uerr := u.UnmarshalText([]byte(in))
		if (perr == nil) != (uerr == nil) {
			t.Fatalf("%q: ParseState and UnmarshalText disagree: %v, %v", in, perr, uerr)
		}
		if perr != nil {
			if u != vmmstate.Migrating || p != 0 {
				t.Fatalf("%q rejected but decoded as %v / %v", in, p, u)
			}
			if !errors.Is(perr, vmmstate.ErrUnknown) {
				t.Fatalf("%q: %v is not ErrUnknown", in, perr)
			}
			return
		}
		if !p.IsValid() || u != p {
			t.Fatalf("%q decoded as %v / %v", in, p, u)
		}
		if p.String() != in {
			t.Fatalf("%q accepted as %v, which is spelt %q", in, p, p.String())
		}
		m1, _ := p.MarshalText()
		var again vmmstate.State
		if err := again.UnmarshalText(m1); err != nil || again != p {
			t.Fatalf("UnmarshalText(%q) = %v, %v", m1, again, err)
		}
		if m2, _ := again.MarshalText(); !bytes.Equal(m1, m2) {
			t.Fatalf("re-marshal %q != %q", m2, m1)
		}
	})
}

// textEnum is what Kind, SledAgentState and External have in common.
type textEnum interface {
	comparable
	IsValid() bool
	String() string
	MarshalText() ([]byte, error)
}

// fuzzEnumText is the shared body of the enum text fuzz targets: Parse,
// UnmarshalText and Scan (string and []byte) agree, and an accepted input
// is exactly the value's wire string.
func fuzzEnumText[E textEnum, P interface {
	*E
	UnmarshalText([]byte) error
	Scan(any) error
}](t *testing.T, in []byte, parse func(string) (E, error)) {
	var keep E
	p, perr := parse(string(in))
	decoded := []E{keep, keep, keep}
	errs := []error{
		P(&decoded[0]).UnmarshalText(in),
		P(&decoded[1]).Scan(string(in)),
		P(&decoded[2]).Scan(bytes.Clone(in)),
	}
	for i, err := range errs {
		if (err == nil) != (perr == nil) {
			t.Fatalf("%q: decoder %d says %v, Parse says %v", in, i, err, perr)
		}
		if err != nil && decoded[i] != keep {
			t.Fatalf("%q: decoder %d failed but wrote %v", in, i, decoded[i])
		}
		if err == nil && decoded[i] != p {
			t.Fatalf("%q: decoder %d gave %v, Parse %v", in, i, decoded[i], p)
		}
	}
	if perr != nil {
		if !errors.Is(perr, vmmstate.ErrUnknown) {
			t.Fatalf("%q: %v is not ErrUnknown", in, perr)
		}
		return
	}
	if !p.IsValid() || p.String() != string(in) && !(foldsCase(fmt.Sprintf("%T", p)) && asciiFold(p.String()) == asciiFold(string(in))) {
		t.Fatalf("%q accepted as %v", in, p)
	}
	m1, err := p.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var again E
	if err := P(&again).UnmarshalText(m1); err != nil || again != p {
		t.Fatalf("UnmarshalText(%q) = %v, %v", m1, again, err)
	}
	if m2, _ := again.MarshalText(); !bytes.Equal(m1, m2) {
		t.Fatalf("re-marshal %q != %q", m2, m1)
	}
}

func addTextSeeds(f *testing.F, names ...string) {
	for _, n := range append(names, "", "Running", "failed(sled_off)", "saga-unwound", " stopped", "\x00", "repairing\n") {
		f.Add([]byte(n))
	}
}

func FuzzKindText(f *testing.F) {
	for _, k := range vmmstate.AllKinds() {
		addTextSeeds(f, k.String())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzEnumText[vmmstate.Kind, *vmmstate.Kind](t, in, vmmstate.ParseKind)
	})
}

func FuzzSledAgentStateText(f *testing.F) {
	for _, s := range vmmstate.AllSledAgentStates() {
		addTextSeeds(f, s.String())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzEnumText[vmmstate.SledAgentState, *vmmstate.SledAgentState](t, in, vmmstate.ParseSledAgentState)
	})
}

func FuzzExternalText(f *testing.F) {
	for _, e := range vmmstate.AllExternal() {
		addTextSeeds(f, e.String())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzEnumText[vmmstate.External, *vmmstate.External](t, in, vmmstate.ParseExternal)
	})
}

var runtimeJSONSeeds = []string{
	`{"state":"running","gen":4,"time_updated":"2026-11-21T10:00:00Z"}`,
	`{"state":{"failed":"sled_off"},"gen":0,"time_updated":"2026-11-21T10:00:00.5+01:00"}`,
	`{"state":"failed","gen":9223372036854775807,"time_updated":"2026-11-21T10:00:00Z"}`,
	`{"gen":4,"state":"destroyed","time_updated":"0001-01-01T00:00:00Z"}`,
	`{"state":"running","gen":4,"time_updated":"2026-11-21T10:00:00Z","x":1}`,
	`{"state":"running","gen":4,"gen":5,"time_updated":"2026-11-21T10:00:00Z"}`,
	`{"state":"running","gen":-1,"time_updated":"2026-11-21T10:00:00Z"}`,
	`{"state":"running","gen":1e3,"time_updated":"2026-11-21T10:00:00Z"}`,
	`{}`, `null`, `[]`, ``,
}

func FuzzRuntimeJSON(f *testing.F) {
	for _, s := range runtimeJSONSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		keep := vmmstate.Runtime{State: vmmstate.Stopped, Generation: generation.Of(3), TimeUpdated: time.Unix(7, 0)}
		r := keep
		if err := r.UnmarshalJSON(in); err != nil {
			if r != keep {
				t.Fatalf("UnmarshalJSON(%q) failed with %v but changed %v to %v", in, err, keep, r)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("UnmarshalJSON(%q) accepted %v: %v", in, r, err)
		}
		// The first marshal may normalise (key order, spacing, time
		// spelling); from then on the bytes are fixed.
		m1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("json.Marshal(%v): %v", r, err)
		}
		var again vmmstate.Runtime
		if err := again.UnmarshalJSON(m1); err != nil || again.State != r.State || again.Generation != r.Generation || !again.TimeUpdated.Equal(r.TimeUpdated) {
			t.Fatalf("UnmarshalJSON(%s) = %v, %v; want %v", m1, again, err, r)
		}
		m2, _ := json.Marshal(again)
		if !bytes.Equal(m1, m2) {
			t.Fatalf("re-marshal %s != %s", m2, m1)
		}
	})
}

func FuzzSledAgentRuntimeJSON(f *testing.F) {
	for _, s := range runtimeJSONSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"state":"saga_unwound","gen":4,"time_updated":"2026-11-21T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		keep := vmmstate.SledAgentRuntime{State: vmmstate.SledAgentStopped, Generation: generation.Of(3), TimeUpdated: time.Unix(7, 0)}
		r := keep
		if err := r.UnmarshalJSON(in); err != nil {
			if r != keep {
				t.Fatalf("UnmarshalJSON(%q) failed with %v but changed %+v to %+v", in, err, keep, r)
			}
			return
		}
		if !r.State.IsValid() {
			t.Fatalf("UnmarshalJSON(%q) accepted invalid %+v", in, r)
		}
		if k := r.Runtime().State.Kind(); !k.IsReportable() {
			t.Fatalf("UnmarshalJSON(%q) accepted %v, which no sled-agent sends", in, k)
		}
		m1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("json.Marshal(%+v): %v", r, err)
		}
		var again vmmstate.SledAgentRuntime
		if err := again.UnmarshalJSON(m1); err != nil || again.State != r.State || again.Generation != r.Generation || !again.TimeUpdated.Equal(r.TimeUpdated) {
			t.Fatalf("UnmarshalJSON(%s) = %+v, %v; want %+v", m1, again, err, r)
		}
		if m2, _ := json.Marshal(again); !bytes.Equal(m1, m2) {
			t.Fatalf("re-marshal %s != %s", m2, m1)
		}
	})
}

// FuzzRowRead fuzzes the columns of a row — the state byte, the reason
// byte, the reason's NULL bit, the generation — against D8's rule, stated
// here independently: strict accepts a valid state whose reason is set
// (and valid) exactly when it is failed; lenient also accepts a failed row
// with a NULL reason (as prehistoric) and ignores any reason on another.
func FuzzRowRead(f *testing.F) {
	f.Add(uint8(vmmstate.KindRunning), uint8(0), false, int64(1))
	f.Add(uint8(vmmstate.KindFailed), uint8(failure.SledOff), true, int64(9))
	f.Add(uint8(vmmstate.KindFailed), uint8(0), false, int64(2))
	f.Add(uint8(vmmstate.KindFailed), uint8(6), true, int64(2))
	f.Add(uint8(vmmstate.KindStopped), uint8(failure.Prehistoric), true, int64(2))
	f.Add(uint8(0), uint8(0), false, int64(0))
	f.Add(uint8(11), uint8(1), true, int64(generation.Max))
	f.Fuzz(func(t *testing.T, kind, reason uint8, valid bool, gen int64) {
		g, err := generation.FromInt64(gen)
		if err != nil {
			return // the generation column is Scan's business, fuzzed in package generation
		}
		k, r := vmmstate.Kind(kind), failure.Reason(reason)
		row := vmmstate.Row{State: k, FailureReason: sql.Null[failure.Reason]{V: r, Valid: valid}, StateGeneration: g, TimeStateUpdated: time.Unix(int64(kind), 0)}

		failed := k == vmmstate.KindFailed
		strictOK := k.IsValid() && (failed == valid) && (!failed || r.IsValid())
		lenientOK := k.IsValid() && (!failed || !valid || r.IsValid())

		for _, mode := range []struct {
			name string
			read func(vmmstate.Row) (vmmstate.Runtime, error)
			ok   bool
		}{{"strict", vmmstate.Row.Runtime, strictOK}, {"lenient", vmmstate.Row.LenientRuntime, lenientOK}} {
			rt, err := mode.read(row)
			if (err == nil) != mode.ok {
				t.Fatalf("%s read of %+v = %v, %v; the rule says ok=%v", mode.name, row, rt, err, mode.ok)
			}
			if err != nil {
				var re *vmmstate.RecordError
				if !errors.As(err, &re) || rt != (vmmstate.Runtime{}) || (re.Field != "state" && re.Field != "failure_reason") {
					t.Fatalf("%s read of %+v: %v, %#v", mode.name, row, rt, err)
				}
				continue
			}
			want := vmmstate.State(k)
			switch {
			case failed && valid:
				want = vmmstate.Failed(r)
			case failed:
				want = vmmstate.Failed(failure.Prehistoric)
			}
			if rt != (vmmstate.Runtime{State: want, Generation: g, TimeUpdated: row.TimeStateUpdated}) {
				t.Fatalf("%s read of %+v = %v, want %v", mode.name, row, rt, want)
			}
			// Second round trip: the row written back is canonical and
			// reads to the same runtime, strictly, giving the same row.
			row2 := rt.Row()
			rt2, err := row2.Runtime()
			if err != nil || rt2 != rt || rt2.Row() != row2 {
				t.Fatalf("%s: %v → %+v → %v, %v → %+v", mode.name, rt, row2, rt2, err, rt2.Row())
			}
			if mode.name == "strict" && (row2.State != row.State || row2.FailureReason.Valid != row.FailureReason.Valid ||
				(row2.FailureReason.Valid && row2.FailureReason.V != row.FailureReason.V)) {
				t.Fatalf("strict read of %+v does not write back the same columns: %+v", row, row2)
			}
		}
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"3d1c9b4e-6a0f-4c55-9f0e-2b7b1d3c4e5f", "3D1C9B4E-6A0F-4C55-9F0E-2B7B1D3C4E5F",
		"00000000-0000-0000-0000-000000000000", "", "nope",
		"3d1c9b4e6a0f4c559f0e2b7b1d3c4e5f", "{3d1c9b4e-6a0f-4c55-9f0e-2b7b1d3c4e5f}",
		"urn:uuid:3d1c9b4e-6a0f-4c55-9f0e-2b7b1d3c4e5f", "3d1c9b4e-6a0f-4c55-9f0e-2b7b1d3c4e5g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, err := vmmstate.ParseID(in)
		keep := vmmstate.IDFromUUID(vmmUUID)
		u := keep
		uerr := u.UnmarshalText([]byte(in))
		if (err == nil) != (uerr == nil) {
			t.Fatalf("%q: ParseID %v, UnmarshalText %v", in, err, uerr)
		}
		if err != nil {
			if !errors.Is(err, vmmstate.ErrInvalidID) || u != keep || id != (vmmstate.ID{}) {
				t.Fatalf("%q: %v, %v, %v", in, id, u, err)
			}
			return
		}
		if u != id || !strings.EqualFold(in, id.String()) {
			t.Fatalf("%q accepted as %v", in, id)
		}
		m1, _ := id.MarshalText()
		again, err := vmmstate.ParseID(string(m1))
		if err != nil || again != id {
			t.Fatalf("ParseID(%q) = %v, %v", m1, again, err)
		}
		if m2, _ := again.MarshalText(); !bytes.Equal(m1, m2) {
			t.Fatalf("re-marshal %q != %q", m2, m1)
		}
	})
}

// asciiFold lower-cases ASCII letters only, the folding D24 allows.
func asciiFold(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

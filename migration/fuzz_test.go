package migration_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/wire"
)

var enumSeeds = []string{"", "pending", "in_progress", "failed", "completed", "Pending", "IN_PROGRESS",
	"in-progress", "complete", " pending", "pending\x00", "source", "target", "migration.State(1)", "\xff"}

// checkState is the contract of every State decoder: a refusal matches
// ErrUnknown and leaves the value as it was; an acceptance is exactly one of
// the wire strings and survives marshal → unmarshal → marshal byte for byte.
func checkState(t *testing.T, in string, before, got migration.State, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, migration.ErrUnknown) || got != before {
			t.Fatalf("%q: error %v, value %v (was %v)", in, err, got, before)
		}
		if slices.Contains(stateWire, in) {
			t.Fatalf("%q: a wire string was refused: %v", in, err)
		}
		return
	}
	if !got.IsValid() || got.String() != in {
		t.Fatalf("%q: accepted as %v", in, got)
	}
	m1, err := got.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var again migration.State
	if err := again.UnmarshalText(m1); err != nil || again != got {
		t.Fatalf("%q: re-decoding %q = %v, %v", in, m1, again, err)
	}
	if m2, _ := again.MarshalText(); !bytes.Equal(m1, m2) {
		t.Fatalf("%q: marshal→unmarshal→marshal %q != %q", in, m1, m2)
	}
}

func FuzzParseState(f *testing.F) {
	for _, s := range enumSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := migration.ParseState(s)
		checkState(t, s, 0, got, err)
	})
}

func FuzzStateUnmarshalText(f *testing.F) {
	for _, s := range enumSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := migration.Completed
		err := got.UnmarshalText(b)
		checkState(t, string(b), migration.Completed, got, err)
	})
}

func FuzzStateScan(f *testing.F) {
	for _, s := range enumSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, asString bool) {
		var src any = b
		if asString {
			src = string(b)
		}
		got := migration.Failed
		err := got.Scan(src)
		checkState(t, string(b), migration.Failed, got, err)
		if err == nil {
			if v, err := got.Value(); err != nil || v != string(b) {
				t.Fatalf("%q: Value() = %v, %v", b, v, err)
			}
		}
	})
}

func FuzzRoleDecoders(f *testing.F) {
	for _, s := range enumSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parsed, perr := migration.ParseRole(string(b))
		text := migration.Target
		terr := text.UnmarshalText(b)
		scanned := migration.Target
		serr := scanned.Scan(b)
		if (perr == nil) != (terr == nil) || (perr == nil) != (serr == nil) {
			t.Fatalf("%q: ParseRole %v, UnmarshalText %v, Scan %v disagree", b, perr, terr, serr)
		}
		if perr != nil {
			for _, err := range []error{perr, terr, serr} {
				if !errors.Is(err, migration.ErrUnknown) {
					t.Fatalf("%q: error %v does not match ErrUnknown", b, err)
				}
			}
			if parsed != 0 || text != migration.Target || scanned != migration.Target {
				t.Fatalf("%q: refused, yet decoded %v, %v, %v", b, parsed, text, scanned)
			}
			return
		}
		if text != parsed || scanned != parsed {
			t.Fatalf("%q: decoded %v, %v, %v", b, parsed, text, scanned)
		}
		if m, err := parsed.MarshalText(); err != nil || !bytes.Equal(m, b) {
			t.Fatalf("%q: accepted as %v, marshals as %q, %v", b, parsed, m, err)
		}
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"0a000000-0000-4000-8000-000000000001", "0A000000-0000-4000-8000-00000000000F",
		"00000000-0000-0000-0000-000000000000", "{0a000000-0000-4000-8000-000000000001}",
		"urn:uuid:0a000000-0000-4000-8000-000000000001", "0a0000000000400080000000000000001",
		"0a000000-0000-4000-8000-00000000000g", "", "not a uuid",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := migration.ParseID(s)
		if err != nil {
			if !errors.Is(err, migration.ErrInvalidID) || !id.IsZero() {
				t.Fatalf("%q: error %v, id %v", s, err, id)
			}
			if u, uerr := uuid.Parse(s); uerr == nil && len(s) == 36 {
				t.Fatalf("%q: refused, but is the UUID %v", s, u)
			}
			return
		}
		// Oracle: the canonical 36-character form, in any case.
		if u, uerr := uuid.Parse(s); uerr != nil || len(s) != 36 || u != id.UUID() {
			t.Fatalf("%q: accepted as %v, uuid.Parse gives %v, %v", s, id, u, uerr)
		}
		if id.String() != strings.ToLower(s) {
			t.Fatalf("%q: String() = %q", s, id.String())
		}
		m1, _ := id.MarshalText()
		var again migration.ID
		if err := again.UnmarshalText(m1); err != nil || again != id {
			t.Fatalf("%q: re-decoding %q = %v, %v", s, m1, again, err)
		}
		if m2, _ := again.MarshalText(); !bytes.Equal(m1, m2) {
			t.Fatalf("%q: marshal→unmarshal→marshal %q != %q", s, m1, m2)
		}
	})
}

func FuzzReportUnmarshalJSON(f *testing.F) {
	f.Add([]byte(reportJSON))
	for _, s := range []string{
		`{"migration_id":"0a000000-0000-4000-8000-000000000001","state":"pending","gen":0,"time_updated":"0001-01-01T00:00:00Z"}`,
		`{"migration_id":"0a000000-0000-4000-8000-000000000001","state":"completed","gen":9223372036854775807,"time_updated":"2026-11-21T10:00:01.123456789+05:30"}`,
		`{"migration_id":"0a000000-0000-4000-8000-000000000001","state":"failed","gen":9223372036854775808,"time_updated":"2026-11-21T10:00:01Z"}`,
		`{"migration_id":null,"state":"failed","gen":1,"time_updated":"2026-11-21T10:00:01Z"}`,
		`{"state":"failed","gen":1,"time_updated":"2026-11-21T10:00:01Z","extra":1}`,
		`{"migration_id":"0a000000-0000-4000-8000-000000000001","state":"failed","gen":1,"time_updated":"2026-11-21T10:00:01Z","extra":{"a":[1]}}`,
		`{}`, `null`, `[]`, `"pending"`, `{"gen":1,"gen":2}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		before := migration.Report{MigrationID: otherMig, State: migration.Failed, Generation: gen(9), TimeUpdated: t3}
		r := before
		if err := r.UnmarshalJSON(b); err != nil {
			if !errors.Is(err, wire.ErrDecode) || r != before {
				t.Fatalf("%s: error %v (%T), report %v", b, err, err, r)
			}
			return
		}
		if !r.State.IsValid() {
			t.Fatalf("%s: accepted an invalid state %v", b, r.State)
		}
		m1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%s: accepted %v but cannot marshal it: %v", b, r, err)
		}
		var again migration.Report
		if err := json.Unmarshal(m1, &again); err != nil {
			t.Fatalf("%s: re-decoding %s: %v", b, m1, err)
		}
		if again.MigrationID != r.MigrationID || again.State != r.State || again.Generation != r.Generation || !again.TimeUpdated.Equal(r.TimeUpdated) {
			t.Fatalf("%s: re-decoded %s as %v, want %v", b, m1, again, r)
		}
		if m2, _ := json.Marshal(again); !bytes.Equal(m1, m2) {
			t.Fatalf("%s: marshal→unmarshal→marshal\n%s\n%s", b, m1, m2)
		}
	})
}

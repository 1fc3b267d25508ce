package migration_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/migration/migrationtest"
	"github.com/vmlife/vmlife/wire"
)

const recordDoc = `{"id":"0a000000-0000-4000-8000-000000000001","instance_id":"1b000000-0000-4000-8000-000000000001",` +
	`"source_propolis_id":"2c000000-0000-4000-8000-000000000001","target_propolis_id":"2c000000-0000-4000-8000-000000000002",` +
	`"source_state":"completed","source_gen":3,"time_source_updated":"2026-11-21T10:00:01Z",` +
	`"target_state":"pending","target_gen":1,"time_target_updated":null,"time_created":"2026-11-21T10:00:00Z"}`

func docRecord() migration.Record {
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	r.Source.State, r.Source.Generation, r.Source.TimeUpdated = migration.Completed, gen(3), t1
	return r
}

// The migration object of the snapshot document (docs/cli.md), both ways.
func TestRecordJSON(t *testing.T) {
	b, err := json.Marshal(docRecord())
	if err != nil || string(b) != recordDoc {
		t.Fatalf("json.Marshal =\n%s, %v\nwant\n%s", b, err, recordDoc)
	}
	var back migration.Record
	if err := json.Unmarshal(b, &back); err != nil || back != docRecord() {
		t.Fatalf("json.Unmarshal = %v, %v", back, err)
	}
	// Missing optional keys read as null (docs/cli.md): the zero time.
	short := strings.Replace(recordDoc, `,"time_target_updated":null,"time_created":"2026-11-21T10:00:00Z"`, ``, 1)
	want := docRecord()
	want.TimeCreated = want.Target.TimeUpdated
	if err := json.Unmarshal([]byte(short), &back); err != nil || back != want {
		t.Fatalf("without the optional keys: %v, %v", back, err)
	}
	if _, err := json.Marshal(migration.Record{}); err == nil {
		t.Fatalf("a record with invalid states was marshalled")
	}
}

func TestRecordJSONRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, field string }{
		{"not an object", `"migration"`, ""},
		{"unknown key", strings.Replace(recordDoc, `"source_gen":3`, `"source_gen":3,"source_generation":3`, 1), "source_generation"},
		{"duplicate key", strings.Replace(recordDoc, `"source_gen":3`, `"source_gen":3,"source_gen":3`, 1), "source_gen"},
		{"missing target_gen", strings.Replace(recordDoc, `"target_gen":1,`, ``, 1), "target_gen"},
		{"missing id", strings.Replace(recordDoc, `"id":"0a000000-0000-4000-8000-000000000001",`, ``, 1), "id"},
		{"null state", strings.Replace(recordDoc, `"source_state":"completed"`, `"source_state":null`, 1), "source_state"},
		{"unknown state", strings.Replace(recordDoc, `"target_state":"pending"`, `"target_state":"queued"`, 1), "target_state"},
		{"bad VMM id", strings.Replace(recordDoc, `"2c000000-0000-4000-8000-000000000002"`, `"vmm-2"`, 1), "target_propolis_id"},
		{"negative gen", strings.Replace(recordDoc, `"source_gen":3`, `"source_gen":-3`, 1), "source_gen"},
		{"bad time", strings.Replace(recordDoc, `"time_source_updated":"2026-11-21T10:00:01Z"`, `"time_source_updated":1`, 1), "time_source_updated"},
	} {
		before := docRecord()
		r := before
		err := r.UnmarshalJSON([]byte(tc.in))
		var de *wire.DecodeError
		if !errors.As(err, &de) || de.Path != tc.field {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.field)
		}
		if r != before {
			t.Errorf("%s: rejected, yet the record changed", tc.name)
		}
	}
}

// Every drawn record survives JSON both ways.
func TestPropRecordJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := migrationtest.Record().Draw(t, "record")
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back migration.Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if b2, _ := json.Marshal(back); !bytes.Equal(b, b2) || !sameRecord(back, r) {
			t.Fatalf("%s came back as %s (%v)", b, b2, back)
		}
	})
}

// sameRecord compares records with time.Time.Equal, as JSON keeps the
// instant but not the *time.Location.
func sameRecord(a, b migration.Record) bool {
	sameSide := func(x, y migration.Side) bool {
		return x.VMM == y.VMM && x.State == y.State && x.Generation == y.Generation && x.TimeUpdated.Equal(y.TimeUpdated)
	}
	return a.ID == b.ID && a.InstanceID == b.InstanceID && a.TimeCreated.Equal(b.TimeCreated) &&
		sameSide(a.Source, b.Source) && sameSide(a.Target, b.Target)
}

func FuzzRecordUnmarshalJSON(f *testing.F) {
	f.Add([]byte(recordDoc))
	f.Add([]byte(strings.Replace(recordDoc, `"source_gen":3`, `"source_gen":9223372036854775807`, 1)))
	f.Add([]byte(strings.Replace(recordDoc, `"2026-11-21T10:00:01Z"`, `"0001-01-01T00:00:00Z"`, 1)))
	f.Add([]byte(`{"id":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		before := docRecord()
		r := before
		if err := r.UnmarshalJSON(b); err != nil {
			if !errors.Is(err, wire.ErrDecode) || r != before {
				t.Fatalf("%s: error %v, record %v", b, err, r)
			}
			return
		}
		m1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("%s: accepted %v but cannot marshal it: %v", b, r, err)
		}
		var again migration.Record
		if err := json.Unmarshal(m1, &again); err != nil || !sameRecord(again, r) {
			t.Fatalf("%s: re-decoding %s = %v, %v", b, m1, again, err)
		}
		if m2, _ := json.Marshal(again); !bytes.Equal(m1, m2) {
			t.Fatalf("%s: marshal→unmarshal→marshal\n%s\n%s", b, m1, m2)
		}
	})
}

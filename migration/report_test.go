package migration_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/wire"
)

const reportJSON = `{"migration_id":"0a000000-0000-4000-8000-000000000001","state":"in_progress","gen":3,"time_updated":"2026-11-21T10:00:01Z"}`

// §3.2: the exact sled-agent form, both ways.
func TestReportJSON(t *testing.T) {
	r := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(3), TimeUpdated: t1}
	b, err := json.Marshal(r)
	if err != nil || string(b) != reportJSON {
		t.Fatalf("json.Marshal = %s, %v\nwant          %s", b, err, reportJSON)
	}
	var back migration.Report
	if err := json.Unmarshal(b, &back); err != nil || back != r {
		t.Fatalf("json.Unmarshal = %v, %v", back, err)
	}
	// Within a SledVmmState-like document, and with any key order,
	// whitespace and upper-case UUID.
	doc := `{"migration_in": { "time_updated" : "2026-11-21T10:00:01Z", "gen": 3, "state": "in_progress",
		"migration_id": "0A000000-0000-4000-8000-000000000001" }, "migration_out": null}`
	var sv struct {
		In  *migration.Report `json:"migration_in"`
		Out *migration.Report `json:"migration_out"`
	}
	if err := json.Unmarshal([]byte(doc), &sv); err != nil || sv.In == nil || *sv.In != r || sv.Out != nil {
		t.Fatalf("in a document: %+v, %v", sv, err)
	}
	for _, s := range migration.AllStates() {
		r.State = s
		b, err := json.Marshal(r)
		if err != nil || !strings.Contains(string(b), `"state":"`+s.String()+`"`) {
			t.Fatalf("%v: %s, %v", s, b, err)
		}
	}
	// Generation 0 and the largest are in range (§1).
	for _, g := range []generation.Generation{gen(0), maxGen()} {
		r.Generation = g
		b, _ := json.Marshal(r)
		var back migration.Report
		if err := json.Unmarshal(b, &back); err != nil || back != r {
			t.Fatalf("gen %v: %v, %v", g, back, err)
		}
	}
}

func TestReportJSONRejects(t *testing.T) {
	const id = `"0a000000-0000-4000-8000-000000000001"`
	for _, tc := range []struct {
		name, in string
		field    string
		cause    error // a sentinel the decode error also unwraps to, or nil
	}{
		{"not an object", `[]`, "", nil},
		{"null document", `null`, "", nil},
		{"trailing data", reportJSON + `{}`, "", nil},
		{"missing migration_id", `{"state":"pending","gen":1,"time_updated":"2026-11-21T10:00:00Z"}`, "migration_id", nil},
		{"missing state", `{"migration_id":` + id + `,"gen":1,"time_updated":"2026-11-21T10:00:00Z"}`, "state", nil},
		{"missing gen", `{"migration_id":` + id + `,"state":"pending","time_updated":"2026-11-21T10:00:00Z"}`, "gen", nil},
		{"missing time", `{"migration_id":` + id + `,"state":"pending","gen":1}`, "time_updated", nil},
		{"duplicate key", strings.Replace(reportJSON, `"gen":3`, `"gen":3,"gen":4`, 1), "gen", nil},
		{"null state", strings.Replace(reportJSON, `"in_progress"`, `null`, 1), "state", nil},
		{"unknown state", strings.Replace(reportJSON, `"in_progress"`, `"running"`, 1), "state", migration.ErrUnknown},
		{"upper-case state", strings.Replace(reportJSON, `"in_progress"`, `"IN_PROGRESS"`, 1), "state", migration.ErrUnknown},
		{"numeric state", strings.Replace(reportJSON, `"in_progress"`, `2`, 1), "state", nil},
		{"bad id", strings.Replace(reportJSON, id, `"not-a-uuid"`, 1), "migration_id", migration.ErrInvalidID},
		{"braced id", strings.Replace(reportJSON, id, `"{0a000000-0000-4000-8000-000000000001}"`, 1), "migration_id", migration.ErrInvalidID},
		{"negative gen", strings.Replace(reportJSON, `"gen":3`, `"gen":-1`, 1), "gen", generation.ErrNegative},
		{"gen past the largest", strings.Replace(reportJSON, `"gen":3`, `"gen":9223372036854775808`, 1), "gen", generation.ErrOverflow},
		{"string gen", strings.Replace(reportJSON, `"gen":3`, `"gen":"3"`, 1), "gen", generation.ErrSyntax},
		{"fractional gen", strings.Replace(reportJSON, `"gen":3`, `"gen":3.5`, 1), "gen", generation.ErrSyntax},
		{"bad time", strings.Replace(reportJSON, `2026-11-21T10:00:01Z`, `yesterday`, 1), "time_updated", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := migration.Report{MigrationID: otherMig, State: migration.Failed, Generation: gen(9), TimeUpdated: t3}
			r := before
			err := r.UnmarshalJSON([]byte(tc.in))
			var de *wire.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, wire.ErrDecode) {
				t.Fatalf("error %v (%T) is not a *wire.DecodeError", err, err)
			}
			if de.Path != tc.field {
				t.Fatalf("DecodeError{Path: %q}, want %q", de.Path, tc.field)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("error %v does not unwrap to %v", err, tc.cause)
			}
			if r != before {
				t.Fatalf("rejected, yet the report changed to %v", r)
			}
		})
	}
}

func TestReportMarshalInvalidState(t *testing.T) {
	for _, s := range []migration.State{0, 5} {
		if b, err := json.Marshal(migration.Report{MigrationID: migID, State: s}); err == nil {
			t.Fatalf("json.Marshal with state %v = %s", s, b)
		}
	}
}

// TestNilIDsAreRefused: a nil UUID identifies nothing, in a sled-agent's
// migration side or in a migration record's ids; decoding refuses it with
// the path of the id.
func TestNilIDsAreRefused(t *testing.T) {
	const nilID = `"00000000-0000-0000-0000-000000000000"`
	var r migration.Report
	err := r.UnmarshalJSON([]byte(`{"migration_id":` + nilID + `,"state":"pending","gen":1,"time_updated":"2026-11-21T10:00:00Z"}`))
	var de *wire.DecodeError
	if !errors.As(err, &de) || de.Path != "migration_id" {
		t.Errorf("report with a nil migration id: %v", err)
	}
	for _, key := range []string{"id", "instance_id", "source_propolis_id", "target_propolis_id"} {
		doc := map[string]any{
			"id": "0a000000-0000-4000-8000-000000000001", "instance_id": "1b000000-0000-4000-8000-000000000001",
			"source_propolis_id": "2c000000-0000-4000-8000-000000000001", "target_propolis_id": "2c000000-0000-4000-8000-000000000002",
			"source_state": "pending", "source_gen": 1, "target_state": "pending", "target_gen": 1,
		}
		doc[key] = "00000000-0000-0000-0000-000000000000"
		b, _ := json.Marshal(doc)
		var m migration.Record
		if err := m.UnmarshalJSON(b); !errors.As(err, &de) || de.Path != key {
			t.Errorf("record with a nil %s: %v", key, err)
		}
	}
}

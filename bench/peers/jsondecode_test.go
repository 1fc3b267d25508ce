package peers

import (
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/vmlife/vmlife/instancestate"
)

// The report decoding benchmark of instancestate, run here beside
// github.com/go-json-experiment/json (the upstream of encoding/json/v2),
// which issue-level review asked to be measured before vmlife chose its
// own one-pass decoder: v2 rejects duplicate names by default and unknown
// members on request, the two strictness rules vmlife needs most.

const report = `{"vmm_state":{"state":"running","gen":5,"time_updated":"2026-11-21T10:01:00Z"},` +
	`"migration_in":null,` +
	`"migration_out":{"migration_id":"4e000000-0000-4000-8000-00000000000a","state":"completed","gen":3,"time_updated":"2026-11-21T10:01:00.123456789Z"}}`

type v2Side struct {
	MigrationID string    `json:"migration_id"`
	State       string    `json:"state"`
	Gen         int64     `json:"gen"`
	TimeUpdated time.Time `json:"time_updated"`
}

type v2Report struct {
	VMMState struct {
		State       string    `json:"state"`
		Gen         int64     `json:"gen"`
		TimeUpdated time.Time `json:"time_updated"`
	} `json:"vmm_state"`
	MigrationIn  *v2Side `json:"migration_in"`
	MigrationOut *v2Side `json:"migration_out"`
}

// BenchmarkDecodeReportVmlife: vmlife's decoder (lenient about keys, D20,
// but checking every value: enum strings, UUIDs, generation ranges).
func BenchmarkDecodeReportVmlife(b *testing.B) {
	b.ReportAllocs()
	in := []byte(report)
	var r instancestate.Report
	for b.Loop() {
		if err := r.UnmarshalJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeReportJSONv2: go-json-experiment into a plain struct,
// unknown members rejected, duplicates rejected (its default).
func BenchmarkDecodeReportJSONv2(b *testing.B) {
	b.ReportAllocs()
	in := []byte(report)
	var r v2Report
	for b.Loop() {
		if err := jsonv2.Unmarshal(in, &r, jsonv2.RejectUnknownMembers(true)); err != nil {
			b.Fatal(err)
		}
	}
}

package instancestate_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/vmlife/vmlife/instancestate"
)

// The decoding benchmarks put vmlife's strict decoders beside the baseline
// the target is stated against (docs/performance.md): encoding/json with
// DisallowUnknownFields decoding the same bytes into a plain struct with
// the same fields — which checks less (no duplicate keys, no enum values,
// no UUID or generation ranges, no required keys).

const benchReport = `{"vmm_state":{"state":"running","gen":5,"time_updated":"2026-11-21T10:01:00Z"},` +
	`"migration_in":null,` +
	`"migration_out":{"migration_id":"4e000000-0000-4000-8000-00000000000a","state":"completed","gen":3,"time_updated":"2026-11-21T10:01:00.123456789Z"}}`

const benchDocument = `{"now":"2026-11-21T10:00:00Z","instance":{"id":"11111111-1111-4111-8111-111111111111","state":"vmm",` +
	`"state_generation":7,"time_state_updated":"2026-11-21T09:00:00Z","active_propolis_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",` +
	`"target_propolis_id":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","migration_id":"33333333-3333-4333-8333-333333333333",` +
	`"intended_state":"running","auto_restart_policy":"best_effort","auto_restart_cooldown_secs":60,` +
	`"time_last_auto_restarted":null,"updater_id":null,"updater_gen":1,"start_failure":null},` +
	`"active_vmm":{"id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","instance_id":"11111111-1111-4111-8111-111111111111",` +
	`"sled_id":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","state":"migrating","failure_reason":null,"state_generation":4,` +
	`"time_state_updated":"2026-11-21T09:30:00Z"},` +
	`"target_vmm":{"id":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","instance_id":"11111111-1111-4111-8111-111111111111",` +
	`"sled_id":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","state":"migrating","failure_reason":null,"state_generation":2,` +
	`"time_state_updated":"2026-11-21T09:31:00Z"},` +
	`"migration":{"id":"33333333-3333-4333-8333-333333333333","instance_id":"11111111-1111-4111-8111-111111111111",` +
	`"source_propolis_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","target_propolis_id":"cccccccc-cccc-4ccc-8ccc-cccccccccccc",` +
	`"source_state":"in_progress","source_gen":3,"time_source_updated":"2026-11-21T09:32:00Z","target_state":"in_progress",` +
	`"target_gen":3,"time_target_updated":"2026-11-21T09:32:00Z","time_created":"2026-11-21T09:29:00Z"},` +
	`"sled_unreachable_since":null}`

// The baseline's plain structs: the same keys, Go's own types.
type (
	plainSide struct {
		MigrationID string    `json:"migration_id"`
		State       string    `json:"state"`
		Gen         int64     `json:"gen"`
		TimeUpdated time.Time `json:"time_updated"`
	}
	plainReport struct {
		VMMState struct {
			State       string    `json:"state"`
			Gen         int64     `json:"gen"`
			TimeUpdated time.Time `json:"time_updated"`
		} `json:"vmm_state"`
		MigrationIn  *plainSide `json:"migration_in"`
		MigrationOut *plainSide `json:"migration_out"`
	}
	plainVMM struct {
		ID               string    `json:"id"`
		InstanceID       string    `json:"instance_id"`
		SledID           string    `json:"sled_id"`
		State            string    `json:"state"`
		FailureReason    *string   `json:"failure_reason"`
		StateGeneration  int64     `json:"state_generation"`
		TimeStateUpdated time.Time `json:"time_state_updated"`
	}
	plainDocument struct {
		Now      time.Time `json:"now"`
		Instance struct {
			ID                      string          `json:"id"`
			State                   string          `json:"state"`
			StateGeneration         int64           `json:"state_generation"`
			TimeStateUpdated        time.Time       `json:"time_state_updated"`
			ActivePropolisID        *string         `json:"active_propolis_id"`
			TargetPropolisID        *string         `json:"target_propolis_id"`
			MigrationID             *string         `json:"migration_id"`
			IntendedState           string          `json:"intended_state"`
			AutoRestartPolicy       *string         `json:"auto_restart_policy"`
			AutoRestartCooldownSecs *int64          `json:"auto_restart_cooldown_secs"`
			TimeLastAutoRestarted   *time.Time      `json:"time_last_auto_restarted"`
			UpdaterID               *string         `json:"updater_id"`
			UpdaterGen              int64           `json:"updater_gen"`
			StartFailure            json.RawMessage `json:"start_failure"`
		} `json:"instance"`
		ActiveVMM *plainVMM `json:"active_vmm"`
		TargetVMM *plainVMM `json:"target_vmm"`
		Migration *struct {
			ID                string     `json:"id"`
			InstanceID        string     `json:"instance_id"`
			SourcePropolisID  string     `json:"source_propolis_id"`
			TargetPropolisID  string     `json:"target_propolis_id"`
			SourceState       string     `json:"source_state"`
			SourceGen         int64      `json:"source_gen"`
			TimeSourceUpdated *time.Time `json:"time_source_updated"`
			TargetState       string     `json:"target_state"`
			TargetGen         int64      `json:"target_gen"`
			TimeTargetUpdated *time.Time `json:"time_target_updated"`
			TimeCreated       *time.Time `json:"time_created"`
		} `json:"migration"`
		SledUnreachableSince *time.Time `json:"sled_unreachable_since"`
	}
)

func decodePlain(b *testing.B, data string, v any) {
	b.ReportAllocs()
	in := []byte(data)
	for b.Loop() {
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeReport: a sled-agent report, vmlife's decoder.
func BenchmarkDecodeReport(b *testing.B) {
	b.ReportAllocs()
	in := []byte(benchReport)
	var r instancestate.Report
	for b.Loop() {
		if err := r.UnmarshalJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeReportBaseline: the same bytes, encoding/json.
func BenchmarkDecodeReportBaseline(b *testing.B) { decodePlain(b, benchReport, new(plainReport)) }

// BenchmarkDecodeDocument: a migrating instance's snapshot document,
// vmlife's decoder (which also validates the snapshot, D17).
func BenchmarkDecodeDocument(b *testing.B) {
	b.ReportAllocs()
	in := []byte(benchDocument)
	var d instancestate.Document
	for b.Loop() {
		if err := d.UnmarshalJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeDocumentBaseline: the same bytes, encoding/json.
func BenchmarkDecodeDocumentBaseline(b *testing.B) {
	decodePlain(b, benchDocument, new(plainDocument))
}

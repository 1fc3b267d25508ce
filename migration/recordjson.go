package migration

import (
	"encoding/json"
	"time"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/internal/strictjson"
	"github.com/vmlife/vmlife/vmmstate"
)

// recordJSON is a Record as the vmlife snapshot document writes it: the
// migration table's column names (§5.4), with a NULL time as null.
type recordJSON struct {
	ID                ID                    `json:"id"`
	InstanceID        vmmstate.InstanceID   `json:"instance_id"`
	SourcePropolisID  vmmstate.ID           `json:"source_propolis_id"`
	TargetPropolisID  vmmstate.ID           `json:"target_propolis_id"`
	SourceState       State                 `json:"source_state"`
	SourceGen         generation.Generation `json:"source_gen"`
	TimeSourceUpdated *time.Time            `json:"time_source_updated"`
	TargetState       State                 `json:"target_state"`
	TargetGen         generation.Generation `json:"target_gen"`
	TimeTargetUpdated *time.Time            `json:"time_target_updated"`
	TimeCreated       *time.Time            `json:"time_created"`
}

var (
	recordRequired = []string{"id", "instance_id", "source_propolis_id", "target_propolis_id",
		"source_state", "source_gen", "target_state", "target_gen"}
	recordOptional = []string{"time_source_updated", "time_target_updated", "time_created"}
)

func nullable(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// MarshalJSON writes the record with the migration table's column names
// (§5.4), as the snapshot document of the vmlife tool has it:
// `{"id","instance_id","source_propolis_id","target_propolis_id",
// "source_state","source_gen","time_source_updated","target_state",
// "target_gen","time_target_updated","time_created"}`. A zero time is
// written as null (the database's NULL). An invalid state is an error.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{
		ID: r.ID, InstanceID: r.InstanceID,
		SourcePropolisID: r.Source.VMM, TargetPropolisID: r.Target.VMM,
		SourceState: r.Source.State, SourceGen: r.Source.Generation, TimeSourceUpdated: nullable(r.Source.TimeUpdated),
		TargetState: r.Target.State, TargetGen: r.Target.Generation, TimeTargetUpdated: nullable(r.Target.TimeUpdated),
		TimeCreated: nullable(r.TimeCreated),
	})
}

// UnmarshalJSON reads the form MarshalJSON writes, strictly (D3): the ids,
// states and generations are required; the three times may be null or
// missing, which reads as the zero time; an unknown or repeated key, a null
// required value, an unknown state, a non-UUID id or an out-of-range
// generation is an error naming the key. On error r is unchanged.
//
// Decoding checks form, not meaning: call Validate for the rules of a
// stored record (a nil id, the same VMM on both sides, generation 0).
func (r *Record) UnmarshalJSON(b []byte) error {
	const typ = "migration.Record"
	f, err := strictjson.Fields(typ, b, recordRequired, recordOptional)
	if err != nil {
		return err
	}
	var v Record
	for _, d := range [...]struct {
		key string
		dst any
	}{
		{"id", &v.ID}, {"instance_id", &v.InstanceID},
		{"source_propolis_id", &v.Source.VMM}, {"target_propolis_id", &v.Target.VMM},
		{"source_state", &v.Source.State}, {"source_gen", &v.Source.Generation},
		{"target_state", &v.Target.State}, {"target_gen", &v.Target.Generation},
	} {
		if err := strictjson.Decode(typ, f, d.key, d.dst); err != nil {
			return err
		}
	}
	for _, d := range [...]struct {
		key string
		dst *time.Time
	}{
		{"time_source_updated", &v.Source.TimeUpdated}, {"time_target_updated", &v.Target.TimeUpdated},
		{"time_created", &v.TimeCreated},
	} {
		if strictjson.IsNull(f[d.key]) {
			continue
		}
		if err := strictjson.Decode(typ, f, d.key, d.dst); err != nil {
			return err
		}
	}
	*r = v
	return nil
}

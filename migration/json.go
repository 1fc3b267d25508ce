package migration

import (
	"github.com/vmlife/vmlife/internal/jsonread"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/wire"
)

// This file holds the JSON forms of migration's values, read through
// jsonread: a side as a sled-agent reports it (lenient about keys, D20) and
// the record as the snapshot document has it (strict, the migration
// table's columns).

var (
	// D20: a sled-agent's migration side ignores keys a newer sled-agent
	// added.
	reportKeys = jsonread.NewKeys(jsonread.Req("migration_id"), jsonread.Req("state"), jsonread.Req("gen"), jsonread.Req("time_updated")).
			Lenient().
			Hint("migration_id", jsonread.AcceptUUID).Hint("state", states.Accepted()).
			Hint("gen", jsonread.AcceptGen).Hint("time_updated", jsonread.AcceptTime)
	recordKeys = jsonread.NewKeys(
		jsonread.Req("id"), jsonread.Req("instance_id"), jsonread.Req("source_propolis_id"), jsonread.Req("target_propolis_id"),
		jsonread.Req("source_state"), jsonread.Req("source_gen"), jsonread.Opt("time_source_updated"),
		jsonread.Req("target_state"), jsonread.Req("target_gen"), jsonread.Opt("time_target_updated"),
		jsonread.Opt("time_created")).
		Hint("id", jsonread.AcceptUUID).Hint("instance_id", jsonread.AcceptUUID).
		Hint("source_propolis_id", jsonread.AcceptUUID).Hint("target_propolis_id", jsonread.AcceptUUID).
		Hint("source_state", states.Accepted()).Hint("target_state", states.Accepted()).
		Hint("source_gen", jsonread.AcceptGen).Hint("target_gen", jsonread.AcceptGen)
)

// UnmarshalJSON decodes the sled-agent form: all four keys are required,
// none may repeat, and keys vmlife does not know are ignored (D20), so a
// newer sled-agent's report is never lost. A null, an unknown state, a
// non-UUID id or an out-of-range generation is a *wire.DecodeError naming
// the key. On error r is unchanged.
func (r *Report) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v Report
	o := d.Object(reportKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			v.MigrationID = IDFromUUID(d.UUID(true))
		case 1:
			v.State = jsonread.Enum(&d, states)
		case 2:
			v.Generation = d.Generation()
		case 3:
			v.TimeUpdated = d.Time()
		}
	}
	if err := d.End(); err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalJSON writes the sled-agent form; an invalid state is an error.
func (r Report) MarshalJSON() ([]byte, error) {
	if !r.State.IsValid() {
		return nil, &Error{Field: "state", Got: r.State.String(), Want: stateNames(), Err: ErrInvalidState}
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"migration_id":"`...)
	b, _ = r.MigrationID.AppendText(b)
	b = append(b, `","state":"`...)
	b = append(b, r.State.String()...)
	b = append(b, `","gen":`...)
	b, _ = r.Generation.AppendText(b)
	b = append(b, `,"time_updated":"`...)
	b = wire.AppendTime(b, r.TimeUpdated)
	b = append(b, `"}`...)
	return b, nil
}

// MarshalJSON writes the record with the migration table's column names
// (§5.4), as the snapshot document of the vmlife tool has it:
// `{"id","instance_id","source_propolis_id","target_propolis_id",
// "source_state","source_gen","time_source_updated","target_state",
// "target_gen","time_target_updated","time_created"}`. A zero time is
// written as null (the database's NULL). An invalid state is an error.
func (r Record) MarshalJSON() ([]byte, error) {
	for _, s := range []*Side{&r.Source, &r.Target} {
		if !s.State.IsValid() {
			return nil, &Error{Field: "state", Got: s.State.String(), Want: stateNames(), Err: ErrInvalidState}
		}
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"id":"`...)
	b, _ = r.ID.AppendText(b)
	b = append(b, `","instance_id":"`...)
	b, _ = r.InstanceID.AppendText(b)
	b = append(b, `","source_propolis_id":"`...)
	b, _ = r.Source.VMM.AppendText(b)
	b = append(b, `","target_propolis_id":"`...)
	b, _ = r.Target.VMM.AppendText(b)
	b = append(b, `","source_state":"`...)
	b = append(b, r.Source.State.String()...)
	b = append(b, `","source_gen":`...)
	b, _ = r.Source.Generation.AppendText(b)
	b = append(b, `,"time_source_updated":`...)
	b = wire.AppendTimeOrNull(b, r.Source.TimeUpdated)
	b = append(b, `,"target_state":"`...)
	b = append(b, r.Target.State.String()...)
	b = append(b, `","target_gen":`...)
	b, _ = r.Target.Generation.AppendText(b)
	b = append(b, `,"time_target_updated":`...)
	b = wire.AppendTimeOrNull(b, r.Target.TimeUpdated)
	b = append(b, `,"time_created":`...)
	b = wire.AppendTimeOrNull(b, r.TimeCreated)
	b = append(b, '}')
	return b, nil
}

// UnmarshalJSON reads the form MarshalJSON writes, strictly (D3): the ids,
// states and generations are required; the three times may be null or
// missing, which reads as the zero time; an unknown or repeated key, a null
// required value, an unknown state, a non-UUID id or an out-of-range
// generation is a *wire.DecodeError naming the key. On error r is
// unchanged.
//
// Decoding checks form, not meaning: call Validate for the rules of a
// stored record (the same VMM on both sides).
func (r *Record) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v Record
	o := d.Object(recordKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			v.ID = IDFromUUID(d.UUID(true))
		case 1:
			v.InstanceID = vmmstate.InstanceIDFromUUID(d.UUID(true))
		case 2:
			v.Source.VMM = vmmstate.IDFromUUID(d.UUID(true))
		case 3:
			v.Target.VMM = vmmstate.IDFromUUID(d.UUID(true))
		case 4:
			v.Source.State = jsonread.Enum(&d, states)
		case 5:
			v.Source.Generation = d.Generation()
		case 6:
			v.Source.TimeUpdated = d.Time()
		case 7:
			v.Target.State = jsonread.Enum(&d, states)
		case 8:
			v.Target.Generation = d.Generation()
		case 9:
			v.Target.TimeUpdated = d.Time()
		case 10:
			v.TimeCreated = d.Time()
		}
	}
	if err := d.End(); err != nil {
		return err
	}
	*r = v
	return nil
}

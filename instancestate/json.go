package instancestate

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/internal/jsonread"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/wire"
)

// This file holds the JSON documents of instancestate, all read through
// jsonread: a sled-agent's report (lenient about keys, D20), the instance
// record, the snapshot document and the report document of the vmlife tool
// (strict: vmlife's own forms). docs/cli.md describes them.

// MaxCooldownSecs is the longest auto-restart cooldown the documents
// accept, in seconds: the longest a time.Duration holds.
const MaxCooldownSecs = math.MaxInt64 / int64(time.Second)

var (
	// D20: a sled-agent's SledVmmState ignores keys a newer sled-agent
	// added.
	reportKeys = jsonread.NewKeys(jsonread.Req("vmm_state"), jsonread.Opt("migration_in"), jsonread.Opt("migration_out")).
			Lenient().Hint("vmm_state", `{"state", "gen", "time_updated"}`)
	instanceKeys = jsonread.NewKeys(
		jsonread.Req("id"), jsonread.Req("state"), jsonread.Req("state_generation"), jsonread.Req("time_state_updated"),
		jsonread.Opt("active_propolis_id"), jsonread.Opt("target_propolis_id"), jsonread.Opt("migration_id"),
		jsonread.Req("intended_state"), jsonread.Opt("auto_restart_policy"), jsonread.Opt("auto_restart_cooldown_secs"),
		jsonread.Opt("time_last_auto_restarted"), jsonread.Opt("updater_id"), jsonread.Req("updater_gen"),
		jsonread.Opt("start_failure"), jsonread.Opt("vmm_lost"), jsonread.Opt("restart_failures")).
		Hint("id", jsonread.AcceptUUID).Hint("state", nexusStates.Accepted()).
		Hint("state_generation", jsonread.AcceptGen).Hint("time_state_updated", jsonread.AcceptTime).
		Hint("intended_state", intendedStates.Accepted()).Hint("updater_gen", jsonread.AcceptGen)
	documentKeys = jsonread.NewKeys(documentFields()...).
			Hint("now", jsonread.AcceptTime).Hint("instance", instanceKeys.Accepted())
	reportDocumentKeys = jsonread.NewKeys(append(documentFields(), jsonread.Req("vmm_id"), jsonread.Req("report"))...).
				Hint("now", jsonread.AcceptTime).Hint("instance", instanceKeys.Accepted()).
				Hint("vmm_id", jsonread.AcceptUUID).Hint("report", `{"vmm_state", "migration_in", "migration_out"}`)
)

// numDocumentFields is how many keys documentFields lists: a report
// document's own keys come after them.
var numDocumentFields = len(documentFields())

func documentFields() []jsonread.Key {
	return []jsonread.Key{jsonread.Req("now"), jsonread.Req("instance"), jsonread.Opt("active_vmm"),
		jsonread.Opt("target_vmm"), jsonread.Opt("migration"), jsonread.Opt("sled_unreachable_since"),
		jsonread.Opt("policy"), jsonread.Opt("memory_gib"), jsonread.Opt("migrations_in_flight"), jsonread.Opt("saga")}
}

var acceptCooldown = "a positive integer number of seconds up to " + strconv.FormatInt(MaxCooldownSecs, 10)

// UnmarshalJSON decodes a sled-agent's SledVmmState (§3.2): vmm_state is
// required, the migration sides are optional (null or absent), and keys
// vmlife does not know are ignored (D20), so a newer sled-agent's report is
// never lost. Unknown values of known keys are refused. On error r is
// unchanged and the error is a *wire.DecodeError.
func (r *Report) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v Report
	v.decode(&d, reportKeys)
	if err := d.End(); err != nil {
		return err
	}
	*r = v
	return nil
}

func (r *Report) decode(d *jsonread.Decoder, keys *jsonread.Keys) {
	o := d.Object(keys)
	for o.Next() {
		switch o.Key() {
		case 0:
			d.Value(&r.VMM)
		case 1:
			if !d.Null() {
				r.MigrationIn = new(migration.Report)
				d.Value(r.MigrationIn)
			}
		case 2:
			if !d.Null() {
				r.MigrationOut = new(migration.Report)
				d.Value(r.MigrationOut)
			}
		}
	}
}

// MarshalJSON writes the instance record as the snapshot document has it
// (docs/cli.md), with the instance table's column names (§5.2): every key,
// null for a NULL column. The cooldown is whole seconds; one that is not,
// or a time RFC 3339 cannot write, is an error.
func (i Instance) MarshalJSON() ([]byte, error) {
	return i.appendJSON(make([]byte, 0, 768))
}

func (i Instance) appendJSON(b []byte) ([]byte, error) {
	rt := i.Runtime
	switch {
	case !rt.State.IsValid():
		return nil, &RuleError{Rule: RuleValidFields, Field: "state", Detail: rt.State.String()}
	case !i.IntendedState.IsValid():
		return nil, &RuleError{Rule: RuleValidFields, Field: "intended_state", Detail: i.IntendedState.String()}
	case i.AutoRestart.Cooldown < 0 || i.AutoRestart.Cooldown%time.Second != 0:
		return nil, &RuleError{Rule: "auto_restart_cooldown is whole seconds", Field: "auto_restart_cooldown", Detail: i.AutoRestart.Cooldown.String()}
	case !wire.CanWriteTime(rt.TimeUpdated) || !wire.CanWriteTime(rt.TimeLastAutoRestarted):
		return nil, &RuleError{Rule: "times are in years 0000..9999", Field: "time_state_updated", Detail: rt.TimeUpdated.String()}
	}
	b = append(b, `{"id":`...)
	b = wire.AppendIDOrNull(b, i.ID)
	b = append(b, `,"state":"`...)
	b = append(b, rt.State.String()...)
	b = append(b, `","state_generation":`...)
	b, _ = rt.Generation.AppendText(b)
	b = append(b, `,"time_state_updated":"`...)
	b = wire.AppendTime(b, rt.TimeUpdated) // required: even the zero time is written
	b = append(b, '"')
	b = append(b, `,"active_propolis_id":`...)
	b = wire.AppendIDOrNull(b, rt.ActiveVMM)
	b = append(b, `,"target_propolis_id":`...)
	b = wire.AppendIDOrNull(b, rt.TargetVMM)
	b = append(b, `,"migration_id":`...)
	b = wire.AppendIDOrNull(b, rt.MigrationID)
	b = append(b, `,"intended_state":"`...)
	b = append(b, i.IntendedState.String()...)
	b = append(b, `","auto_restart_policy":`...)
	if p := i.AutoRestart.Policy; p.IsValid() {
		b = append(b, '"')
		b = append(b, p.String()...)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"auto_restart_cooldown_secs":`...)
	if c := i.AutoRestart.Cooldown; c != 0 {
		b = strconv.AppendInt(b, int64(c/time.Second), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"time_last_auto_restarted":`...)
	b = wire.AppendTimeOrNull(b, rt.TimeLastAutoRestarted)
	b = append(b, `,"updater_id":`...)
	b = wire.AppendIDOrNull(b, i.UpdaterID)
	b = append(b, `,"updater_gen":`...)
	b, _ = i.UpdaterGen.AppendText(b)
	b = append(b, `,"start_failure":`...)
	if i.hasStartFailure() {
		f, err := i.StartFailure.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, f...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"vmm_lost":`...)
	if l := i.VMMLost; l.IsSet() {
		if !l.Cause.IsValid() || !wire.CanWriteTime(l.Time) {
			return nil, &RuleError{Rule: RuleValidFields, Field: "vmm_lost", Detail: l.Cause.String()}
		}
		b = append(b, `{"cause":"`...)
		b = append(b, l.Cause.String()...)
		b = append(b, `","time":`...)
		b = wire.AppendTimeOrNull(b, l.Time)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	if n := i.RestartFailures; n != 0 { // D33: written only when there is a count
		b = append(b, `,"restart_failures":`...)
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads the instance object of the snapshot document, the
// form MarshalJSON writes, strictly (D3): an unknown or repeated key, a
// value of the wrong type, an unknown enum string, a malformed id, time or
// generation is a *wire.DecodeError naming its path. A missing optional key
// reads as null. On error i is unchanged.
func (i *Instance) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v Instance
	v.decode(&d)
	if err := d.End(); err != nil {
		return err
	}
	*i = v
	return nil
}

func (i *Instance) decode(d *jsonread.Decoder) {
	o := d.Object(instanceKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			i.ID = vmmstate.InstanceIDFromUUID(d.UUID(true))
		case 1:
			i.Runtime.State = jsonread.Enum(d, nexusStates)
		case 2:
			i.Runtime.Generation = d.Generation()
		case 3:
			i.Runtime.TimeUpdated = d.Time()
		case 4:
			i.Runtime.ActiveVMM = vmmstate.IDFromUUID(d.UUID(true))
		case 5:
			i.Runtime.TargetVMM = vmmstate.IDFromUUID(d.UUID(true))
		case 6:
			i.Runtime.MigrationID = migration.IDFromUUID(d.UUID(true))
		case 7:
			i.IntendedState = jsonread.Enum(d, intendedStates)
		case 8:
			i.AutoRestart.Policy = jsonread.Enum(d, policies)
		case 9:
			i.AutoRestart.Cooldown = time.Duration(d.Int64(1, MaxCooldownSecs, acceptCooldown)) * time.Second
		case 10:
			i.Runtime.TimeLastAutoRestarted = d.Time()
		case 11:
			i.UpdaterID = UpdaterIDFromUUID(d.UUID(true))
		case 12:
			i.UpdaterGen = d.Generation()
		case 13:
			if !d.Null() {
				var f failure.StartFailure
				d.Value(&f)
				i.StartFailure = f
			}
		case 15:
			i.RestartFailures = int(d.Int64(0, MaxRestartFailures, acceptFailures))
		case 14:
			o := d.Object(lostKeys)
			for o.Next() {
				switch o.Key() {
				case 0:
					i.VMMLost.Cause = jsonread.Enum(d, lostCauses)
				case 1:
					i.VMMLost.Time = d.Time()
				}
			}
		}
	}
}

// lostKeys are the keys of the instance's "vmm_lost" object (D22).
var lostKeys = jsonread.NewKeys(jsonread.Req("cause"), jsonread.Opt("time")).
	Hint("cause", lostCauses.Accepted())

// Document is the snapshot document of the vmlife tool (docs/cli.md): a
// snapshot and the time to decide it at. Its JSON is
//
//	{"now", "instance", "active_vmm", "target_vmm", "migration", "sled_unreachable_since"}
//
// with the records in their database forms (Instance, vmmstate.VMM and
// migration.Record marshal them) and null for an absent record or time.
type Document struct {
	Now      time.Time
	Snapshot Snapshot
}

// MarshalJSON writes the document with every key, null for an absent
// record. The snapshot must be valid (D17): the encoder writes only what
// the decoder reads back to the same snapshot.
func (doc Document) MarshalJSON() ([]byte, error) {
	s := doc.Snapshot
	if err := s.validate(); err != nil {
		return nil, err
	}
	if doc.Now.IsZero() || !wire.CanWriteTime(doc.Now) {
		return nil, &RuleError{Rule: "now is a time in years 0001..9999", Field: "now", Detail: doc.Now.String()}
	}
	b := make([]byte, 0, 2048)
	b = append(b, `{"now":"`...)
	b = wire.AppendTime(b, doc.Now)
	b = append(b, `",`...)
	return s.appendJSON(b)
}

// MarshalJSON writes the snapshot as the snapshot document does, without
// "now": {"instance", "active_vmm", "target_vmm", "migration",
// "sled_unreachable_since"}, null for an absent record. The snapshot must be
// valid (D17).
func (s Snapshot) MarshalJSON() ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s.appendJSON(append(make([]byte, 0, 2048), '{'))
}

// appendJSON writes the snapshot's keys after an object's opening brace
// (and any keys before them) and closes the object.
func (s *Snapshot) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `"instance":`...)
	b, err := s.Instance.appendJSON(b)
	if err != nil {
		return nil, err
	}
	for _, rec := range [...]struct {
		key string
		has bool
		m   func() ([]byte, error)
	}{
		{`,"active_vmm":`, s.hasActive(), s.Active.MarshalJSON},
		{`,"target_vmm":`, s.hasTarget(), s.Target.MarshalJSON},
		{`,"migration":`, s.hasMigration(), s.Migration.MarshalJSON},
	} {
		b = append(b, rec.key...)
		if !rec.has {
			b = append(b, "null"...)
			continue
		}
		j, err := rec.m()
		if err != nil {
			return nil, err
		}
		b = append(b, j...)
	}
	b = append(b, `,"sled_unreachable_since":`...)
	b = wire.AppendTimeOrNull(b, s.SledUnreachableSince)
	return s.appendInputsJSON(b)
}

// UnmarshalJSON reads a snapshot document strictly (D3) and validates the
// snapshot (D17, D21). A malformed document is a *wire.DecodeError naming
// the path; a snapshot that breaks a rule is the *RuleError of Validate
// (ErrInvalidRecord). On error doc is unchanged.
func (doc *Document) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v Document
	o := d.Object(documentKeys)
	for o.Next() {
		v.decodeKey(&d, o.Key())
	}
	if err := d.End(); err != nil {
		return err
	}
	if err := v.Snapshot.Validate(); err != nil {
		return err
	}
	*doc = v
	return nil
}

// decodeKey reads key k of the document (its index in documentKeys, which
// every document that extends it shares).
func (doc *Document) decodeKey(d *jsonread.Decoder, k int) {
	s := &doc.Snapshot
	switch k {
	case 0:
		doc.Now = d.Time()
	case 1:
		s.Instance.decode(d)
	case 2:
		decodeVMM(d, &s.Active)
	case 3:
		decodeVMM(d, &s.Target)
	case 4:
		decodeMigration(d, &s.Migration)
	case 5:
		s.SledUnreachableSince = d.Time()
	case 6:
		decodePolicy(d, &s.Policy)
	case 7:
		s.MemoryGiB = int(d.Int64(0, MaxMemoryGiB, acceptMemory))
	case 8:
		o := d.Object(loadKeys)
		for o.Next() {
			n := int(d.Int64(0, math.MaxInt32, acceptCount))
			if o.Key() == 0 {
				s.MigrationsInFlight.Fleet = n
			} else {
				s.MigrationsInFlight.Sled = n
			}
		}
	case 9:
		decodeSaga(d, &s.Saga)
	}
}

func decodeVMM(d *jsonread.Decoder, v *vmmstate.VMM) {
	if !d.Null() {
		d.Value(v)
	}
}

// decodeMigration reads the migration record and refuses one no stored row
// could be (the same VMM on both sides), naming its column.
func decodeMigration(d *jsonread.Decoder, m *migration.Record) {
	if d.Null() {
		return
	}
	d.Value(m)
	if d.Failed() {
		return
	}
	if err := m.Validate(); err != nil {
		var me *migration.Error
		if errors.As(err, &me) {
			d.FailChild(me.Field, me.Got+" breaks the migration record", me.Got, me.Want, err)
		} else {
			d.Fail(err.Error(), "", "", err)
		}
	}
}

// ReportDocument is the input of `vmlife report` (docs/cli.md): a snapshot
// document with two more keys, "vmm_id" (the VMM that reports) and
// "report" (its sled-agent's SledVmmState, D20).
type ReportDocument struct {
	Document
	VMM    vmmstate.ID
	Report Report
}

// UnmarshalJSON reads a report document strictly (the sled-agent report
// inside it ignores unknown keys, D20) and validates the snapshot, as
// Document.UnmarshalJSON does. On error doc is unchanged.
func (doc *ReportDocument) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v ReportDocument
	o := d.Object(reportDocumentKeys)
	for o.Next() {
		switch k := o.Key(); k {
		case numDocumentFields:
			v.VMM = vmmstate.IDFromUUID(d.UUID(true))
		case numDocumentFields + 1:
			v.Report.decode(&d, reportKeys)
		default:
			v.decodeKey(&d, k)
		}
	}
	if err := d.End(); err != nil {
		return err
	}
	if err := v.Snapshot.Validate(); err != nil {
		return err
	}
	*doc = v
	return nil
}

// MarshalJSON writes the plan as `vmlife explain` shows it (docs/cli.md,
// "update"): {"state", "state_generation", "time_state_updated",
// "active_propolis_id", "target_propolis_id", "migration_id",
// "intended_state" (the new intent or null), "vmm_lost" (the loss to
// record, D22, or null), "destroy_active_vmm", "destroy_target_vmm",
// "network" (null, {"action":"update","vmm","sled"} or
// {"action":"delete"}), "deprovision", "migration_reservations" (null or
// {"active","target"})}. Every column a commit writes is in it, so that a
// caller outside Go that applies the document writes what the Go path
// does.
func (p Plan) MarshalJSON() ([]byte, error) {
	if !p.Runtime.State.IsValid() {
		return nil, &RuleError{Rule: RuleValidFields, Field: "state", Detail: p.Runtime.State.String()}
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"state":"`...)
	b = append(b, p.Runtime.State.String()...)
	b = append(b, `","state_generation":`...)
	b, _ = p.Runtime.Generation.AppendText(b)
	if !wire.CanWriteTime(p.Runtime.TimeUpdated) {
		return nil, &RuleError{Rule: RuleValidFields, Field: "time_state_updated", Detail: p.Runtime.TimeUpdated.String()}
	}
	b = append(b, `,"time_state_updated":`...)
	b = wire.AppendTimeOrNull(b, p.Runtime.TimeUpdated)
	b = append(b, `,"active_propolis_id":`...)
	b = wire.AppendIDOrNull(b, p.Runtime.ActiveVMM)
	b = append(b, `,"target_propolis_id":`...)
	b = wire.AppendIDOrNull(b, p.Runtime.TargetVMM)
	b = append(b, `,"migration_id":`...)
	b = wire.AppendIDOrNull(b, p.Runtime.MigrationID)
	b = append(b, `,"intended_state":`...)
	if p.Intent.IsValid() {
		b = append(b, '"')
		b = append(b, p.Intent.String()...)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"vmm_lost":`...)
	if l := p.Lost; l.IsSet() {
		if !l.Cause.IsValid() || !wire.CanWriteTime(l.Time) {
			return nil, &RuleError{Rule: RuleValidFields, Field: "vmm_lost", Detail: l.Cause.String()}
		}
		b = append(b, `{"cause":"`...)
		b = append(b, l.Cause.String()...)
		b = append(b, `","time":`...)
		b = wire.AppendTimeOrNull(b, l.Time)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"destroy_active_vmm":`...)
	b = wire.AppendIDOrNull(b, p.DestroyActiveVMM)
	b = append(b, `,"destroy_target_vmm":`...)
	b = wire.AppendIDOrNull(b, p.DestroyTargetVMM)
	b = append(b, `,"network":`...)
	switch p.Network.Action {
	case NetworkUpdate:
		b = append(b, `{"action":"update","vmm":`...)
		b = wire.AppendIDOrNull(b, p.Network.VMM)
		b = append(b, `,"sled":`...)
		b = wire.AppendIDOrNull(b, p.Network.Sled)
		b = append(b, '}')
	case NetworkDelete:
		b = append(b, `{"action":"delete"}`...)
	default:
		b = append(b, "null"...)
	}
	if !p.StopTargetVMM.IsZero() { // D37: written only when set
		b = append(b, `,"stop_target_vmm":`...)
		b = wire.AppendIDOrNull(b, p.StopTargetVMM)
	}
	if p.RestartFailures != 0 { // D33: written only when set
		b = append(b, `,"restart_failures":`...)
		b = strconv.AppendInt(b, int64(p.RestartFailures), 10)
	}
	b = append(b, `,"deprovision":`...)
	b = strconv.AppendBool(b, p.Deprovision)
	b = append(b, `,"migration_reservations":`...)
	if r := p.Reservations; r != (Reservations{}) {
		b = append(b, `{"active":`...)
		b = wire.AppendIDOrNull(b, r.Active)
		b = append(b, `,"target":`...)
		b = wire.AppendIDOrNull(b, r.Target)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}'), nil
}

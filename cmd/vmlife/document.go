package main

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// document is the snapshot document of docs/cli.md ("Snapshot document"), the
// input of explain and report and part of report's output: a snapshot and
// the time to decide it at.
//
// Field names are Omicron's database columns. Beyond docs/cli.md's keys (which
// docs/cli.md allows: "more keys may be added") the document carries the two
// values a Snapshot holds that docs/cli.md does not name, so that no part of a
// snapshot is lost between report and explain:
//
//   - "sled_unreachable_since" (top level): when the instance watcher first
//     found the active VMM's sled unreachable without proof of death (D18),
//     or null; it feeds the SledUnreachable condition (D14);
//   - "time_created" (in "migration"): the migration row's column, or null.
type document struct {
	Now      time.Time
	Snapshot instancestate.Snapshot
}

// The keys of each object of the document, in the order the encoder writes
// them.
var (
	documentKeys  = []string{"now", "instance", "active_vmm", "target_vmm", "migration", "sled_unreachable_since"}
	instanceKeys  = []string{"id", "state", "state_generation", "time_state_updated", "active_propolis_id", "target_propolis_id", "migration_id", "intended_state", "auto_restart_policy", "auto_restart_cooldown_secs", "time_last_auto_restarted", "updater_id", "updater_gen", "start_failure"}
	vmmKeys       = []string{"id", "instance_id", "sled_id", "state", "failure_reason", "state_generation", "time_state_updated"}
	migrationKeys = []string{"id", "instance_id", "source_propolis_id", "target_propolis_id", "source_state", "source_gen", "time_source_updated", "target_state", "target_gen", "time_target_updated", "time_created"}
)

// The accepted strings of each enum field, from the library's own tables.
var (
	nexusStateNames = names(instancestate.AllNexusStates())
	intentNames     = names(instancestate.AllIntendedStates())
	policyNames     = names(instancestate.AllAutoRestartPolicies())
	kindNames       = names(vmmstate.AllKinds())
	reasonNames     = names(failure.AllReasons())
	migrationNames  = names(migration.AllStates())
)

// acceptObject describes a required nested object for error messages.
func acceptObject(keys []string) string {
	return "a JSON object with keys " + strings.Join(keys, ", ")
}

// decodeDocument decodes a snapshot document strictly (see fields.go) and
// validates the snapshot (D17). extra are further top-level keys the
// caller reads from the returned reader (report's "vmm_id" and "report");
// the reader's err is set on any error, which is also returned.
func decodeDocument(data []byte, extra ...string) (document, *reader, error) {
	keys := append(append([]string(nil), documentKeys...), extra...)
	top := readObject("", data, keys)
	var d document
	d.Now = top.time("now", true)
	if raw := top.value("instance", true, acceptObject(instanceKeys)); raw != nil {
		d.Snapshot.Instance = decodeInstance(top, raw)
	}
	if raw := top.value("active_vmm", false, ""); raw != nil {
		d.Snapshot.Active = decodeVMM(top, "active_vmm", raw)
	}
	if raw := top.value("target_vmm", false, ""); raw != nil {
		d.Snapshot.Target = decodeVMM(top, "target_vmm", raw)
	}
	if raw := top.value("migration", false, ""); raw != nil {
		d.Snapshot.Migration = decodeMigration(top, raw)
	}
	d.Snapshot.SledUnreachableSince = top.time("sled_unreachable_since", false)
	if top.err != nil {
		return document{}, top, top.err
	}
	if err := d.Snapshot.Validate(); err != nil {
		top.err = ruleInput(err, true)
		return document{}, top, top.err
	}
	return d, top, nil
}

// decodeInstance reads the "instance" object; an error is recorded in top.
func decodeInstance(top *reader, raw []byte) instancestate.Instance {
	r := readObject("instance", raw, instanceKeys)
	var in instancestate.Instance
	in.ID = idField(r, "id", true, instancestate.ParseID)
	in.Runtime.State, _ = enumField(r, "state", true, nexusStateNames, instancestate.ParseNexusState)
	in.Runtime.Generation = r.gen("state_generation")
	in.Runtime.TimeUpdated = r.time("time_state_updated", true)
	in.Runtime.ActiveVMM = idField(r, "active_propolis_id", false, vmmstate.ParseID)
	in.Runtime.TargetVMM = idField(r, "target_propolis_id", false, vmmstate.ParseID)
	in.Runtime.MigrationID = idField(r, "migration_id", false, migration.ParseID)
	in.IntendedState, _ = enumField(r, "intended_state", true, intentNames, instancestate.ParseIntendedState)
	in.AutoRestart.Policy, _ = enumField(r, "auto_restart_policy", false, policyNames, instancestate.ParseAutoRestartPolicy)
	in.AutoRestart.Cooldown = r.cooldown("auto_restart_cooldown_secs")
	in.Runtime.TimeLastAutoRestarted = r.time("time_last_auto_restarted", false)
	in.UpdaterID = idField(r, "updater_id", false, instancestate.ParseUpdaterID)
	in.UpdaterGen = r.gen("updater_gen")
	r.decodeNested("start_failure", false, &in.StartFailure, startFailureAccepted)
	top.err = r.err
	return in
}

// startFailureAccepted says what a start failure and each of its fields
// accept (D13), in failure.StartFailure's JSON form.
var startFailureAccepted = map[string]string{
	"":          `null, or {"cause", "transient", "reason", "time"}`,
	"cause":     strings.Join(names(failure.AllCauses()), ", "),
	"transient": "true, false",
	"reason":    strings.Join(names(failure.AllStartReasons()), ", "),
	"time":      acceptTime,
}

// decodeVMM reads the VMM object at key; an error is recorded in top. The
// state and failure_reason columns are read together by vmmstate.Row's
// strict reader (D8): a failed VMM without a reason, or a reason on any
// other, breaks the CHECK constraint failure_reason_iff_failed.
func decodeVMM(top *reader, key string, raw []byte) vmmstate.VMM {
	r := readObject(key, raw, vmmKeys)
	var v vmmstate.VMM
	v.ID = idField(r, "id", true, vmmstate.ParseID)
	v.InstanceID = idField(r, "instance_id", true, vmmstate.ParseInstanceID)
	v.SledID = idField(r, "sled_id", true, vmmstate.ParseSledID)
	var row vmmstate.Row
	row.State, _ = enumField(r, "state", true, kindNames, vmmstate.ParseKind)
	row.FailureReason.V, row.FailureReason.Valid = enumField(r, "failure_reason", false, reasonNames, failure.ParseReason)
	row.StateGeneration = r.gen("state_generation")
	row.TimeStateUpdated = r.time("time_state_updated", true)
	if r.err == nil {
		rt, err := row.Runtime()
		var re *vmmstate.RecordError
		switch {
		case errors.As(err, &re) && re.Field == "failure_reason" && row.State == vmmstate.KindFailed:
			r.err = badInput(r.at("failure_reason"), "null breaks "+re.Rule, strings.Join(reasonNames, ", "))
		case errors.As(err, &re) && re.Field == "failure_reason":
			r.err = badInput(r.at("failure_reason"), strconv.Quote(re.Value)+" breaks "+re.Rule, "null unless state is failed")
		case err != nil:
			r.err = badInput(r.at("state"), err.Error(), strings.Join(kindNames, ", "))
		}
		v.Runtime = rt
	}
	top.err = r.err
	return v
}

// decodeMigration reads the "migration" object; an error is recorded in
// top. A record no stored row could be (the same VMM on both sides, a side
// at generation 0) is refused here, naming its column.
func decodeMigration(top *reader, raw []byte) migration.Record {
	r := readObject("migration", raw, migrationKeys)
	var m migration.Record
	m.ID = idField(r, "id", true, migration.ParseID)
	m.InstanceID = idField(r, "instance_id", true, vmmstate.ParseInstanceID)
	m.Source.VMM = idField(r, "source_propolis_id", true, vmmstate.ParseID)
	m.Target.VMM = idField(r, "target_propolis_id", true, vmmstate.ParseID)
	m.Source.State, _ = enumField(r, "source_state", true, migrationNames, migration.ParseState)
	m.Source.Generation = r.gen("source_gen")
	m.Source.TimeUpdated = r.time("time_source_updated", false)
	m.Target.State, _ = enumField(r, "target_state", true, migrationNames, migration.ParseState)
	m.Target.Generation = r.gen("target_gen")
	m.Target.TimeUpdated = r.time("time_target_updated", false)
	m.TimeCreated = r.time("time_created", false)
	if r.err == nil {
		if err := m.Validate(); err != nil {
			var me *migration.Error
			if errors.As(err, &me) {
				r.err = badInput(r.at(me.Field), me.Got+" breaks the migration record", me.Want)
			} else {
				r.err = badInput("migration", err.Error(), acceptObject(migrationKeys))
			}
		}
	}
	top.err = r.err
	return m
}

// ruleInput turns a *instancestate.RuleError into an *inputError at the
// JSON path of the field it names. fromValidate says the rule is one of
// D17's, which the message names as such; any other error is returned as
// it is.
func ruleInput(err error, fromValidate bool) error {
	var re *instancestate.RuleError
	if !errors.As(err, &re) {
		return err
	}
	rule := "rule " + re.Rule
	if fromValidate {
		rule = "D17 rule " + re.Rule
	}
	return &inputError{Path: columnPath(re.Field), Msg: re.Detail + " (breaks " + rule + ")"}
}

// columnPath returns the document path of a RuleError's field, which is an
// instance column or a path under one of the other records.
func columnPath(field string) string {
	for _, rec := range []string{"active_vmm", "target_vmm", "migration"} {
		if field == rec || strings.HasPrefix(field, rec+".") {
			return field
		}
	}
	if field == "auto_restart_cooldown" {
		field = "auto_restart_cooldown_secs"
	}
	return join("instance", field)
}

// The JSON form of the document, in docs/cli.md's key order. A nil pointer is
// null.
type (
	documentJSON struct {
		Now                  string         `json:"now"`
		Instance             instanceJSON   `json:"instance"`
		ActiveVMM            *vmmJSON       `json:"active_vmm"`
		TargetVMM            *vmmJSON       `json:"target_vmm"`
		Migration            *migrationJSON `json:"migration"`
		SledUnreachableSince *string        `json:"sled_unreachable_since"`
	}
	instanceJSON struct {
		ID                      string                `json:"id"`
		State                   string                `json:"state"`
		StateGeneration         generation.Generation `json:"state_generation"`
		TimeStateUpdated        string                `json:"time_state_updated"`
		ActivePropolisID        *string               `json:"active_propolis_id"`
		TargetPropolisID        *string               `json:"target_propolis_id"`
		MigrationID             *string               `json:"migration_id"`
		IntendedState           string                `json:"intended_state"`
		AutoRestartPolicy       *string               `json:"auto_restart_policy"`
		AutoRestartCooldownSecs *int64                `json:"auto_restart_cooldown_secs"`
		TimeLastAutoRestarted   *string               `json:"time_last_auto_restarted"`
		UpdaterID               *string               `json:"updater_id"`
		UpdaterGen              generation.Generation `json:"updater_gen"`
		StartFailure            *failure.StartFailure `json:"start_failure"`
	}
	vmmJSON struct {
		ID               string                `json:"id"`
		InstanceID       string                `json:"instance_id"`
		SledID           string                `json:"sled_id"`
		State            string                `json:"state"`
		FailureReason    *string               `json:"failure_reason"`
		StateGeneration  generation.Generation `json:"state_generation"`
		TimeStateUpdated string                `json:"time_state_updated"`
	}
	migrationJSON struct {
		ID                string                `json:"id"`
		InstanceID        string                `json:"instance_id"`
		SourcePropolisID  string                `json:"source_propolis_id"`
		TargetPropolisID  string                `json:"target_propolis_id"`
		SourceState       string                `json:"source_state"`
		SourceGen         generation.Generation `json:"source_gen"`
		TimeSourceUpdated *string               `json:"time_source_updated"`
		TargetState       string                `json:"target_state"`
		TargetGen         generation.Generation `json:"target_gen"`
		TimeTargetUpdated *string               `json:"time_target_updated"`
		TimeCreated       *string               `json:"time_created"`
	}
)

// stamp writes a time as RFC 3339 in UTC, with the fraction it needs.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// stampOrNull writes the zero time as null.
func stampOrNull(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}

// idOrNull writes the nil UUID as null.
func idOrNull[T interface {
	IsZero() bool
	String() string
}](id T) *string {
	if id.IsZero() {
		return nil
	}
	s := id.String()
	return &s
}

// encodeDocument returns the JSON form of d: every key, null for an absent
// value. The snapshot must be valid (D17): the encoder writes only what the
// decoder reads back to the same snapshot.
func encodeDocument(d document) (documentJSON, error) {
	s := d.Snapshot
	if err := s.Validate(); err != nil {
		return documentJSON{}, err
	}
	in, rt := s.Instance, s.Instance.Runtime
	out := documentJSON{
		Now: stamp(d.Now),
		Instance: instanceJSON{
			ID:                    in.ID.String(),
			State:                 rt.State.String(),
			StateGeneration:       rt.Generation,
			TimeStateUpdated:      stamp(rt.TimeUpdated),
			ActivePropolisID:      idOrNull(rt.ActiveVMM),
			TargetPropolisID:      idOrNull(rt.TargetVMM),
			MigrationID:           idOrNull(rt.MigrationID),
			IntendedState:         in.IntendedState.String(),
			TimeLastAutoRestarted: stampOrNull(rt.TimeLastAutoRestarted),
			UpdaterID:             idOrNull(in.UpdaterID),
			UpdaterGen:            in.UpdaterGen,
		},
		SledUnreachableSince: stampOrNull(s.SledUnreachableSince),
	}
	if p := in.AutoRestart.Policy; p != 0 {
		v := p.String()
		out.Instance.AutoRestartPolicy = &v
	}
	if c := in.AutoRestart.Cooldown; c != 0 {
		if c%time.Second != 0 {
			return documentJSON{}, fmt.Errorf("auto-restart cooldown %v is not a whole number of seconds", c)
		}
		secs := int64(c / time.Second)
		out.Instance.AutoRestartCooldownSecs = &secs
	}
	if in.HasStartFailure() {
		f := in.StartFailure
		out.Instance.StartFailure = &f
	}
	if s.HasActive() {
		v := encodeVMM(s.Active)
		out.ActiveVMM = &v
	}
	if s.HasTarget() {
		v := encodeVMM(s.Target)
		out.TargetVMM = &v
	}
	if s.HasMigration() {
		m := s.Migration
		out.Migration = &migrationJSON{
			ID:                m.ID.String(),
			InstanceID:        m.InstanceID.String(),
			SourcePropolisID:  m.Source.VMM.String(),
			TargetPropolisID:  m.Target.VMM.String(),
			SourceState:       m.Source.State.String(),
			SourceGen:         m.Source.Generation,
			TimeSourceUpdated: stampOrNull(m.Source.TimeUpdated),
			TargetState:       m.Target.State.String(),
			TargetGen:         m.Target.Generation,
			TimeTargetUpdated: stampOrNull(m.Target.TimeUpdated),
			TimeCreated:       stampOrNull(m.TimeCreated),
		}
	}
	return out, nil
}

// encodeVMM writes a VMM through vmmstate's database form (D8): the state
// column and the failure_reason column beside it.
func encodeVMM(v vmmstate.VMM) vmmJSON {
	row := v.Runtime.Row()
	return vmmJSON{
		ID:               v.ID.String(),
		InstanceID:       v.InstanceID.String(),
		SledID:           v.SledID.String(),
		State:            row.State.String(),
		FailureReason:    reasonOrNull(row.FailureReason),
		StateGeneration:  row.StateGeneration,
		TimeStateUpdated: stamp(row.TimeStateUpdated),
	}
}

func reasonOrNull(r sql.Null[failure.Reason]) *string {
	if !r.Valid {
		return nil
	}
	s := r.V.String()
	return &s
}

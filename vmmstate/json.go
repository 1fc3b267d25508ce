package vmmstate

import (
	"errors"
	"strconv"

	"github.com/vmlife/vmlife/internal/clip"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/internal/jsonread"
	"github.com/vmlife/vmlife/wire"
)

// This file holds the JSON forms of vmmstate's values, all read through
// jsonread: the domain state and runtime (strict, vmlife's own form), the
// sled-agent runtime (lenient about keys, D20), and the VMM record as the
// snapshot document has it (strict, the vmm table's columns).

var (
	runtimeKeys = jsonread.NewKeys(jsonread.Req("state"), jsonread.Req("gen"), jsonread.Req("time_updated")).
			Hint("gen", jsonread.AcceptGen).Hint("time_updated", jsonread.AcceptTime)
	// D20: a sled-agent's runtime ignores keys a newer sled-agent added.
	sledAgentRuntimeKeys = runtimeKeys.Lenient().Hint("state", sledAgentStates.Accepted())
	domainRuntimeKeys    = runtimeKeys.Hint("state", jsonStateAccepted)
	failedKeys           = jsonread.NewKeys(jsonread.Req("failed"))
	vmmKeys              = jsonread.NewKeys(jsonread.Req("id"), jsonread.Req("instance_id"), jsonread.Req("sled_id"),
		jsonread.Req("state"), jsonread.Opt("failure_reason"), jsonread.Req("state_generation"), jsonread.Req("time_state_updated")).
		Hint("id", jsonread.AcceptUUID).Hint("instance_id", jsonread.AcceptUUID).Hint("sled_id", jsonread.AcceptUUID).
		Hint("state", kinds.Accepted()).Hint("state_generation", jsonread.AcceptGen).Hint("time_state_updated", jsonread.AcceptTime)
)

// jsonStateAccepted lists the domain state's JSON forms.
var jsonStateAccepted = func() string {
	var b []byte
	for i, s := range AllStates() {
		if i > 0 {
			b = append(b, ", "...)
		}
		j, _ := s.MarshalJSON()
		b = append(b, j...)
	}
	return string(b)
}()

// decodeState reads the externally tagged domain state (D9): a label such
// as "running", or {"failed":"<reason>"}. Labels match exactly, as
// Omicron's serde form does: no case folding here (D24).
func decodeState(d *jsonread.Decoder) State {
	if d.Peek() == '{' {
		var st State
		o := d.Object(failedKeys)
		for o.Next() {
			if r, ok := jsonread.Parsed(d, reasonsAccepted, failure.ParseReason); ok {
				st = Failed(r)
			}
		}
		return st
	}
	s := d.String(jsonStateAccepted)
	if d.Failed() {
		return 0
	}
	for _, k := range AllKinds() {
		if k != KindFailed && string(s) == k.String() {
			return State(k)
		}
	}
	q := strconv.Quote(string(s))
	d.Fail("unknown value "+q, q, jsonStateAccepted, &enum.Error{Type: "vmmstate.State", Input: q, Accepted: jsonStateNames()})
	return 0
}

// UnmarshalJSON reads the externally tagged form MarshalJSON writes. Anything
// else — a bare "failed", an unknown label or reason, extra or repeated
// keys — is a *wire.DecodeError and leaves s unchanged.
func (s *State) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	v := decodeState(&d)
	if err := d.End(); err != nil {
		// Every rejection names no State: it matches ErrUnknown, like
		// every other input an enum refuses (D3).
		var de *wire.DecodeError
		if errors.As(err, &de) && de.Err == nil {
			de.Err = &enum.Error{Type: "vmmstate.State", Input: clip.Bytes(b, 64), Accepted: jsonStateNames()}
		}
		return err
	}
	*s = v
	return nil
}

// UnmarshalJSON decodes the domain form strictly: all three keys required,
// no other key accepted. On error r is unchanged and the error is a
// *wire.DecodeError.
func (r *Runtime) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v Runtime
	o := d.Object(domainRuntimeKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			v.State = decodeState(&d)
		case 1:
			v.Generation = d.Generation()
		case 2:
			v.TimeUpdated = d.Time()
		}
	}
	if err := d.End(); err != nil {
		return err
	}
	*r = v
	return nil
}

// UnmarshalJSON decodes the sled-agent form: all three keys are required,
// and keys vmlife does not know are ignored (D20), so a newer sled-agent's
// report is never lost. An unknown state value is still an error. On error
// r is unchanged and the error is a *wire.DecodeError.
func (r *SledAgentRuntime) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v SledAgentRuntime
	o := d.Object(sledAgentRuntimeKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			v.State = jsonread.Enum(&d, sledAgentStates)
		case 1:
			v.Generation = d.Generation()
		case 2:
			v.TimeUpdated = d.Time()
		}
	}
	if err := d.End(); err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalJSON writes the VMM record as the snapshot document has it, with
// the vmm table's column names (§5.3):
// `{"id","instance_id","sled_id","state","failure_reason","state_generation","time_state_updated"}`.
// The state and failure_reason columns are written together (D8, §6.3):
// the reason is null unless the state is failed. An invalid record is an
// error.
func (v VMM) MarshalJSON() ([]byte, error) {
	if err := v.Runtime.Validate(); err != nil {
		return nil, err
	}
	if !wire.CanWriteTime(v.Runtime.TimeUpdated) {
		return nil, &RecordError{Field: "time_state_updated", Value: v.Runtime.TimeUpdated.String(), Rule: "a time in years 0000..9999 in UTC"}
	}
	row := v.Runtime.Row()
	b := make([]byte, 0, 256)
	b = append(b, `{"id":"`...)
	b, _ = v.ID.AppendText(b)
	b = append(b, `","instance_id":"`...)
	b, _ = v.InstanceID.AppendText(b)
	b = append(b, `","sled_id":"`...)
	b, _ = v.SledID.AppendText(b)
	b = append(b, `","state":"`...)
	b = append(b, row.State.String()...)
	b = append(b, `","failure_reason":`...)
	if row.FailureReason.Valid {
		b = append(b, '"')
		b = append(b, row.FailureReason.V.String()...)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"state_generation":`...)
	b, _ = row.StateGeneration.AppendText(b)
	b = append(b, `,"time_state_updated":"`...)
	b = wire.AppendTime(b, row.TimeStateUpdated)
	b = append(b, `"}`...)
	return b, nil
}

// UnmarshalJSON reads the form MarshalJSON writes, strictly (D3): every key
// but failure_reason required, no other key, ids non-nil. The state and
// failure_reason columns are read together by Row.Runtime (D8): a failed
// VMM without a reason, or a reason on any other, breaks the CHECK
// constraint failure_reason_iff_failed and is refused. On error v is
// unchanged and the error is a *wire.DecodeError.
func (v *VMM) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var (
		out VMM
		row Row
	)
	o := d.Object(vmmKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			out.ID = IDFromUUID(d.UUID(true))
		case 1:
			out.InstanceID = InstanceIDFromUUID(d.UUID(true))
		case 2:
			out.SledID = SledIDFromUUID(d.UUID(true))
		case 3:
			row.State = jsonread.Enum(&d, kinds)
		case 4:
			row.FailureReason.V, row.FailureReason.Valid = jsonread.Parsed(&d, reasonsAccepted, failure.ParseReason)
		case 5:
			row.StateGeneration = d.Generation()
		case 6:
			row.TimeStateUpdated = d.Time()
		}
	}
	if !d.Failed() {
		rt, err := row.Runtime()
		switch {
		case err == nil:
			out.Runtime = rt
		case row.State == KindFailed:
			o.Fail("failure_reason", "null breaks "+ruleReasonIffFailed+" (state is failed)", "null", reasonsAccepted)
		default:
			q := strconv.Quote(row.FailureReason.V.String())
			o.Fail("failure_reason", q+" breaks "+ruleReasonIffFailed+" (state is "+row.State.String()+")", q, "null unless state is failed")
		}
	}
	if err := d.End(); err != nil {
		return err
	}
	*v = out
	return nil
}

// reasonsAccepted lists the failure reasons (§4.3) for messages.
var reasonsAccepted = func() string {
	var b []byte
	for i, r := range failure.AllReasons() {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, r.String()...)
	}
	return string(b)
}()

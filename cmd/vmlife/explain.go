package main

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/wire"
)

func init() {
	commands["explain"] = command{
		run:   jsonCommand("explain", explain),
		usage: "explain [FILE]\twhat the control plane makes of a snapshot document: state, update plan, requests, reincarnation, conditions, next action",
	}
}

// The output of explain, in docs/cli.md's key order ("vmlife explain").
type (
	explainJSON struct {
		EffectiveState string              `json:"effective_state"`
		Update         *instancestate.Plan `json:"update"` // §13.3 as amended by D11; null when none is required
		Requests       requestsJSON        `json:"requests"`
		Reincarnation  reincarnationJSON   `json:"reincarnation"`
		Conditions     []conditionJSON     `json:"conditions"`
		NextAction     nextActionJSON      `json:"next_action"`
	}
	requestsJSON struct {
		Start   decisionJSON `json:"start"`
		Stop    decisionJSON `json:"stop"`
		Reboot  decisionJSON `json:"reboot"`
		Migrate decisionJSON `json:"migrate"`
		Delete  decisionJSON `json:"delete"`
	}
	decisionJSON struct {
		Action  string  `json:"action"`
		Status  int     `json:"status"`
		Message *string `json:"message,omitempty"` // only on rejection
	}
	reincarnationJSON struct {
		Needs  bool    `json:"needs"`
		Status string  `json:"status"`
		Until  *string `json:"until"`
		Should bool    `json:"should"`
	}
	conditionJSON struct {
		Type    string      `json:"type"`
		Reason  string      `json:"reason"`
		Message string      `json:"message"`
		Since   *string     `json:"since"`
		Until   *string     `json:"until"`
		Record  *recordJSON `json:"record,omitempty"` // NotProgressing, MigrationStalled (D32, D34)
	}
	recordJSON struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}
	nextActionJSON struct {
		Action    string      `json:"action"`
		Until     *string     `json:"until,omitempty"`     // only for wait
		Record    *recordJSON `json:"record,omitempty"`    // only for inspect (D32)
		Sled      string      `json:"sled,omitempty"`      // inspect: the VMM's sled; abort_migration: the target's
		Migration string      `json:"migration,omitempty"` // only for abort_migration (D34)
		StopVMM   string      `json:"stop_vmm,omitempty"`  // only for abort_migration
	}
)

// recordOrNil writes a record reference, or nil for none.
func recordOrNil(r instancestate.RecordRef) *recordJSON {
	if r.IsZero() {
		return nil
	}
	return &recordJSON{Kind: r.Kind.String(), ID: r.ID.String()}
}

// explain decodes a snapshot document and asks the library every question
// docs/cli.md's explain answers, each at the document's now. Every answer is the
// library's; explain only writes it down.
func explain(input []byte) (any, error) {
	d, err := decodeDocument(input)
	if err != nil {
		return nil, err
	}
	s, now := d.Snapshot, d.Now
	var out explainJSON

	state, err := instancestate.EffectiveState(s)
	if err != nil {
		return nil, ruleInput(err, true)
	}
	out.EffectiveState = state.String()

	plan, required, err := instancestate.PlanUpdate(s, now)
	if err != nil {
		return nil, ruleInput(err, false)
	}
	if required {
		out.Update = &plan
	}

	for _, q := range []struct {
		r   instancestate.Request
		dst *decisionJSON
	}{
		{instancestate.RequestStart, &out.Requests.Start},
		{instancestate.RequestStop, &out.Requests.Stop},
		{instancestate.RequestReboot, &out.Requests.Reboot},
		{instancestate.RequestMigrate, &out.Requests.Migrate},
		{instancestate.RequestDelete, &out.Requests.Delete},
	} {
		dec, err := instancestate.Decide(s, q.r, now)
		if err != nil {
			return nil, ruleInput(err, false)
		}
		*q.dst = decisionJSON{Action: dec.Action.String(), Status: dec.Status}
		if !dec.Accepted() {
			msg := dec.Message
			q.dst.Message = &msg
		}
	}

	r, err := instancestate.Reincarnate(s, now)
	if err != nil {
		return nil, ruleInput(err, true)
	}
	out.Reincarnation = reincarnationJSON{Needs: r.Needs, Status: r.Status.String(), Until: stampOrNull(r.Until), Should: r.Should}

	conds, err := instancestate.Conditions(s, now)
	if err != nil {
		return nil, ruleInput(err, true)
	}
	out.Conditions = make([]conditionJSON, 0, len(conds))
	for _, c := range conds {
		out.Conditions = append(out.Conditions, conditionJSON{
			Type: c.Type.String(), Reason: c.Reason, Message: c.Message(),
			Since: stampOrNull(c.Since), Until: stampOrNull(c.Until), Record: recordOrNil(c.Record),
		})
	}

	next, err := instancestate.Next(s, now)
	if err != nil {
		return nil, ruleInput(err, true)
	}
	out.NextAction = nextActionJSON{Action: next.Action.String()}
	switch next.Action {
	case instancestate.NextWait:
		out.NextAction.Until = stampOrNull(next.Until)
	case instancestate.NextInspect:
		out.NextAction.Record = recordOrNil(next.Record)
		if !next.Sled.IsZero() {
			out.NextAction.Sled = next.Sled.String()
		}
	case instancestate.NextAbortMigration:
		out.NextAction.Migration, out.NextAction.StopVMM, out.NextAction.Sled = next.Migration.String(), next.StopVMM.String(), next.Sled.String()
	}
	return out, nil
}

// marshalOutput writes one JSON object, indented for people, ending in a
// newline. HTML escaping is off: nothing here is embedded in HTML, and a
// message's "<" should read as "<".
func marshalOutput(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// stampOrNull writes a time as RFC 3339 in UTC, the zero time as null.
func stampOrNull(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := string(wire.AppendTime(nil, t))
	return &v
}

package main

import (
	"bytes"
	"encoding/json"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
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
		EffectiveState string            `json:"effective_state"`
		Update         *planJSON         `json:"update"`
		Requests       requestsJSON      `json:"requests"`
		Reincarnation  reincarnationJSON `json:"reincarnation"`
		Conditions     []conditionJSON   `json:"conditions"`
		NextAction     nextActionJSON    `json:"next_action"`
	}
	// planJSON is an instancestate.Plan (§13.3 as amended by D11).
	planJSON struct {
		State                 string                `json:"state"`
		StateGeneration       generation.Generation `json:"state_generation"`
		ActivePropolisID      *string               `json:"active_propolis_id"`
		TargetPropolisID      *string               `json:"target_propolis_id"`
		MigrationID           *string               `json:"migration_id"`
		IntendedState         *string               `json:"intended_state"`
		DestroyActiveVMM      *string               `json:"destroy_active_vmm"`
		DestroyTargetVMM      *string               `json:"destroy_target_vmm"`
		Network               *networkJSON          `json:"network"`
		Deprovision           bool                  `json:"deprovision"`
		MigrationReservations *reservationsJSON     `json:"migration_reservations"`
	}
	networkJSON struct {
		Action string  `json:"action"`
		VMM    *string `json:"vmm,omitempty"`
		Sled   *string `json:"sled,omitempty"`
	}
	reservationsJSON struct {
		Active string `json:"active"`
		Target string `json:"target"`
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
		Type    string  `json:"type"`
		Reason  string  `json:"reason"`
		Message string  `json:"message"`
		Since   *string `json:"since"`
		Until   *string `json:"until"`
	}
	nextActionJSON struct {
		Action string  `json:"action"`
		Until  *string `json:"until,omitempty"` // only for wait
	}
)

// explain decodes a snapshot document and asks the library every question
// docs/cli.md's explain answers, each at the document's now. Every answer is the
// library's; explain only writes it down.
func explain(input []byte) (any, error) {
	d, _, err := decodeDocument(input)
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
		out.Update = encodePlan(plan)
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
			Type: c.Type.String(), Reason: c.Reason, Message: c.Message,
			Since: stampOrNull(c.Since), Until: stampOrNull(c.Until),
		})
	}

	next, err := instancestate.Next(s, now)
	if err != nil {
		return nil, ruleInput(err, true)
	}
	out.NextAction = nextActionJSON{Action: next.Action.String()}
	if next.Action == instancestate.NextWait {
		out.NextAction.Until = stampOrNull(next.Until)
	}
	return out, nil
}

// encodePlan writes a plan with exactly the keys docs/cli.md lists for "update".
func encodePlan(p instancestate.Plan) *planJSON {
	out := &planJSON{
		State:            p.Runtime.State.String(),
		StateGeneration:  p.Runtime.Generation,
		ActivePropolisID: idOrNull(p.Runtime.ActiveVMM),
		TargetPropolisID: idOrNull(p.Runtime.TargetVMM),
		MigrationID:      idOrNull(p.Runtime.MigrationID),
		DestroyActiveVMM: idOrNull(p.DestroyActiveVMM),
		DestroyTargetVMM: idOrNull(p.DestroyTargetVMM),
		Deprovision:      p.Deprovision,
	}
	if p.Intent != 0 {
		v := p.Intent.String()
		out.IntendedState = &v
	}
	switch p.Network.Action {
	case instancestate.NetworkUpdate:
		out.Network = &networkJSON{Action: p.Network.Action.String(), VMM: idOrNull(p.Network.VMM), Sled: idOrNull(p.Network.Sled)}
	case instancestate.NetworkDelete:
		out.Network = &networkJSON{Action: p.Network.Action.String()}
	}
	if r := p.Reservations; r != (instancestate.Reservations{}) {
		out.MigrationReservations = &reservationsJSON{Active: r.Active.String(), Target: r.Target.String()}
	}
	return out
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

package sim

import (
	"strconv"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// Users: requests decided by the library, and what the decisions say
// to do (§10, D16).

// requestWeights say how often users send each request.
var requestWeights = [...]int{
	instancestate.RequestStart:   4,
	instancestate.RequestStop:    3,
	instancestate.RequestReboot:  2,
	instancestate.RequestMigrate: 3,
	instancestate.RequestDelete:  1,
}

// userRequest: a user sends one request about one instance, decided by
// instancestate.Decide; the intent is written only when the request is
// accepted (D16), and the decision's action is carried out.
func (w *World) userRequest() {
	if len(w.instances) == 0 {
		return
	}
	in := w.instances[w.intn(len(w.instances))]
	total := 0
	for _, x := range requestWeights {
		total += x
	}
	n := w.intn(total)
	req := instancestate.RequestStart
	for r, x := range requestWeights {
		if n < x {
			req = instancestate.Request(r)
			break
		}
		n -= x
	}
	s := w.snapshot(in)
	var (
		d    instancestate.Decision
		err  error
		dest *sled
	)
	if req == instancestate.RequestMigrate {
		// §10.5: the destination is the user's choice, any sled in the
		// rack — the instance's own included.
		if dest = w.pickSled(func(sl *sled) bool { return !sl.expunged }); dest == nil {
			return
		}
		d, err = instancestate.DecideMigrate(s, dest.id)
	} else {
		d, err = instancestate.Decide(s, req, w.now)
	}
	if err != nil {
		w.unexpected("Decide("+req.String()+")", in.name, err)
		return
	}
	w.record(in, req, d)
	w.carryOut(in, s, d, dest)
}

// record counts a decision and checks D16 on it.
func (w *World) record(in *instRow, req instancestate.Request, d instancestate.Decision) {
	w.stats.Decisions[d.Action]++
	if d.Accepted() {
		w.stats.Requests[req][0]++
	} else {
		w.stats.Requests[req][1]++
		if d.Intent != 0 {
			w.violate("D16", in.name, "a rejected "+req.String()+" request carries intent "+d.Intent.String())
		}
	}
	w.tracef("request %v %s: %v %d %s", req, in.name, d.Action, d.Status, d.Message)
}

// carryOut does what a decision says. What it writes — the intent of an
// accepted request (D16), with the runtime that goes with it — is written
// by datastore.RecordDecision, the one home of that write (D31) that
// package controlplane's Request calls too; the world decided on its own
// snapshot, which knows more than the store (unreachable sleds, the
// migrations in flight).
func (w *World) carryOut(in *instRow, s instancestate.Snapshot, d instancestate.Decision, dest *sled) {
	if d.Action == instancestate.ActionUpdateRuntime && !d.Runtime.Generation.After(in.rec.Runtime.Generation) {
		w.violate("§10.2", in.name, "UpdateRuntime does not advance the generation")
		return
	}
	rr, err := datastore.RecordDecision(w.ctx, w.st, in.rec.ID, d)
	switch {
	case err != nil:
		w.unexpected("record_decision", in.name, err)
		return
	case d.Accepted() && !rr.Decision.Accepted():
		// The world is the only writer between its decision and this
		// write: nothing can have raced it.
		w.violate("D25", in.name, "the write of an accepted "+d.Action.String()+" was refused: "+rr.Decision.Message)
		return
	}
	if d.Action == instancestate.ActionUpdateRuntime || d.Intent != instancestate.IntentUnchanged {
		w.reload(in)
	}
	switch d.Action {
	case instancestate.ActionStartSaga:
		if in.starts < 2 {
			w.startStart(in, failure.StartReasonUser)
		}
	case instancestate.ActionSendToSled:
		w.sendToSled(s.Active, d.SledRequest)
	case instancestate.ActionMigrateSaga:
		if in.migrates == 0 && dest != nil {
			in.migrates++
			w.launch(in, &sagas.Migrate{Instance: in.rec.ID, Source: s.Active.ID, Destination: dest.id})
		}
	case instancestate.ActionDeleteSaga:
		if in.deletes == 0 {
			in.deletes++
			w.launch(in, &sagas.Delete{Instance: in.rec.ID})
		}
	}
}

// sendToSled is §10.2's SendToSled: vmm_put_state to the VMM's sled-agent,
// made and recorded by controlplane.SendToSled, the one home of this call
// (D31). The answer is recorded as a report; a call that proves the VMM
// gone marks it failed (§10.4, D18); any other failure changes nothing, and
// the reconciler asks again later (D19). It reports whether the request
// needs no asking again: taken, or the VMM gone.
func (w *World) sendToSled(v vmmstate.VMM, req instancestate.SledRequest) (done bool) {
	if w.sledByID(v.SledID) == nil {
		return true
	}
	sent, err := controlplane.SendToSled(w.ctx, (*sledAgents)(w), w.st, v, req, w.now)
	w.tracef("send %v to %s: answered %v, status %d, gone %v", req, w.vmmName(v.ID), sent.Answered, sent.Call.HTTPStatus, sent.Call.VMMGone)
	row := w.vmms[v.ID]
	switch {
	case sent.Answered:
		w.stats.SledCalls["200"]++
		if err != nil {
			w.unexpected("sled_report", w.vmmName(v.ID), err)
		} else if row != nil {
			w.reported(row, nil, sent.Report)
		}
		return true
	case sent.Call.HTTPStatus == 0:
		w.unexpected("vmm_put_state", w.vmmName(v.ID), err)
		return false
	}
	w.stats.SledCalls[strconv.Itoa(sent.Call.HTTPStatus)]++
	if !sent.Call.VMMGone {
		return false
	}
	switch {
	case err != nil:
		w.unexpected("vmm_mark_failed", w.vmmName(v.ID), err)
	case row != nil:
		w.died(row, sent.Call.Reason, sent.Death)
	}
	return true
}

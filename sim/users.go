package sim

import (
	"fmt"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/instancestate"
)

// Users: requests decided by the library and carried out by the control
// plane (§10, D16).

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
	w.carryOut(in, req, d, dest)
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

// carryOut has the control plane carry out the request the world just
// decided (controlplane.Request, Migrate): it decides again on the same
// records — the world is their only writer between the two — writes the
// intent of an accepted request with the decision's runtime (D16, D25),
// and begins the saga the decision names or sends the request to the
// active VMM's sled-agent. Its decision must be the world's, and a write
// of an accepted one can have lost no race (D25).
func (w *World) carryOut(in *instRow, req instancestate.Request, d instancestate.Decision, dest *sled) {
	if d.Action == instancestate.ActionUpdateRuntime && !d.Runtime.Generation.After(in.rec.Runtime.Generation) {
		w.violate("§10.2", in.name, "UpdateRuntime does not advance the generation")
		return
	}
	var out controlplane.Outcome
	var err error
	if req == instancestate.RequestMigrate {
		out, err = w.cp.Migrate(w.ctx, in.rec.ID, dest.id)
	} else {
		out, err = w.cp.Request(w.ctx, in.rec.ID, req)
	}
	switch {
	case err != nil:
		// Judged as the control plane logged it (cpErrors); a sled-agent
		// that did not take a stop or a reboot is the world's weather.
	case d.Accepted() && !out.Decision.Accepted():
		w.violate("D25", in.name, "the write of an accepted "+d.Action.String()+" was refused: "+out.Decision.Message)
	case out.Decision != d:
		w.violate("the control plane decides as the library", in.name,
			fmt.Sprintf("the world decided %+v, the control plane %+v", d, out.Decision))
	}
	if d.Accepted() {
		w.reload(in)
	}
}

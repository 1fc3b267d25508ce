package sim

import (
	"context"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// The instance watcher (§18, D18): the control plane's pass, which the
// world runs a VMM at a time; the world is its view of the sleds.

// watch takes one step of the control plane's instance watcher pass
// (controlplane.TaskRun): at the first, the pass lists every VMM each
// sled holds; at each of the others, it checks one of them and acts on
// failure.CheckHealth's verdict — the answer recorded, a proof of death
// recorded, a silent sled observed. Sagas, sled-agents and faults move
// between two checks, as they do between a real watcher's calls. The
// pass after begins at the action after the last check.
func (w *World) watch() {
	if w.watching == nil {
		r, err := w.cp.BeginTask(controlplane.TaskInstanceWatcher)
		if err != nil {
			w.unexpected("instance_watcher", "control plane", err)
			return
		}
		w.watching = r
	}
	if !w.watching.Step(w.ctx) {
		w.watching = nil // an error that ended it was judged (cpErrors)
	}
}

// watched counts a check's verdict, as the control plane classifies what
// the world answered (failure.CheckHealth), and marks the VMM for reading
// back: the control plane may have recorded the answer or the death, and
// what it observed is part of the instance's snapshot. Every check the
// control plane makes through the world is counted — its watcher's pass,
// a reconciler's look at a VMM past its deadline, a resumption's check of
// an unlinked VMM — as it asks, whatever it then records.
func (w *World) watched(v vmmstate.VMM, chk failure.Check, answered bool) {
	w.answered(v.ID)
	label := failure.Verdict{Healthy: true}.Label()
	if !answered {
		vd, err := failure.CheckHealth(chk)
		if err != nil {
			return // the control plane refuses it, and logs why (cpErrors)
		}
		label = vd.Label()
	}
	w.stats.Watcher[label]++
	w.tracef("watcher %s: %s", w.vmmName(v.ID), label)
}

// watcher is the world as its control plane's controlplane.Watcher: the
// management network's view of every sled.
type watcher World

// WatchedSleds implements controlplane.Watcher: every sled, expunged ones
// included — their VMMs are failed by the check.
func (wa *watcher) WatchedSleds(context.Context) ([]vmmstate.SledID, error) {
	w := (*World)(wa)
	out := make([]vmmstate.SledID, len(w.sleds))
	for i, sl := range w.sleds {
		out[i] = sl.id
	}
	return out, nil
}

// Check implements controlplane.Watcher: the sled-agent of v's sled is
// asked for v's state, through the faults the world injects. It answers
// when its sled is on, reachable and holds v; otherwise the check says
// what the management network knows — expunged, powered off, cut off
// with its power known or not — or that the agent holds no such VMM.
func (wa *watcher) Check(_ context.Context, v vmmstate.VMM) (instancestate.Report, failure.Check, bool) {
	w := (*World)(wa)
	sl := w.sledByID(v.SledID)
	var chk failure.Check
	switch {
	case sl == nil:
		chk.Err, chk.Power = w.commError(), failure.PowerUnknown
	case sl.expunged:
		chk.SledExpunged = true
	case sl.power != failure.PowerA0:
		chk.Err, chk.Power = w.commError(), sl.power
	case sl.partitioned:
		chk.Err, chk.Power = w.commError(), failure.PowerA0
		if sl.mgsUnknown {
			chk.Power = failure.PowerUnknown
		}
	default:
		a := sl.find(v.ID)
		switch {
		case a == nil:
			chk.Err = &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}
		case w.fault(FaultStartTransient) && w.chance(20):
			w.stats.Faults[FaultStartTransient]++
			chk.Err = &failure.Outcome{Status: 503}
		default:
			rep := a.report()
			w.answeredSides(rep)
			w.watched(v, chk, true)
			return rep, chk, true
		}
	}
	w.watched(v, chk, false)
	return instancestate.Report{}, chk, false
}

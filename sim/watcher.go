package sim

import (
	"context"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// The instance watcher (§18): the world picks the VMM, and its control
// plane checks it (D18).

// watch checks one VMM the watcher lists (§8.1
// instance_and_vmm_list_by_sled_agent: not creating, saga_unwound or
// destroyed) and acts on failure.CheckHealth's verdict: apply the state
// the sled-agent reported, fail the VMM on proof of death, or only note
// that its sled is unreachable (D18).
func (w *World) watch() {
	// §8.1 lists VMMs not in NONEXISTENT_STATES: §4.2's exists_on_sled.
	// The watcher picks one of them at random, by drawing rows until one
	// is listed (a few draws: most rows are), and only after eight misses
	// by counting them — no list of a fleet's VMMs is built at a check.
	listed := func(r *vmmRow) bool { return r.vmm.Runtime.State.ExistsOnSled() && w.vmms[r.vmm.ID] == r }
	if len(w.vmmOrder) == 0 {
		return
	}
	var r *vmmRow
	for range 8 {
		if c := w.vmmOrder[w.intn(len(w.vmmOrder))]; listed(c) {
			r = c
			break
		}
	}
	if r == nil {
		n := 0
		for _, c := range w.vmmOrder {
			if listed(c) {
				n++
			}
		}
		if n == 0 {
			return
		}
		for k, i := w.intn(n), 0; r == nil; i++ {
			if listed(w.vmmOrder[i]) {
				if k == 0 {
					r = w.vmmOrder[i]
				}
				k--
			}
		}
	}
	w.checkVMM(r.vmm.ID)
}

// checkVMM has the control plane check VMM id (controlplane.CheckVMM, §18):
// its sled-agent is asked through the world's Watcher, and the verdict
// (failure.CheckHealth, D18) acted on — the answer recorded, a proof of
// death recorded, a silent sled observed. The world counts the verdict,
// and checks the instance again at the step's end: the observation is
// part of its snapshot.
func (w *World) checkVMM(id vmmstate.ID) {
	r := w.vmms[id]
	if r == nil {
		return
	}
	v, err := w.cp.CheckVMM(w.ctx, id)
	if err != nil {
		return // judged as the control plane logged it (cpErrors)
	}
	w.stats.Watcher[v.Label()]++
	w.tracef("watcher %s: %s", r.name, v.Label())
	w.touch(w.instByID[r.vmm.InstanceID])
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
	w.answered(v.ID) // the control plane records the answer, or the death
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
			return rep, chk, true
		}
	}
	return instancestate.Report{}, chk, false
}

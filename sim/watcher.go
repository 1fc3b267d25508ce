package sim

import (
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/vmmstate"
)

// The instance watcher (§18): health checks classified by the library
// (D18).

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
	w.check(r)
}

// check is one health check of VMM r (§18): ask its sled-agent, classify
// the answer (failure.CheckHealth, D18) and act on it. The watcher runs it
// on a VMM it picks; the reconciler on a VMM past its deadline (D32).
func (w *World) check(r *vmmRow) {
	sl := w.sledByID(r.vmm.SledID)
	if sl == nil {
		return
	}
	var chk failure.Check
	var a *agentVMM
	switch {
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
		a = sl.find(r.vmm.ID)
		switch {
		case a == nil:
			chk.Err = &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}
		case w.fault(FaultStartTransient) && w.chance(20):
			w.stats.Faults[FaultStartTransient]++
			chk.Err = &failure.Outcome{Status: 503}
		}
	}
	v, err := failure.CheckHealth(chk)
	if err != nil {
		w.unexpected("CheckHealth", r.name, err)
		return
	}
	w.stats.Watcher[v.Label()]++
	w.tracef("watcher %s: %s", r.name, v.Label())
	in := w.live(r.vmm.InstanceID)
	switch {
	case v.Healthy:
		if in != nil && in.unreachableVMM == r.vmm.ID {
			in.unreachable, in.unreachableVMM = time.Time{}, vmmstate.ID{}
			w.touch(in)
		}
		w.applyReport(r.vmm.ID, a.report())
	case v.Failed:
		w.markFailed(r.vmm.ID, v.Reason)
	case v.Incomplete == failure.IncompleteUnreachable:
		// D14, D18: not a failure, only an observation with its start.
		if in != nil && in.rec.Runtime.ActiveVMM == r.vmm.ID && in.unreachableVMM != r.vmm.ID {
			in.unreachable, in.unreachableVMM = w.now, r.vmm.ID
			w.touch(in)
		}
	}
}

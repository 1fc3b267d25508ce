package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/invariant"
	"github.com/vmlife/vmlife/vmmstate"
)

// Violation is an invariant that did not hold after a step.
type Violation struct {
	Step    int    // the step after which it was found (0: the initial world)
	Seed    uint64 // Config.Seed, to reproduce it
	Check   string // the invariant
	Subject string // the instance, VMM, sled or operation it is about
	Detail  string // what was seen
}

func (v Violation) String() string {
	return fmt.Sprintf("violation at step %d (seed %d): %s: %s: %s", v.Step, v.Seed, v.Check, v.Subject, v.Detail)
}

// violate records a violation; each (check, subject) pair is kept once,
// and every occurrence is counted.
func (w *World) violate(check, subject, detail string) {
	if w.stop != nil {
		return // what a world sees after its store stopped answering is no evidence
	}
	w.stats.ViolationOccurrences++
	key := check + "\x00" + subject
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	w.violations = append(w.violations, Violation{Step: w.step, Seed: w.cfg.Seed, Check: check, Subject: subject, Detail: detail})
	w.tracef("VIOLATION %s: %s: %s", check, subject, detail)
	w.keep() // a finding outlives the process that made it
}

// unexpected records an error vmlife returned where the world's records
// should have let it decide: the database holds something vmlife calls
// invalid, or the simulator asked something it should not have.
// A store that did not answer is not that: the world stops (Err).
func (w *World) unexpected(op, subject string, err error) {
	if errors.Is(err, datastore.ErrUnavailable) {
		w.abort(fmt.Errorf("sim: step %d: %s %s: %w", w.step, op, subject, err))
		return
	}
	w.violate("unexpected error from "+op, subject, err.Error())
}

// CheckAll checks every invariant now, in full (as every
// Config.FullCheckEvery steps do), and returns the violations it found
// first: the check to run when a simulation ends.
func (w *World) CheckAll() []Violation {
	before := len(w.violations)
	w.checkAll()
	return w.violations[before:]
}

// checkAll checks every invariant: each instance's snapshot on its own,
// its change over the step, and that it explains itself; then the world's
// own invariants across instances, VMMs, migrations and sleds.
func (w *World) checkAll() {
	for _, in := range w.instances {
		w.checkInstance(in)
	}
	w.checkDropped()
	w.untouch()
	w.checkLocks()
	w.checkLinks()
	w.checkCapacity()
	w.checkGenerations()
	w.checkOneRunning()
}

// checkOneRunning: no instance's guest runs in two VMMs at once — not
// after a migration, not after a stop that raced one (D37), not after a
// restart beside a VMM left behind — among the VMMs the sled-agents of
// sleds in service hold (an expunged sled's VMMs are dead by policy, §18).
func (w *World) checkOneRunning() {
	running := make(map[vmmstate.InstanceID]*agentVMM)
	for _, sl := range w.sleds {
		if !sl.inService() {
			continue
		}
		for _, a := range sl.agent {
			if a.gone || a.p != pRunning {
				continue
			}
			if o := running[a.inst]; o != nil {
				w.violate("one VMM runs an instance's guest", a.inst.String(), o.name+" and "+a.name+" both run")
			}
			running[a.inst] = a
		}
	}
}

// checkTouched is the check between full ones, and it finds what they
// would: an instance's checks depend only on its own records, its update
// sagas, the watcher's observation of it — each of which marks it touched
// when it changes — and the time, which matters only when a cooldown ends
// (its due time). So it checks the instances touched in the step, those
// due, and the ones deleted. The generations are checked at every write
// (notBefore); links and capacity, which span instances, wait for the
// full check.
func (w *World) checkTouched() {
	for _, in := range w.touched {
		if !in.deleted {
			w.checkInstance(in)
			w.checkLock(in)
		}
	}
	w.untouch()
	for len(w.dues) > 0 && !w.now.Before(w.dues[0].at) {
		d := heap.Pop(&w.dues).(due)
		if in := d.in; !in.deleted && in.due.Equal(d.at) {
			in.due = time.Time{}
			w.checkInstance(in)
		}
	}
	w.checkDropped()
}

// checkDropped checks the instances deleted in the step for the last time.
func (w *World) checkDropped() {
	for _, in := range w.dropped {
		w.checkInstance(in)
		delete(w.instByID, in.rec.ID) // checked for the last time
	}
	clear(w.dropped)
	w.dropped = w.dropped[:0]
}

// untouch clears the step's touched marks.
func (w *World) untouch() {
	for _, in := range w.touched {
		in.touched = false
	}
	clear(w.touched)
	w.touched = w.touched[:0]
}

// due is an instance to check again when its cooldown ends.
type due struct {
	at time.Time
	in *instRow
}

// dueHeap orders dues by time (container/heap).
type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	*h = old[:len(old)-1]
	return d
}

// checkInstance checks one instance with package instancetest's
// checkers, vmlife's own statement of its invariants. CheckSnapshot (at
// the snapshot's own times and at the end of its cooldown), CheckSnapshotAt
// (at the world's time) and CheckStep are pure functions of the snapshots,
// so an instance whose snapshot did not change in the step passed them
// already; CheckExplained depends on the time (cooldowns end, D15) and runs
// for every instance after every step.
func (w *World) checkInstance(in *instRow) {
	s := w.snapshot(in)
	if !in.hasPrev || s != in.prev {
		if err := invariant.CheckSnapshot(s); err != nil {
			w.violate("CheckSnapshot", in.name, err.Error())
		} else if err := invariant.CheckSnapshotAt(s, w.now); err != nil {
			w.violate("CheckSnapshotAt", in.name, err.Error())
		}
		if in.hasPrev {
			if err := invariant.CheckSnapshotStep(in.prev, s); err != nil {
				w.violate("CheckStep", in.name, err.Error())
			}
		}
	}
	if err := invariant.CheckExplained(s, w.now); err != nil {
		w.violate("CheckExplained", in.name, err.Error())
	}
	in.prev, in.hasPrev = s, true
	r, err := instancestate.Reincarnate(s, w.now)
	// The time-based change CheckExplained sees (D15, D33): when the
	// cooldown or backoff ends, the reincarnation decision and what the
	// instance says of itself change.
	if err == nil && r.Status == instancestate.CoolingDown && !r.Until.Equal(in.due) {
		in.due = r.Until
		heap.Push(&w.dues, due{at: r.Until, in: in})
	}
}

// checkLocks: the updater lock is only ever held by an update saga in
// flight (§13.1: "distributed RAII"), so no instance is left locked.
func (w *World) checkLocks() {
	for _, in := range w.instances {
		w.checkLock(in)
	}
}

func (w *World) checkLock(in *instRow) {
	if in.rec.IsLocked() && in.updates == 0 {
		w.violate("a held lock has an update saga", in.name, "locked by "+in.rec.UpdaterID.String()+" with no update saga in flight")
	}
}

// checkLinks: no VMM is linked by two instances, and every linked VMM
// belongs to the instance that links it.
func (w *World) checkLinks() {
	owner := make(map[vmmstate.ID]*instRow, 2*len(w.instances))
	for _, in := range w.instances {
		rt := in.rec.Runtime
		for _, id := range [...]vmmstate.ID{rt.ActiveVMM, rt.TargetVMM} {
			if id.IsZero() {
				continue
			}
			if o := owner[id]; o != nil && o != in {
				w.violate("a VMM is linked by one instance", w.vmmName(id), "linked by "+o.name+" and "+in.name)
			}
			owner[id] = in
		}
	}
}

// checkCapacity: no sled holds more reservations than it has room for,
// and every VMM that may still exist on a sled holds a reservation there.
func (w *World) checkCapacity() {
	for _, sl := range w.sleds {
		if len(sl.reserved) > sl.capacity {
			w.violate("capacity is never over-committed", sl.name, fmt.Sprintf("%d reservations for %d slots", len(sl.reserved), sl.capacity))
		}
	}
	for _, r := range w.vmmOrder {
		if w.vmms[r.vmm.ID] != r || r.vmm.Runtime.State.IsDestroyable() {
			continue
		}
		sl := w.sledByID(r.vmm.SledID)
		if sl == nil || !slices.Contains(sl.reserved, r.vmm.ID) {
			w.violate("a VMM that may run holds a reservation", r.name, "state "+r.vmm.Runtime.State.String()+" without a reservation")
		}
	}
}

// checkGenerations: no stored generation ever decreases (D5, §8, §9).
func (w *World) checkGenerations() {
	for _, in := range w.instances {
		rt := in.rec.Runtime
		if rt.Generation.Before(in.lastGen) {
			w.violate("generations never decrease", in.name, fmt.Sprintf("state_generation %v after %v", rt.Generation, in.lastGen))
		}
		if in.rec.UpdaterGen.Before(in.lastUpdaterGen) {
			w.violate("generations never decrease", in.name, fmt.Sprintf("updater_gen %v after %v", in.rec.UpdaterGen, in.lastUpdaterGen))
		}
		in.lastGen, in.lastUpdaterGen = rt.Generation, in.rec.UpdaterGen
	}
	for _, r := range w.vmmOrder {
		if w.vmms[r.vmm.ID] != r {
			continue
		}
		if g := r.vmm.Runtime.Generation; g.Before(r.lastGen) {
			w.violate("generations never decrease", r.name, fmt.Sprintf("VMM generation %v after %v", g, r.lastGen))
		}
		r.lastGen = r.vmm.Runtime.Generation
	}
	for _, m := range w.migOrder {
		if w.migs[m.rec.ID] != m {
			continue
		}
		if m.rec.Source.Generation.Before(m.lastSrc) || m.rec.Target.Generation.Before(m.lastDst) {
			w.violate("generations never decrease", m.rec.ID.String(), fmt.Sprintf("migration generations %v/%v after %v/%v",
				m.rec.Source.Generation, m.rec.Target.Generation, m.lastSrc, m.lastDst))
		}
		m.lastSrc, m.lastDst = m.rec.Source.Generation, m.rec.Target.Generation
	}
}

package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
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
	w.stats.ViolationOccurrences++
	key := check + "\x00" + subject
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	w.violations = append(w.violations, Violation{Step: w.step, Seed: w.cfg.Seed, Check: check, Subject: subject, Detail: detail})
	w.tracef("VIOLATION %s: %s: %s", check, subject, detail)
}

// unexpected records an error vmlife returned where the world's records
// should have let it decide: the database holds something vmlife calls
// invalid, or the simulator asked something it should not have.
func (w *World) unexpected(op, subject string, err error) {
	w.violate("unexpected error from "+op, subject, err.Error())
}

// checkAll checks every invariant: each instance's snapshot on its own,
// its change over the step, and that it explains itself; then the world's
// own invariants across instances, VMMs, migrations and sleds.
func (w *World) checkAll() {
	for _, in := range w.instances {
		w.checkInstance(in)
	}
	for _, in := range w.dropped {
		w.checkInstance(in)
	}
	w.dropped = w.dropped[:0]
	w.checkLocks()
	w.checkLinks()
	w.checkCapacity()
	w.checkGenerations()
}

// checkInstance checks one instance. The checks of a snapshot on its own
// and of its change are pure functions of the snapshots, so an instance
// whose snapshot did not change in the step passed them already; only the
// checks that depend on the time (cooldowns, D15) run again for it.
func (w *World) checkInstance(in *instRow) {
	s := w.snapshot(in)
	if !in.hasPrev || s != in.prev {
		if err := checkSnapshot(s, w.now); err != nil {
			w.violate("CheckSnapshot", in.name, err.Error())
		}
		if in.hasPrev {
			if err := checkStep(in.prev, s); err != nil {
				w.violate("CheckStep", in.name, err.Error())
			}
		}
	}
	if err := checkExplained(s, w.now); err != nil {
		w.violate("CheckExplained", in.name, err.Error())
	}
	in.prev, in.hasPrev = s, true
}

// checkLocks: the updater lock is only ever held by an update saga in
// flight (§13.1: "distributed RAII"), so no instance is left locked.
func (w *World) checkLocks() {
	for _, in := range w.instances {
		if in.rec.IsLocked() && in.updates == 0 {
			w.violate("a held lock has an update saga", in.name, "locked by "+in.rec.UpdaterID.String()+" with no update saga in flight")
		}
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

// ---- per-instance checks ----

// checkSnapshot: the snapshot validates (D17) and every decision is total
// on it and agrees with itself.
func checkSnapshot(s instancestate.Snapshot, now time.Time) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if _, err := instancestate.EffectiveState(s); err != nil {
		return err
	}
	for _, r := range instancestate.AllRequests() {
		d, err := instancestate.Decide(s, r, now)
		if err != nil {
			return fmt.Errorf("deciding %v: %w", r, err)
		}
		if !d.Accepted() && d.Intent != 0 {
			return fmt.Errorf("D16: Decide(%v) rejects and writes intent %v", r, d.Intent)
		}
	}
	p, required, err := instancestate.PlanUpdate(s, now)
	if err != nil {
		return fmt.Errorf("planning the update: %w", err)
	}
	if required {
		if _, err := s.Apply(p); err != nil {
			return fmt.Errorf("the update plan does not apply: %w", err)
		}
	}
	if _, err := instancestate.Conditions(s, now); err != nil {
		return fmt.Errorf("deriving conditions: %w", err)
	}
	return nil
}

// checkStep: one step's change of an instance lowers no generation, moves
// the nexus state along its edges, and changes no terminal state.
func checkStep(before, after instancestate.Snapshot) error {
	b, a := before.Instance, after.Instance
	if a.ID != b.ID {
		return fmt.Errorf("instance id changed")
	}
	if a.Runtime.Generation.Before(b.Runtime.Generation) {
		return fmt.Errorf("state_generation %v after %v", a.Runtime.Generation, b.Runtime.Generation)
	}
	if a.Runtime != b.Runtime && !a.Runtime.Generation.After(b.Runtime.Generation) {
		return fmt.Errorf("runtime changed at the same generation %v", a.Runtime.Generation)
	}
	if a.UpdaterGen.Before(b.UpdaterGen) {
		return fmt.Errorf("updater_gen %v after %v", a.UpdaterGen, b.UpdaterGen)
	}
	if from, to := b.Runtime.State, a.Runtime.State; from != to && !instancestate.CanMove(from, to) {
		return fmt.Errorf("nexus state %v → %v is no edge", from, to)
	}
	for _, pair := range [...][2]vmmstate.VMM{{before.Active, after.Active}, {before.Target, after.Target}, {before.Active, after.Target}, {before.Target, after.Active}} {
		x, y := pair[0], pair[1]
		if x.ID.IsZero() || x.ID != y.ID {
			continue
		}
		if y.Runtime.Generation.Before(x.Runtime.Generation) {
			return fmt.Errorf("VMM %v generation %v after %v", x.ID, y.Runtime.Generation, x.Runtime.Generation)
		}
		if x.Runtime.State.IsTerminal() && y.Runtime != x.Runtime {
			return fmt.Errorf("VMM %v left terminal %v for %v (D6)", x.ID, x.Runtime.State, y.Runtime.State)
		}
	}
	if bm, am := before.Migration, after.Migration; !bm.ID.IsZero() && bm.ID == am.ID {
		for _, sides := range [...][2]migration.Side{{bm.Source, am.Source}, {bm.Target, am.Target}} {
			x, y := sides[0], sides[1]
			if y.Generation.Before(x.Generation) {
				return fmt.Errorf("migration %v side generation %v after %v", bm.ID, y.Generation, x.Generation)
			}
			if x.IsTerminal() && y != x {
				return fmt.Errorf("migration %v side left terminal %v for %v (D6)", bm.ID, x.State, y.State)
			}
		}
	}
	return nil
}

// checkExplained: an instance meant to run that reads stopped says why
// (D13) or has something to do about it (D19); and Next answers the same
// when asked twice (D19).
func checkExplained(s instancestate.Snapshot, now time.Time) error {
	n1, err := instancestate.Next(s, now)
	if err != nil {
		return err
	}
	n2, _ := instancestate.Next(s, now)
	if n1 != n2 {
		return fmt.Errorf("D19: Next answered %v then %v", n1.Action, n2.Action)
	}
	e, _ := instancestate.EffectiveState(s)
	if e != instancestate.Stopped || s.Instance.IntendedState != instancestate.IntendRunning || s.Instance.HasStartFailure() {
		return nil
	}
	switch n1.Action {
	case instancestate.NextStart, instancestate.NextRunUpdate, instancestate.NextReincarnate, instancestate.NextWait:
		return nil
	}
	if s.Instance.IsLocked() {
		return nil
	}
	return fmt.Errorf("D13: stopped, intends to run, no start failure, and Next says %v (%s)", n1.Action, n1.Why)
}

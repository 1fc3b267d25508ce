package instancestate_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// raceVMM is what a sled really runs for one VMM: its sled-agent state and
// generation, and its side of the migration (zero: none).
type raceVMM struct {
	st      vmmstate.SledAgentState // zero: not yet running on its sled
	gen     generation.Generation
	side    migration.State
	sideGen generation.Generation
	role    migration.Role // zero: no side
}

func (v *raceVMM) set(st vmmstate.SledAgentState) {
	if v.st != st {
		v.st, v.gen = st, bump(v.gen)
	}
}

func (v *raceVMM) setSide(st migration.State) {
	if v.side != st {
		v.side, v.sideGen = st, bump(v.sideGen)
	}
}

func bump(g generation.Generation) generation.Generation {
	n, _ := g.Next() // far from the largest generation
	return n
}

// alive reports whether the VMM holds a guest, or may still: anything but
// not started, stopped, destroyed or failed.
func (v *raceVMM) alive() bool {
	switch v.st {
	case vmmstate.SledAgentStarting, vmmstate.SledAgentRunning, vmmstate.SledAgentRebooting,
		vmmstate.SledAgentMigrating, vmmstate.SledAgentStopping:
		return true
	}
	return false
}

// race is an instance in the middle of a migration, its sleds, and the
// stop requests on their way to them: the world of D37's property.
type race struct {
	t       *rapid.T
	s       instancestate.Snapshot
	now     time.Time
	sled    map[vmmstate.ID]*raceVMM
	ids     []vmmstate.ID // sled's keys, in the order they were made
	stops   []vmmstate.ID // stop requests sent and not yet delivered
	src     vmmstate.ID
	tgt     vmmstate.ID
	begun   bool // the sleds have started the migration
	decided bool // the migration has an outcome on the sleds
	linger  bool // a target whose migration failed stays alive until told to stop
	fresh   byte
}

var raceT0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newRace(t *rapid.T) *race {
	id := func(b byte) uuid.UUID { return uuid.UUID{0: 0xcc, 8: 0x80, 15: b} }
	inst := vmmstate.InstanceIDFromUUID(id(1))
	a, b := vmmstate.IDFromUUID(id(2)), vmmstate.IDFromUUID(id(3))
	mid := migration.IDFromUUID(id(4))
	sledA, sledB := vmmstate.SledIDFromUUID(id(5)), vmmstate.SledIDFromUUID(id(6))
	g := func(n uint32) generation.Generation { return generation.Of(n) }

	in := instancestate.New(inst, true, instancestate.AutoRestart{}, raceT0)
	in.Runtime = instancestate.Runtime{State: instancestate.NexusVMM, Generation: g(3), TimeUpdated: raceT0,
		ActiveVMM: a, TargetVMM: b, MigrationID: mid}
	if rapid.Bool().Draw(t, "policy never") {
		in.AutoRestart.Policy = instancestate.PolicyNever
	}
	active := vmmstate.New(a, inst, sledA, raceT0)
	active.Runtime = vmmstate.Runtime{State: vmmstate.Running, Generation: g(2), TimeUpdated: raceT0}
	r := &race{
		t: t, now: raceT0.Add(time.Second), src: a, tgt: b,
		s: instancestate.Snapshot{Instance: in, Active: active, Target: vmmstate.New(b, inst, sledB, raceT0),
			Migration: migration.New(mid, inst, a, b, raceT0)},
		sled:   map[vmmstate.ID]*raceVMM{},
		linger: rapid.Bool().Draw(t, "a failed target lingers"),
		fresh:  10,
	}
	r.add(a, &raceVMM{st: vmmstate.SledAgentRunning, gen: g(2), role: migration.Source, sideGen: g(1)})
	r.add(b, &raceVMM{gen: g(1), role: migration.Target, sideGen: g(1)})
	if err := r.s.Validate(); err != nil {
		t.Fatalf("the race starts invalid: %v", err)
	}
	return r
}

func (r *race) add(id vmmstate.ID, v *raceVMM) {
	r.sled[id] = v
	r.ids = append(r.ids, id)
}

// The sleds' side of the migration.
func (r *race) begin() {
	a, b := r.sled[r.src], r.sled[r.tgt]
	if r.begun || r.decided || a.st != vmmstate.SledAgentRunning {
		return
	}
	r.begun = true
	a.set(vmmstate.SledAgentMigrating)
	a.setSide(migration.InProgress)
	b.set(vmmstate.SledAgentMigrating)
	b.setSide(migration.InProgress)
}

func (r *race) handover() {
	a, b := r.sled[r.src], r.sled[r.tgt]
	if !r.begun || r.decided || a.st != vmmstate.SledAgentMigrating || b.st != vmmstate.SledAgentMigrating {
		return
	}
	r.decided = true
	a.setSide(migration.Completed)
	a.set(vmmstate.SledAgentDestroyed)
	b.setSide(migration.Completed)
	b.set(vmmstate.SledAgentRunning)
}

// fail ends the migration in failure; the source goes back to running, or
// on to stopping when a stop is what ended it.
func (r *race) fail(sourceStopping bool) {
	a, b := r.sled[r.src], r.sled[r.tgt]
	if !r.begun || r.decided {
		return
	}
	r.decided = true
	a.setSide(migration.Failed)
	if a.alive() {
		if sourceStopping {
			a.set(vmmstate.SledAgentStopping)
		} else {
			a.set(vmmstate.SledAgentRunning)
		}
	}
	b.setSide(migration.Failed)
	if !r.linger && b.alive() {
		b.set(vmmstate.SledAgentDestroyed)
	}
}

// deliver hands a stop request to its VMM's sled.
func (r *race) deliver(id vmmstate.ID) {
	v := r.sled[id]
	if v == nil {
		return
	}
	undecided := r.begun && !r.decided
	switch {
	case undecided && id == r.src && v.st == vmmstate.SledAgentMigrating:
		r.fail(true)
	case undecided && id == r.tgt && v.st == vmmstate.SledAgentMigrating:
		r.fail(false)
		v.set(vmmstate.SledAgentDestroyed)
	case v.st == vmmstate.SledAgentMigrating:
		v.set(vmmstate.SledAgentDestroyed) // a lingering target
	case v.st == 0:
		v.set(vmmstate.SledAgentDestroyed) // never started: it never will
	case v.alive() && v.st != vmmstate.SledAgentStopping:
		v.set(vmmstate.SledAgentStopping)
	}
}

// progress moves one VMM one step along a stop or a start.
func (r *race) progress(id vmmstate.ID) {
	v := r.sled[id]
	switch v.st {
	case vmmstate.SledAgentStopping:
		v.set(vmmstate.SledAgentStopped)
	case vmmstate.SledAgentStopped:
		v.set(vmmstate.SledAgentDestroyed)
	case vmmstate.SledAgentStarting:
		v.set(vmmstate.SledAgentRunning)
	}
}

// report sends the VMM's sled-agent report and applies it to the records;
// a VMM the instance no longer links writes only its own row (not kept).
func (r *race) report(id vmmstate.ID) {
	v := r.sled[id]
	if v.st == 0 {
		return
	}
	rep := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: v.st, Generation: v.gen, TimeUpdated: r.now}}
	if v.side != 0 {
		side := &migration.Report{MigrationID: r.s.Instance.Runtime.MigrationID, State: v.side, Generation: v.sideGen, TimeUpdated: r.now}
		if r.s.HasMigration() && (r.s.Migration.Source.VMM == id || r.s.Migration.Target.VMM == id) {
			side.MigrationID = r.s.Migration.ID
		} else {
			side = nil
		}
		if v.role == migration.Source {
			rep.MigrationOut = side
		} else {
			rep.MigrationIn = side
		}
	}
	after, _, err := instancestate.ApplyReport(r.s, id, rep)
	switch {
	case errors.Is(err, instancestate.ErrUnknownVMM):
	case err != nil:
		r.t.Fatalf("report of %v (%v): %v", id, rep.VMM.State, err)
	default:
		r.s = after
	}
}

// update runs the update plan and carries out its stop (D37).
func (r *race) update() {
	p, required, err := instancestate.PlanUpdate(r.s, r.now)
	if err != nil {
		r.t.Fatalf("PlanUpdate: %v", err)
	}
	if !required {
		return
	}
	if r.s, err = r.s.Apply(p); err != nil {
		r.t.Fatalf("Apply: %v", err)
	}
	if !p.StopTargetVMM.IsZero() {
		r.stops = append(r.stops, p.StopTargetVMM)
	}
}

// stop is a user's stop, or Next's.
func (r *race) stop() {
	d, err := instancestate.Decide(r.s, instancestate.RequestStop, r.now)
	if err != nil {
		r.t.Fatalf("Decide(stop): %v", err)
	}
	if !d.Accepted() {
		return
	}
	r.s.Instance.IntendedState = d.Intent
	switch d.Action {
	case instancestate.ActionSendToSled:
		r.stops = append(r.stops, r.s.Active.ID)
	case instancestate.ActionUpdateRuntime:
		r.s.Instance.Runtime = d.Runtime
	}
}

// next follows Next: stops, plans, and starts a new VMM when it says so.
func (r *race) next() {
	n, err := instancestate.Next(r.s, r.now)
	if err != nil {
		r.t.Fatalf("Next: %v", err)
	}
	switch n.Action {
	case instancestate.NextStop:
		r.stop()
	case instancestate.NextRunUpdate:
		r.update()
	case instancestate.NextStart, instancestate.NextReincarnate:
		r.fresh++
		id := vmmstate.IDFromUUID(uuid.UUID{0: 0xcc, 8: 0x80, 15: r.fresh})
		rec := vmmstate.New(id, r.s.Instance.ID, vmmstate.SledIDFromUUID(uuid.UUID{0: 0xcc, 8: 0x80, 14: 1, 15: r.fresh}), r.now)
		in, err := instancestate.MarkAsStarting(r.s, rec, failure.StartReasonAutoRestart, r.now)
		if err != nil {
			r.t.Fatalf("MarkAsStarting after Next said %v: %v", n.Action, err)
		}
		r.s.Instance, r.s.Active = in, rec
		if in.Runtime.TargetVMM.IsZero() {
			r.s.Target = vmmstate.VMM{}
		}
		if in.Runtime.MigrationID.IsZero() {
			r.s.Migration = migration.Record{}
		}
		r.add(id, &raceVMM{st: vmmstate.SledAgentStarting, gen: generation.Of(2)})
	case instancestate.NextWait:
		r.now = n.Until
	}
}

// running counts the VMMs whose sled runs a guest.
func (r *race) running() (n int) {
	for _, v := range r.sled {
		if v.st == vmmstate.SledAgentRunning {
			n++
		}
	}
	return n
}

// alive lists the VMMs that hold a guest, or may still.
func (r *race) alive() (out []vmmstate.ID) {
	for _, id := range r.ids {
		if r.sled[id].alive() {
			out = append(out, id)
		}
	}
	return out
}

// settle delivers everything, decides the migration, and lets the records
// and Next catch up, until nothing moves.
func (r *race) settle() {
	if r.begun && !r.decided {
		if rapid.Bool().Draw(r.t, "the migration succeeds in the end") {
			r.handover()
		} else {
			r.fail(false)
		}
	}
	for range 40 {
		for len(r.stops) > 0 {
			id := r.stops[0]
			r.stops = r.stops[1:]
			r.deliver(id)
		}
		for _, id := range r.ids {
			r.progress(id)
			r.report(id)
		}
		r.now = r.now.Add(10 * time.Minute)
		r.update()
		r.next()
	}
}

// D37 (Omicron #11107): a stop during or just after a migration, in every
// interleaving with the sleds' progress, their reports, the update plans
// and Next, never leaves two VMMs running; and once everything has been
// delivered, no VMM the instance does not run is left alive — none at all
// when the stop was accepted.
func TestPropStopRacesMigration(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := newRace(t)
		stopped := false
		for i := range rapid.IntRange(1, 30).Draw(t, "steps") {
			ops := []string{"begin", "handover", "fail", "report", "report", "update", "next", "progress", "deliver", "tick"}
			if !stopped {
				ops = append(ops, "stop", "stop")
			}
			op := rapid.SampledFrom(ops).Draw(t, "op")
			switch op {
			case "begin":
				r.begin()
			case "handover":
				r.handover()
			case "fail":
				r.fail(false)
			case "report":
				r.report(rapid.SampledFrom(r.ids).Draw(t, "reporter"))
			case "update":
				r.update()
			case "next":
				r.next()
			case "progress":
				r.progress(rapid.SampledFrom(r.ids).Draw(t, "vmm"))
			case "deliver":
				if len(r.stops) > 0 {
					k := rapid.IntRange(0, len(r.stops)-1).Draw(t, "request")
					id := r.stops[k]
					r.stops = append(r.stops[:k], r.stops[k+1:]...)
					r.deliver(id)
				}
			case "tick":
				r.now = r.now.Add(time.Duration(rapid.IntRange(1, 600).Draw(t, "seconds")) * time.Second)
			case "stop":
				r.stop()
				stopped = r.s.Instance.IntendedState == instancestate.IntendStopped
			}
			if n := r.running(); n > 1 {
				t.Fatalf("step %d (%s): %d VMMs running", i, op, n)
			}
		}
		if !stopped {
			r.stop()
		}
		r.settle()
		if n := r.running(); n > 1 {
			t.Fatalf("settled: %d VMMs running", n)
		}
		if alive := r.alive(); r.s.Instance.IntendedState == instancestate.IntendStopped && len(alive) > 0 {
			t.Fatalf("stopped, yet VMMs %v are alive on their sleds (instance %+v)", alive, r.s.Instance.Runtime)
		}
	})
}

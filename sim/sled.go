package sim

import (
	"slices"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// sled is a host: its reservations (a database table) and its sled-agent
// with the VMMs it runs.
type sled struct {
	id       vmmstate.SledID
	name     string
	slot     int // the position it fills; a replacement takes the expunged sled's slot
	capacity int
	reserved []vmmstate.ID // sled reservations (§14 ALLOC_SERVER, §13.2)

	power       failure.PowerState // PowerA0 on; PowerA2 off
	expunged    bool               // sled policy expunged (§18)
	partitioned bool               // the sled-agent does not answer although the sled may be on
	mgsUnknown  bool               // while partitioned: the management network cannot say the power state

	agent []*agentVMM // the VMMs its sled-agent knows, halted ones included
}

// addSled adds a new, empty, powered sled in a slot.
func (w *World) addSled(slot int) *sled {
	sl := &sled{
		id:       vmmstate.SledIDFromUUID(w.newUUID('s')),
		name:     w.name('s'),
		slot:     slot,
		capacity: w.cfg.SledCapacity,
		power:    failure.PowerA0,
	}
	w.sleds = append(w.sleds, sl)
	w.sledAt[sl.id] = sl
	w.sledsChanged()
	return sl
}

func (w *World) sledByID(id vmmstate.SledID) *sled { return w.sledAt[id] }

// inService reports whether placement may choose the sled: powered and
// not expunged. A partitioned sled looks in service to the database.
func (s *sled) inService() bool { return s.power == failure.PowerA0 && !s.expunged }

// answers reports whether a call to its sled-agent gets a response.
func (s *sled) answers() bool { return s.inService() && !s.partitioned }

func (s *sled) free() int { return s.capacity - len(s.reserved) }

func (s *sled) reserve(id vmmstate.ID) { s.reserved = append(s.reserved, id) }

func (s *sled) release(id vmmstate.ID) {
	if i := slices.Index(s.reserved, id); i >= 0 {
		s.reserved = slices.Delete(s.reserved, i, i+1)
	}
}

func (s *sled) find(id vmmstate.ID) *agentVMM {
	for _, a := range s.agent {
		if a.id == id {
			return a
		}
	}
	return nil
}

// forget drops a VMM from the sled-agent (unregistered, or reaped).
func (s *sled) forget(id vmmstate.ID) {
	for i, a := range s.agent {
		if a.id == id {
			a.gone = true
			s.agent = slices.Delete(s.agent, i, i+1)
			return
		}
	}
}

// commError is what a call to an unanswering sled-agent gets (§11).
func (w *World) commError() *failure.Outcome {
	if w.chance(2) {
		return &failure.Outcome{Communication: failure.CommTimeout}
	}
	return &failure.Outcome{Communication: failure.CommConnect}
}

// propolis is the hypervisor's own state, finer than the sled-agent's.
type propolis uint8

const (
	pStarting propolis = iota + 1
	pRunning
	pStopping
	pStopped
	pRebooting
	pMigrating
	pFailed
	pDestroyed
)

// propolisToSled is §3.5's mapping: Propolis's stopped is published as
// stopping, so a sled-agent never reports stopped before destruction.
var propolisToSled = [...]vmmstate.SledAgentState{
	pStarting:  vmmstate.SledAgentStarting,
	pRunning:   vmmstate.SledAgentRunning,
	pStopping:  vmmstate.SledAgentStopping,
	pStopped:   vmmstate.SledAgentStopping,
	pRebooting: vmmstate.SledAgentRebooting,
	pMigrating: vmmstate.SledAgentMigrating,
	pFailed:    vmmstate.SledAgentFailed,
	pDestroyed: vmmstate.SledAgentDestroyed,
}

func (p propolis) halted() bool { return p == pFailed || p == pDestroyed }

// goal is what the control plane last asked a VMM for.
type goal uint8

const (
	goalNone goal = iota
	goalStop
	goalReboot
)

// agentVMM is a VMM as its sled-agent keeps it (§3.5): the Propolis
// state, the runtime it reports, and the migration sides it holds.
type agentVMM struct {
	id      vmmstate.ID
	inst    vmmstate.InstanceID // the instance whose guest it runs
	name    string
	sled    *sled
	p       propolis
	rt      vmmstate.SledAgentRuntime
	in, out migration.Report
	hasIn   bool
	hasOut  bool
	goal    goal
	flight  *flight
	role    migration.Role // its side of flight
	sidePh  int            // 0 not started, 1 in progress, 2 done
	gone    bool           // forgotten by its sled-agent or lost with its sled
	hung    int            // FaultVMMHang: Propolis does nothing before this step
}

// flight is one live migration as the two Propolis processes see it.
type flight struct {
	id       migration.ID
	src, dst *agentVMM
	outcome  migration.State // 0 undecided, Completed or Failed
	stalled  bool            // FaultMigrationStall: neither side moves until told to stop
}

func (a *agentVMM) report() instancestate.Report {
	r := instancestate.Report{VMM: a.rt}
	if a.hasIn {
		in := a.in
		r.MigrationIn = &in
	}
	if a.hasOut {
		out := a.out
		r.MigrationOut = &out
	}
	return r
}

// register is vmm_register (§12 step 4): the sled-agent starts a VMM at
// the runtime Nexus sends — starting, or migrating for a migration target
// with migration_in pending at generation 1 (§3.5) — and answers with it.
func (w *World) register(sl *sled, r *vmmRow, p propolis, mig migration.ID) *agentVMM {
	g, _ := r.vmm.Runtime.Generation.Next()
	a := &agentVMM{
		id:   r.vmm.ID,
		inst: r.vmm.InstanceID,
		name: r.name,
		sled: sl,
		p:    p,
		rt:   vmmstate.SledAgentRuntime{State: propolisToSled[p], Generation: g, TimeUpdated: w.now},
	}
	if !mig.IsZero() {
		a.in, a.hasIn = migration.Registered(mig, w.now), true
	}
	sl.agent = append(sl.agent, a)
	w.agents = append(w.agents, a)
	return a
}

// observe is one Propolis observation (§3.5): the state is set and the
// generation bumped whether or not it changed; a halted VMM fails the
// migration sides still in flight. The sled-agent then pushes a report.
func (w *World) observe(a *agentVMM, p propolis) {
	g, err := a.rt.Generation.Next()
	if err != nil {
		w.unexpected("sled-agent generation", a.name, err)
		return
	}
	a.p = p
	a.rt = vmmstate.SledAgentRuntime{State: propolisToSled[p], Generation: g, TimeUpdated: w.now}
	if p.halted() {
		w.halt(a)
	}
	w.push(a)
}

// halt applies §3.5's rule for a halted VMM: in-flight sides fail.
func (w *World) halt(a *agentVMM) {
	if a.hasIn {
		if rep, _, err := migration.Halt(a.in, w.now); err != nil {
			w.unexpected("migration.Halt", a.name, err)
		} else {
			a.in = rep
		}
	}
	if a.hasOut {
		if rep, _, err := migration.Halt(a.out, w.now); err != nil {
			w.unexpected("migration.Halt", a.name, err)
		} else {
			a.out = rep
		}
	}
	if f := a.flight; f != nil && f.outcome == 0 {
		f.outcome = migration.Failed
	}
	a.flight = nil
}

// fold records a Propolis observation of a's migration side (§3.5).
func (w *World) fold(a *agentVMM, st migration.State) {
	f := a.flight
	if f == nil {
		return
	}
	if a.role == migration.Target {
		rep, _, err := migration.Fold(a.in, a.hasIn, f.id, st, w.now)
		if err != nil {
			w.unexpected("migration.Fold", a.name, err)
			return
		}
		a.in, a.hasIn = rep, true
		return
	}
	rep, _, err := migration.Fold(a.out, a.hasOut, f.id, st, w.now)
	if err != nil {
		w.unexpected("migration.Fold", a.name, err)
		return
	}
	a.out, a.hasOut = rep, true
}

// tick is the next thing a VMM's Propolis does: follow the control
// plane's request, take a migration one stage further, or run on (and
// maybe shut down or crash).
func (w *World) tick(a *agentVMM) {
	if w.hangs(a) {
		return
	}
	if a.flight != nil && a.p != pStopping && a.p != pStopped {
		w.tickMigration(a)
		return
	}
	switch a.p {
	case pStarting:
		if a.goal == goalStop {
			w.observe(a, pStopping)
		} else {
			w.observe(a, pRunning)
		}
	case pRunning:
		switch {
		case a.goal == goalStop:
			w.observe(a, pStopping)
		case a.goal == goalReboot:
			a.goal = goalNone
			w.observe(a, pRebooting)
		case !w.settling && w.chance(60):
			// The guest shuts itself down (§13.3: intent guest_shutdown).
			a.goal = goalStop
			w.stats.GuestShutdowns++
			w.observe(a, pStopping)
		case w.fault(FaultVMMCrash) && w.chance(80):
			w.stats.Faults[FaultVMMCrash]++
			w.observe(a, pFailed)
		default:
			w.observe(a, pRunning) // a newer observation of the same state
		}
	case pRebooting:
		if a.goal == goalStop {
			w.observe(a, pStopping)
		} else {
			w.observe(a, pRunning)
		}
	case pStopping:
		w.observe(a, pStopped)
	case pStopped:
		w.observe(a, pDestroyed)
	case pMigrating:
		// A target registered and not yet told to migrate (§15) waits.
		if a.goal == goalStop {
			w.observe(a, pStopping)
			return
		}
		w.observe(a, pMigrating)
	}
}

// hangs reports whether a's Propolis does nothing at this tick
// (FaultVMMHang): it is hung, or hangs now in a transient state, for 5 to
// 120 simulated minutes — past every default deadline (D32), so the
// control plane reports it NotProgressing and inspects it, and must fail
// nothing for it (D30). A settling world has no hung VMM.
func (w *World) hangs(a *agentVMM) bool {
	if w.settling {
		return false
	}
	if a.hung > w.step {
		return true
	}
	switch a.p {
	case pStarting, pStopping, pRebooting:
		if w.fault(FaultVMMHang) && w.chance(40) {
			w.stats.Faults[FaultVMMHang]++
			a.hung = w.step + int((5*time.Minute+time.Duration(w.intn(116))*time.Minute)/Tick)
			w.tracef("propolis %s hangs %v until step %d", a.name, propolisToSled[a.p], a.hung)
			return true
		}
	}
	return false
}

// tickMigration takes a's side of its migration one stage further.
func (w *World) tickMigration(a *agentVMM) {
	f := a.flight
	other := f.src
	if a.role == migration.Source {
		other = f.dst
	}
	if f.outcome == 0 && (other.gone || other.p.halted() || other.p == pStopping || other.p == pStopped) {
		f.outcome = migration.Failed // the other side left the migration
	}
	if f.outcome == 0 && !f.stalled && w.fault(FaultMigrationStall) && w.chance(8) {
		w.stats.Faults[FaultMigrationStall]++
		f.stalled = true
		w.tracef("migration %s stalls", f.id)
	}
	if f.outcome == 0 && a.goal == goalStop {
		// A stop reaches a side mid-migration: it stops, and halting
		// fails the migration (§3.5) — how a user's stop races a
		// migration (D37), and how the control plane's abort of a stalled
		// one ends it (D34).
		w.observe(a, pStopping)
		return
	}
	if f.stalled && f.outcome == 0 && !w.settling {
		return // neither side moves, and nothing is reported: no progress (D34)
	}
	if w.fault(FaultVMMCrash) && w.chance(40) {
		// Either side may die mid-migration; halting fails its side and
		// the migration (§3.5), which the other side then sees.
		w.stats.Faults[FaultVMMCrash]++
		w.observe(a, pFailed)
		return
	}
	switch a.sidePh {
	case 0:
		a.sidePh = 1
		w.fold(a, migration.InProgress)
		if f.outcome == 0 {
			w.observe(a, pMigrating)
			return
		}
		fallthrough
	default:
		if f.outcome == 0 {
			if other.sidePh == 0 {
				// The other side has not started: wait for it.
				w.observe(a, a.p)
				return
			}
			f.outcome = migration.Completed
			if w.chance(6) {
				f.outcome = migration.Failed
			}
		}
		a.sidePh = 2
		w.fold(a, f.outcome)
		a.flight = nil
		switch {
		case a.role == migration.Target && f.outcome == migration.Completed:
			w.stats.MigrationsCompleted++
			w.observe(a, pRunning)
		case a.role == migration.Target:
			w.stats.MigrationsFailed++
			w.observe(a, pDestroyed)
		case f.outcome == migration.Completed:
			a.goal = goalStop // the source hands over and shuts down (§3.5)
			w.observe(a, pStopping)
		default:
			w.observe(a, pRunning) // the source carries on
		}
	}
}

// message is a report on its way from a sled-agent to Nexus.
type message struct {
	vmm vmmstate.ID
	rep instancestate.Report
	at  int // deliverable from this step on
}

// push sends a's current state to Nexus (cpapi_instances_put), through
// the faults the network may have: drop, delay, duplicate.
func (w *World) push(a *agentVMM) {
	w.stats.ReportsSent++
	if a.sled.partitioned {
		w.stats.ReportsLost++ // the sled-agent cannot reach Nexus either
		return
	}
	if w.fault(FaultDrop) && w.chance(25) {
		w.stats.Faults[FaultDrop]++
		return
	}
	copies := 1
	if w.fault(FaultDuplicate) && w.chance(20) {
		w.stats.Faults[FaultDuplicate]++
		copies = 2
	}
	for range copies {
		at := w.step
		if w.fault(FaultDelay) && w.chance(6) {
			w.stats.Faults[FaultDelay]++
			at += 1 + w.intn(40)
		}
		w.net = append(w.net, message{vmm: a.id, rep: a.report(), at: at})
	}
}

// deliverable reports whether any message can be delivered now.
func (w *World) deliverable() bool {
	for i := range w.net {
		if w.net[i].at <= w.step {
			return true
		}
	}
	return false
}

// deliver hands one report to Nexus: the oldest deliverable one, or with
// FaultReorder any deliverable one.
func (w *World) deliver() {
	first, n := -1, 0
	for i := range w.net {
		if w.net[i].at <= w.step {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	if first < 0 {
		return
	}
	pick := first
	if w.fault(FaultReorder) && n > 1 {
		k := w.intn(n)
		for i := range w.net {
			if w.net[i].at <= w.step {
				if k == 0 {
					pick = i
					break
				}
				k--
			}
		}
		if pick != first {
			w.stats.Faults[FaultReorder]++
		}
	}
	m := w.net[pick]
	w.net = slices.Delete(w.net, pick, pick+1)
	w.tracef("deliver %s %v@%v", w.vmmName(m.vmm), m.rep.VMM.State, m.rep.VMM.Generation)
	w.applyReport(m.vmm, m.rep)
}

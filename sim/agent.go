package sim

import (
	"context"
	"errors"
	"strconv"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// sledAgents is the control plane's client of the world's sled-agents,
// as package sagas calls them (sagas.SledAgent): each call reaches the
// sled-agent of the VMM's sled, through the faults the world injects.
type sledAgents World

func agentError(o failure.Outcome) error { return &sagas.AgentError{Outcome: o} }

var noSuchInstance = failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}

// Register implements sagas.SledAgent: the sled-agent starts the VMM (a
// start) or waits for the migration in (a target), §12 step 4; a VMM it
// holds already is answered as it is.
func (a *sledAgents) Register(_ context.Context, v vmmstate.VMM, mig migration.ID) (instancestate.Report, error) {
	w := (*World)(a)
	defer w.keep() // what the sled-agent did is kept before it answers
	sl := w.sledByID(v.SledID)
	switch {
	case sl == nil || !sl.answers():
		return instancestate.Report{}, agentError(*w.commError())
	case sl.find(v.ID) != nil:
		return sl.find(v.ID).report(), nil
	}
	if w.fault(FaultStartTransient) && w.chance(10) {
		w.stats.Faults[FaultStartTransient]++
		if mig.IsZero() && w.chance(4) {
			return instancestate.Report{}, agentError(noSuchInstance)
		}
		return instancestate.Report{}, agentError(failure.Outcome{Status: 500})
	}
	row := w.vmms[v.ID]
	if row == nil {
		return instancestate.Report{}, agentError(noSuchInstance)
	}
	p := pStarting
	if !mig.IsZero() {
		p = pMigrating
	}
	return w.register(sl, row, p, mig).report(), nil
}

// Migrate implements sagas.SledAgent: the target is told to pull from the
// source (INSTANCE_MIGRATE). A source that cannot send makes Propolis fail
// the migration; a request whose answer is lost (FaultSagaUnwind) reached
// the target all the same, and the migration runs on while the saga
// unwinds (§15).
func (a *sledAgents) Migrate(_ context.Context, target, src vmmstate.VMM, mig migration.ID) error {
	w := (*World)(a)
	defer w.keep() // what the sled-agent did is kept before it answers
	sl := w.sledByID(target.SledID)
	if sl == nil || !sl.answers() {
		return agentError(*w.commError())
	}
	dst := sl.find(target.ID)
	switch {
	case dst == nil || dst.p.halted():
		return agentError(noSuchInstance)
	case dst.flight != nil && dst.flight.id == mig:
		return nil // asked again
	}
	f := &flight{id: mig, src: w.agentOf(src.ID), dst: dst}
	if s := f.src; s == nil || s.p != pRunning || s.flight != nil {
		f.src, f.outcome = &agentVMM{gone: true}, migration.Failed
	} else {
		s.flight, s.role, s.sidePh = f, migration.Source, 0
	}
	dst.flight, dst.role, dst.sidePh = f, migration.Target, 0
	if w.fault(FaultSagaUnwind) && w.chance(4) {
		w.stats.Faults[FaultSagaUnwind]++
		return agentError(failure.Outcome{Communication: failure.CommTimeout})
	}
	return nil
}

// Unregister implements sagas.SledAgent: the sled-agent stops the VMM and
// forgets it, answering with its last state (§3.2).
func (a *sledAgents) Unregister(_ context.Context, v vmmstate.VMM) (instancestate.Report, error) {
	w := (*World)(a)
	defer w.keep() // what the sled-agent did is kept before it answers
	sl := w.sledByID(v.SledID)
	if sl == nil || !sl.answers() {
		return instancestate.Report{}, agentError(*w.commError())
	}
	ag := sl.find(v.ID)
	if ag == nil {
		return instancestate.Report{}, agentError(noSuchInstance)
	}
	if !ag.p.halted() {
		w.observe(ag, pDestroyed)
	}
	sl.forget(v.ID)
	return ag.report(), nil
}

// agentOf finds the sled-agent's record of a VMM wherever it runs.
func (w *World) agentOf(id vmmstate.ID) *agentVMM {
	row := w.vmms[id]
	if row == nil {
		return nil
	}
	sl := w.sledByID(row.vmm.SledID)
	if sl == nil || !sl.answers() {
		return nil
	}
	return sl.find(id)
}

// RequestState implements controlplane.StateRequester: vmm_put_state
// (§10.2). The sled-agent takes a stop or a reboot as the VMM's goal,
// which its Propolis follows at its next ticks — a running guest begins to
// stop at once — and answers with the VMM's state as it holds it; a VMM it does not hold, or holds halted,
// is 404 or 410 no_such_instance (proof of death, D18); a full request
// queue, an error of its own or Propolis refusing (start_transient, §3.4)
// proves nothing.
func (a *sledAgents) RequestState(_ context.Context, v vmmstate.VMM, req instancestate.SledRequest) (rep instancestate.Report, err error) {
	w := (*World)(a)
	defer w.keep() // what the sled-agent did is kept before it answers
	defer func() { w.countCall(err) }()
	w.answered(v.ID) // the caller records the answer, or the death it proves
	sl := w.sledByID(v.SledID)
	if sl == nil || !sl.answers() {
		return instancestate.Report{}, agentError(*w.commError())
	}
	ag := sl.find(v.ID)
	switch {
	case ag == nil:
		return instancestate.Report{}, agentError(noSuchInstance)
	case ag.p.halted():
		return instancestate.Report{}, agentError(failure.Outcome{Status: 410, ErrorCode: failure.ErrorCodeNoSuchInstance})
	case w.fault(FaultStartTransient) && w.chance(20):
		w.stats.Faults[FaultStartTransient]++
		return instancestate.Report{}, agentError([...]failure.Outcome{
			{Status: 503, ErrorCode: "INSTANCE_CHANNEL_FULL"},
			{Status: 500},
			{Status: 409},
		}[w.intn(3)])
	}
	switch req {
	case instancestate.SledRequestStopped:
		ag.goal = goalStop
		if ag.p == pRunning && ag.flight == nil {
			// Propolis begins to stop the guest as it takes the request,
			// not at its next tick: ticks are drawn among every VMM of
			// the fleet, hours of simulated time apart in a large one,
			// and a guest told to stop would run on beside its restart.
			w.observe(ag, pStopping)
		}
	case instancestate.SledRequestReboot:
		if ag.p == pRunning && ag.goal == goalNone {
			ag.goal = goalReboot
		}
	}
	rep = ag.report()
	w.answeredSides(rep)
	return rep, nil
}

// countCall counts a vmm_put_state call by the status the external API
// answers with: 200 when the sled-agent took it, else its outcome's
// (failure.Classify, D18).
func (w *World) countCall(err error) {
	if err == nil {
		w.stats.SledCalls["200"]++
		return
	}
	var ae *sagas.AgentError
	if !errors.As(err, &ae) {
		return
	}
	if cl, cerr := failure.Classify(ae.Outcome); cerr == nil {
		w.stats.SledCalls[strconv.Itoa(cl.HTTPStatus)]++
	}
}

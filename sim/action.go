package sim

import (
	"strconv"

	"github.com/vmlife/vmlife/controlplane"
)

// Action is one kind of thing that can happen in a step.
type Action uint8

// The actions, in the order the summary lists them.
const (
	ActRequest       Action = iota + 1 // a user sends start, stop, reboot, migrate or delete (§10)
	ActCreate                          // a user creates an instance (§16)
	ActSagaStep                        // a saga in flight runs one node
	ActPropolis                        // a VMM's hypervisor moves on; its sled-agent reports (§3.5)
	ActDeliver                         // the network delivers a report to Nexus (§12)
	ActWatcher                         // the instance watcher checks one VMM (§18)
	ActReincarnation                   // the reincarnation task runs (§17.3)
	ActReconcile                       // the reconciler acts on one instance's NextAction (D19)
	ActReaper                          // the abandoned-VMM reaper runs (§18)
	ActIdle                            // nothing but time passes
	ActSledOff                         // fault: a sled loses power
	ActSledOn                          // a powered-off sled comes back, empty
	ActSledPartition                   // fault: a sled-agent stops answering
	ActSledHeal                        // the sled-agent answers again
	ActSledExpunge                     // fault: a sled is expunged and replaced
	ActCrash                           // fault: the control plane's process dies and restarts (D26)
	ActUpdater                         // the instance updater runs (§8.1, D11)
	ActReconciler                      // the instance reconciler runs (D19)
	numActions
)

var actionNames = [...]string{
	ActRequest:       "user_request",
	ActCreate:        "create_instance",
	ActSagaStep:      "saga_step",
	ActPropolis:      "propolis_tick",
	ActDeliver:       "deliver_report",
	ActWatcher:       "watcher_check",
	ActReincarnation: "reincarnation_task",
	ActReconcile:     "reconcile",
	ActReaper:        "reaper",
	ActIdle:          "idle",
	ActSledOff:       "sled_power_off",
	ActSledOn:        "sled_power_on",
	ActSledPartition: "sled_partition",
	ActSledHeal:      "sled_heal",
	ActSledExpunge:   "sled_expunge",
	ActCrash:         "control_plane_crash",
	ActUpdater:       "instance_updater",
	ActReconciler:    "instance_reconciler",
}

// AllActions returns every action in declaration order.
func AllActions() []Action {
	out := make([]Action, 0, numActions-1)
	for a := Action(1); a < numActions; a++ {
		out = append(out, a)
	}
	return out
}

// String returns the action's name, or "sim.Action(n)".
func (a Action) String() string {
	if a == 0 || a >= numActions {
		return "sim.Action(" + strconv.Itoa(int(a)) + ")"
	}
	return actionNames[a]
}

// chooseAction draws the step's action among those that can happen now,
// by weight. The weights make a step about a third saga work, a third
// sled-agents and the network, and a third users and background tasks;
// a sled fault comes every thousand steps or so, and is repaired within a
// hundred.
func (w *World) chooseAction() Action {
	var weights [numActions]int
	if !w.settling {
		weights[ActRequest] = 300
		if len(w.instances) < w.cfg.Instances {
			weights[ActCreate] = 120
		}
	}
	if len(w.sagas) > 0 {
		weights[ActSagaStep] = 900
	}
	if w.anyAgentVMM() {
		weights[ActPropolis] = 480
	}
	if w.deliverable() {
		weights[ActDeliver] = 900
	}
	weights[ActWatcher] = 120
	weights[ActReincarnation] = 30
	weights[ActUpdater] = 30
	weights[ActReconciler] = 30
	weights[ActReconcile] = 120
	weights[ActReaper] = 60
	weights[ActIdle] = 30
	off, parted, up := w.sledCensus()
	if w.fault(FaultSledOff) && off == 0 && up > 1 {
		weights[ActSledOff] = 2
	}
	if off > 0 {
		weights[ActSledOn] = 30
	}
	if w.fault(FaultSledUnreachable) && parted == 0 && up > 1 {
		weights[ActSledPartition] = 2
	}
	if parted > 0 {
		weights[ActSledHeal] = 30
	}
	if w.fault(FaultSledExpunge) && up > 1 {
		weights[ActSledExpunge] = 1
	}
	// A crash's recovery runs every saga in flight; its chance falls as
	// their number grows, so that the work it brings a step does not grow
	// with the fleet.
	if w.fault(FaultControlPlaneCrash) && w.sec != nil && len(w.sagas) > 0 && w.intn(1+len(w.sagas)/16) == 0 {
		weights[ActCrash] = 1
	}
	total := 0
	for _, x := range weights {
		total += x
	}
	n := w.intn(total)
	for a := Action(1); a < numActions; a++ {
		if n < weights[a] {
			return a
		}
		n -= weights[a]
	}
	return ActIdle
}

func (w *World) act(a Action) {
	switch a {
	case ActRequest:
		w.userRequest()
	case ActCreate:
		w.create(w.createInstance())
	case ActSagaStep:
		w.stepSaga()
	case ActPropolis:
		w.propolisTick()
	case ActDeliver:
		w.deliver()
	case ActWatcher:
		w.watch()
	case ActReincarnation:
		w.runTask(controlplane.TaskReincarnation)
	case ActReconcile:
		w.reconcile()
	case ActReaper:
		w.reap()
	case ActIdle:
	case ActSledOff:
		w.sledOff()
	case ActSledOn:
		w.sledOn()
	case ActSledPartition:
		w.sledPartition()
	case ActSledHeal:
		w.sledHeal()
	case ActSledExpunge:
		w.sledExpunge()
	case ActCrash:
		w.crashControlPlane()
	case ActUpdater:
		w.runTask(controlplane.TaskInstanceUpdater)
	case ActReconciler:
		// Its query decides on every instance whose intent is unmet — a
		// start in flight among them — so, like the reaper's, it runs at
		// one action in 1+n/128 for n instances, and the work it brings a
		// step does not grow with the fleet.
		if w.intn(1+len(w.instances)/128) == 0 {
			w.runTask(controlplane.TaskInstanceReconciler)
		}
	}
}

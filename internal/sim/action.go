package sim

import (
	"strconv"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
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
	weights[ActReconcile] = 180
	weights[ActReaper] = 60
	weights[ActIdle] = 30
	off, parted, up := 0, 0, 0
	for _, sl := range w.sleds {
		switch {
		case sl.expunged:
		case sl.power != failure.PowerA0:
			off++
		case sl.partitioned:
			parted++
		default:
			up++
		}
	}
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
		in := w.createInstance()
		w.launch(in, &sagas.Create{Instance: in.rec})
	case ActSagaStep:
		w.stepSaga()
	case ActPropolis:
		w.propolisTick()
	case ActDeliver:
		w.deliver()
	case ActWatcher:
		w.watch()
	case ActReincarnation:
		w.reincarnationTask()
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
	}
}

// ---- users (§10) ----

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
	w.carryOut(in, s, d, dest)
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

// carryOut does what a decision says.
func (w *World) carryOut(in *instRow, s instancestate.Snapshot, d instancestate.Decision, dest *sled) {
	// D16: the intent of an accepted request is written, in the same
	// write as the runtime that goes with it.
	if d.Intent != 0 && d.Action != instancestate.ActionUpdateRuntime && in.rec.IntendedState != d.Intent {
		if _, err := w.st.InstanceSetIntendedState(w.ctx, in.rec.ID, d.Intent); err != nil {
			w.unexpected("instance_set_intended_state", in.name, err)
		}
		w.reload(in)
	}
	switch d.Action {
	case instancestate.ActionStartSaga:
		if in.starts < 2 {
			w.startStart(in, failure.StartReasonUser)
		}
	case instancestate.ActionSendToSled:
		w.sendToSled(s.Active, d.SledRequest)
	case instancestate.ActionUpdateRuntime:
		// §10.2: written with the generation guard.
		if !d.Runtime.Generation.After(in.rec.Runtime.Generation) {
			w.violate("§10.2", in.name, "UpdateRuntime does not advance the generation")
			return
		}
		if !w.writeRuntime(in, "instance_update_runtime", d.Runtime, d.Intent) {
			w.violate("§10.2", in.name, "the runtime of an accepted request was not written")
		}
	case instancestate.ActionMigrateSaga:
		if in.migrates == 0 && dest != nil {
			in.migrates++
			w.launch(in, &sagas.Migrate{Instance: in.rec.ID, Source: s.Active.ID, Destination: dest.id})
		}
	case instancestate.ActionDeleteSaga:
		if in.deletes == 0 {
			in.deletes++
			w.launch(in, &sagas.Delete{Instance: in.rec.ID})
		}
	}
}

// sendToSled is §10.2's SendToSled: vmm_put_state to the VMM's sled-agent.
// A call that proves the VMM gone marks it failed (§10.4, D18); any other
// failure changes nothing, and the reconciler asks again later (D19).
func (w *World) sendToSled(v vmmstate.VMM, req instancestate.SledRequest) {
	sl := w.sledByID(v.SledID)
	if sl == nil {
		return
	}
	var out *failure.Outcome
	var a *agentVMM
	switch {
	case !sl.answers():
		out = w.commError()
	default:
		a = sl.find(v.ID)
		switch {
		case a == nil:
			out = &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}
		case a.p.halted():
			out = &failure.Outcome{Status: 410, ErrorCode: failure.ErrorCodeNoSuchInstance}
		case w.fault(FaultStartTransient) && w.chance(20):
			// §3.4: a full request queue, an error of the sled-agent's
			// own, or Propolis refusing the request (its 4xx passes
			// through). None proves the VMM gone (D18).
			w.stats.Faults[FaultStartTransient]++
			out = [...]*failure.Outcome{
				{Status: 503, ErrorCode: "INSTANCE_CHANNEL_FULL"},
				{Status: 500},
				{Status: 409},
			}[w.intn(3)]
		}
	}
	if out != nil {
		cl, err := failure.Classify(*out)
		if err != nil {
			w.unexpected("Classify", w.vmmName(v.ID), err)
			return
		}
		w.stats.SledCalls[strconv.Itoa(cl.HTTPStatus)]++
		// D18: only proof of death fails a VMM; MarkFailed ignores a 404
		// about a VMM not yet registered on its sled (still creating).
		if cl.VMMGone {
			w.markFailed(v.ID, cl.Reason)
		}
		return
	}
	w.stats.SledCalls["200"]++
	switch req {
	case instancestate.SledRequestStopped:
		a.goal = goalStop
	case instancestate.SledRequestReboot:
		if a.p == pRunning && a.goal == goalNone {
			a.goal = goalReboot
		}
	}
}

// ---- sled-agents (§3.5) ----

func (w *World) anyAgentVMM() bool {
	for _, sl := range w.sleds {
		for _, a := range sl.agent {
			if !a.p.halted() {
				return true
			}
		}
	}
	return false
}

// propolisTick lets one running VMM move on.
func (w *World) propolisTick() {
	w.scratch = w.scratch[:0]
	for _, sl := range w.sleds {
		for _, a := range sl.agent {
			if !a.p.halted() {
				w.scratch = append(w.scratch, a)
			}
		}
	}
	if len(w.scratch) == 0 {
		return
	}
	a := w.scratch[w.intn(len(w.scratch))]
	w.tracef("propolis %s %v", a.name, a.rt.State)
	w.tick(a)
}

// ---- the instance watcher (§18) ----

// watch checks one VMM the watcher lists (§8.1
// instance_and_vmm_list_by_sled_agent: not creating, saga_unwound or
// destroyed) and acts on failure.CheckHealth's verdict: apply the state
// the sled-agent reported, fail the VMM on proof of death, or only note
// that its sled is unreachable (D18).
func (w *World) watch() {
	// §8.1 lists VMMs not in NONEXISTENT_STATES: §4.2's exists_on_sled.
	// The watcher picks one of them at random: counted, then found, so
	// that no list of a fleet's VMMs is built at every check.
	listed := func(r *vmmRow) bool { return r.vmm.Runtime.State.ExistsOnSled() && w.vmms[r.vmm.ID] == r }
	n := 0
	for _, r := range w.vmmOrder {
		if listed(r) {
			n++
		}
	}
	if n == 0 {
		return
	}
	var r *vmmRow
	for k, i := w.intn(n), 0; r == nil; i++ {
		if listed(w.vmmOrder[i]) {
			if k == 0 {
				r = w.vmmOrder[i]
			}
			k--
		}
	}
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

// ---- background tasks ----

// reincarnationTask is §17.3: every instance instancestate.Reincarnate
// says should be restarted gets a start saga with reason auto_restart, up
// to 16 per activation.
func (w *World) reincarnationTask() {
	started := 0
	for _, in := range w.instances {
		if started == 16 {
			break
		}
		if !in.mayReincarnate {
			continue // its last check says no restart is due or coming
		}
		r, err := instancestate.Reincarnate(w.snapshot(in), w.now)
		if err != nil {
			w.unexpected("Reincarnate", in.name, err)
			continue
		}
		if r.Should && in.starts == 0 {
			started++
			w.stats.Reincarnations++
			w.startStart(in, failure.StartReasonAutoRestart)
		}
	}
}

// reconcile follows instancestate.Next for one instance (D19).
func (w *World) reconcile() {
	if len(w.instances) == 0 {
		return
	}
	in := w.instances[w.intn(len(w.instances))]
	s := w.snapshot(in)
	n, err := instancestate.Next(s, w.now)
	if err != nil {
		w.unexpected("Next", in.name, err)
		return
	}
	w.stats.Next[n.Action]++
	w.tracef("reconcile %s: %v", in.name, n.Action)
	switch n.Action {
	case instancestate.NextStart:
		if in.starts == 0 {
			w.startStart(in, failure.StartReasonAutoStart)
		}
	case instancestate.NextReincarnate:
		if in.starts == 0 {
			w.stats.Reincarnations++
			w.startStart(in, failure.StartReasonAutoRestart)
		}
	case instancestate.NextRunUpdate:
		if in.updates == 0 {
			w.startUpdate(in)
		}
	case instancestate.NextStop:
		d, err := instancestate.Decide(s, instancestate.RequestStop, w.now)
		if err != nil {
			w.unexpected("Decide(stop)", in.name, err)
			return
		}
		if d.Action == instancestate.ActionSendToSled {
			w.sendToSled(s.Active, d.SledRequest)
		}
	}
}

// reap is the abandoned-VMM reaper (§18): every destroyable VMM no
// instance links is deleted and its reservation released. Sled-agents
// that answer forget the VMMs the database no longer runs, and migration
// rows that no instance links and that have an outcome are deleted.
func (w *World) reap() {
	for _, r := range w.vmmOrder {
		if !r.vmm.Runtime.State.IsDestroyable() || w.vmms[r.vmm.ID] != r {
			continue
		}
		if in := w.live(r.vmm.InstanceID); in != nil && links(in, r.vmm.ID) {
			continue
		}
		if w.deleteVMM(r.vmm.ID) {
			w.stats.Reaped++
		}
	}
	for _, sl := range w.sleds {
		if !sl.answers() {
			continue
		}
		for i := 0; i < len(sl.agent); i++ {
			a := sl.agent[i]
			r := w.vmms[a.id]
			if r == nil || r.vmm.Runtime.State.Kind() == vmmstate.KindSagaUnwound && a.flight == nil {
				sl.forget(a.id)
				i--
			}
		}
	}
	for _, m := range w.migOrder {
		if w.migs[m.rec.ID] != m {
			continue
		}
		in := w.live(m.rec.InstanceID)
		if in != nil && in.rec.Runtime.MigrationID == m.rec.ID {
			continue
		}
		if m.rec.Source.IsTerminal() && m.rec.Target.IsTerminal() ||
			w.vmms[m.rec.Source.VMM] == nil && w.vmms[m.rec.Target.VMM] == nil {
			// Only the world forgets it: Omicron deletes a migration row
			// only with its instance, and a sled-agent keeps naming its
			// last migration in every report, which a deleted row would
			// refuse (§8.2: gone).
			delete(w.migs, m.rec.ID)
		}
	}
	w.compact()
}

// compact drops deleted rows from the ordered lists.
func (w *World) compact() {
	vs := w.vmmOrder[:0]
	for _, r := range w.vmmOrder {
		if w.vmms[r.vmm.ID] == r {
			vs = append(vs, r)
		}
	}
	clear(w.vmmOrder[len(vs):])
	w.vmmOrder = vs
	ms := w.migOrder[:0]
	for _, m := range w.migOrder {
		if w.migs[m.rec.ID] == m {
			ms = append(ms, m)
		}
	}
	clear(w.migOrder[len(ms):])
	w.migOrder = ms
}

// ---- sled faults ----

// pickSled chooses one sled satisfying ok.
func (w *World) pickSled(ok func(*sled) bool) *sled {
	var cands []*sled
	for _, sl := range w.sleds {
		if ok(sl) {
			cands = append(cands, sl)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[w.intn(len(cands))]
}

func healthy(sl *sled) bool { return sl.inService() && !sl.partitioned }

// lose takes every VMM off a sled-agent, as a power loss does; the other
// side of any of their migrations sees the migration fail.
func (w *World) lose(sl *sled) {
	// The other side of a migration finds this one gone and fails it.
	for _, a := range sl.agent {
		a.gone = true
	}
	sl.agent = nil
}

func (w *World) sledOff() {
	sl := w.pickSled(healthy)
	if sl == nil {
		return
	}
	w.stats.Faults[FaultSledOff]++
	sl.power = failure.PowerA2
	if w.chance(2) {
		sl.power = failure.PowerA1
	}
	w.lose(sl)
	w.tracef("sled %s off (%v)", sl.name, sl.power)
}

func (w *World) sledOn() {
	sl := w.pickSled(func(sl *sled) bool { return !sl.expunged && sl.power != failure.PowerA0 })
	if sl == nil {
		return
	}
	sl.power = failure.PowerA0
	w.tracef("sled %s on", sl.name)
}

func (w *World) sledPartition() {
	sl := w.pickSled(healthy)
	if sl == nil {
		return
	}
	w.stats.Faults[FaultSledUnreachable]++
	sl.partitioned, sl.mgsUnknown = true, w.chance(3)
	w.tracef("sled %s unreachable", sl.name)
}

func (w *World) sledHeal() {
	sl := w.pickSled(func(sl *sled) bool { return sl.partitioned })
	if sl == nil {
		return
	}
	sl.partitioned, sl.mgsUnknown = false, false
	w.tracef("sled %s answers again", sl.name)
}

// sledExpunge expunges a sled (its VMMs die with it) and adds a new sled
// in its slot, so the world keeps its capacity.
func (w *World) sledExpunge() {
	sl := w.pickSled(func(sl *sled) bool { return sl.inService() })
	if sl == nil {
		return
	}
	w.stats.Faults[FaultSledExpunge]++
	sl.expunged = true
	w.lose(sl)
	repl := w.addSled(sl.slot)
	w.tracef("sled %s expunged, %s replaces it", sl.name, repl.name)
}

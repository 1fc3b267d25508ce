package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// Chooser makes every choice the world does not leave to vmlife: which
// action comes next, which instance a user pokes, whether a report is
// lost. IntN returns a number in [0, n) for n > 0. A *rand.Rand satisfies
// it, and so does an adapter over rapid's draws, so one simulator serves
// both the command and the model-based test.
type Chooser interface {
	IntN(n int) int
}

// NewRand returns the Chooser `vmlife simulate --seed` uses: math/rand/v2's
// PCG seeded with seed.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Epoch is when every simulation starts (D1: simulated time only).
var Epoch = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// SEC is the identity of the simulated control plane's saga executor, as
// the saga log names the owner of its sagas: a process that crashed and
// restarts recovers them under it.
var SEC = uuid.MustParse("5e000000-0000-4000-8000-0000000051a0")

// Tick is how much simulated time one step takes.
const Tick = 2 * time.Second

// instRow is an instance row of the simulated database, with what the
// control plane keeps beside it.
type instRow struct {
	// rec is the record as the store last returned it: the world reads
	// it often and writes it only through the store (reload).
	rec  instancestate.Instance
	name string
	// deleted is the row's time_deleted: set by the delete saga, after
	// which every write to it fails (§8.1); final is the snapshot as the
	// delete left it, which the store no longer returns.
	deleted bool
	final   instancestate.Snapshot
	// placement is the user's constraint on where the instance may run.
	placement placement
	// pending: the create saga has not inserted the record yet; the
	// instance joins the world when it has (addInstance).
	pending bool
	// In-flight sagas, so background tasks do not pile them up.
	starts, updates, migrates, deletes int
	// prev is the snapshot at the end of the previous step (CheckStep).
	prev    instancestate.Snapshot
	hasPrev bool
	// touched: written (or its saga count or watcher observation changed)
	// in the step in progress, so checked at its end; due: when its
	// cooldown ends, the one time a check of it can change with no write
	// (zero: none pending).
	touched bool
	due     time.Time
	// last generations seen, for the world's "never decreases" check.
	lastGen, lastUpdaterGen generation.Generation
}

// vmmRow is a VMM row of the simulated database, as the store last
// returned it (reloadVMM).
type vmmRow struct {
	vmm     vmmstate.VMM
	name    string
	lastGen generation.Generation
}

// migRow is a migration row of the simulated database, as the store last
// returned it (reloadMigration).
type migRow struct {
	rec              migration.Record
	lastSrc, lastDst generation.Generation
}

// World is a small simulated control plane: a database of instance, VMM
// and migration records, sleds with capacity, sled-agents running VMMs,
// a network carrying their reports, users, sagas and background tasks.
// The world holds state and delivers messages; every decision is a vmlife
// call, and every record is written and read through a datastore.Store
// (Config.Store), with the guards of §8–§9. A World is not safe for
// concurrent use.
type World struct {
	cfg  Config
	st   datastore.Store
	ctx  context.Context
	step int
	now  time.Time
	c    Chooser // the chooser of the step in progress
	ids  uint64

	instances []*instRow // live instances, in creation order
	instByID  map[vmmstate.InstanceID]*instRow
	dropped   []*instRow // deleted in the step in progress: checked once more

	vmms     map[vmmstate.ID]*vmmRow
	vmmOrder []*vmmRow // creation order; rows deleted from vmms are skipped and compacted
	migs     map[migration.ID]*migRow
	migOrder []*migRow

	sleds  []*sled // every sled, expunged ones included (the watcher still lists their VMMs)
	census census  // of the sleds' states, counted when one changed
	// agents are the VMMs the sled-agents hold, across sleds, for a
	// Propolis tick to draw from; forgotten ones (gone) are dropped as
	// they are drawn.
	agents []*agentVMM
	sledAt map[vmmstate.SledID]*sled
	net    []message

	sagas   []*inFlight
	sagaEnv *sagas.Env
	// cp is the control plane the world drives (plane.go): a new one at
	// every crash of its process. answers and answerMigs are the VMMs and
	// migrations the sled-agents answered about since the world last read
	// them back (readBack).
	cp         *controlplane.ControlPlane
	answers    []vmmstate.ID
	answerMigs []migration.ID
	// watching is the control plane's instance watcher pass in progress,
	// run a VMM at a time (watch); nil between passes.
	watching *controlplane.TaskRun
	// deferring: sagas the control plane begins are kept in deferred,
	// and taken once the world has read back a recovery (recoverSagas).
	deferring bool
	deferred  []deferredSaga
	// sec runs the sagas durably, their log in the store (D26), when the
	// store keeps one; nil when it does not, and sagas run in memory.
	sec *sagas.SEC
	// rsv keeps each reservation as a record too, when the store does.
	rsv    datastore.SledReservations
	heldOn map[vmmstate.ID]*sled // the sled each reservation is on

	// What the world's side of the reaper looks at when it next runs, so
	// that it never scans the fleet: VMMs a sled-agent may hold that the
	// database no longer runs, and migrations that may no longer be
	// needed. Rows deleted since the lists were last compacted are
	// counted, and the lists compacted once they are half dead.
	forgetQ          []forgetting
	migQ             []*migRow
	vmmDead, migDead int

	touched []*instRow // instances to check at the end of the step
	dues    dueHeap    // instances to check when their cooldown ends

	settling   bool // Settle: no users, no faults
	stats      counters
	violations []Violation
	seen       map[string]bool
	trace      []string

	scratch []*agentVMM

	// What Resume needs (keep.go): the Keeper, what it holds, why it
	// failed; the run's length; the resumptions so far, part of every id.
	keeper    Keeper
	kept      Kept
	stop      error    // why the world stopped (Err)
	resuming  bool     // Resume is rebuilding the world: nothing is kept
	launching *instRow // keep: a saga of this instance is about to begin
	creating  *instRow // create: the instance whose create saga the control plane is to hand over
	// pendingKept: instances not yet inserted whose create saga Resume is
	// recovering — kept, so that a resumption killed meanwhile finds them.
	pendingKept []*instRow
	abortable   bool // inside guarded: abort ends the work in progress
	target      int
	epoch       uint32
}

// New returns a world at Epoch with cfg.Instances instances, created and
// stopped, about two thirds of them asked to start (§16: an instance
// created with start runs an auto_start start saga). The world advances
// only through Step.
func New(cfg Config) (*World, error) {
	return newRun(cfg, 0)
}

// newRun is New for a run of steps steps (Run): the length is kept with
// the world, for Resume.
func newRun(cfg Config, steps int) (*World, error) {
	w, err := newWorld(cfg, steps)
	if err != nil {
		return nil, err
	}
	for i := range w.cfg.Sleds {
		w.addSled(i)
	}
	if w.keeper != nil {
		if _, ok := w.st.(datastore.SagaLog); !ok || w.rsv == nil {
			return nil, &ConfigError{Field: "keeper", Accept: "a Keeper only with a store that keeps a saga log and sled reservations (datastore.SagaLog, datastore.SledReservations): a world resumed without them would lose its sagas"}
		}
	}
	err = w.guarded(func() {
		w.keep()
		for range w.cfg.Instances {
			in := w.createInstance()
			w.createToEnd(in)
		}
		// The initial state is checked like every later one.
		w.checkAll()
		w.keep()
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// stopping is the panic with which abort ends the work of a world that
// stopped; guarded recovers it.
type stopping struct{}

// abort stops the world at err (Err): inside guarded, whatever it was
// doing ends here — no further call to a store that does not answer, no
// sled-agent answer given unkept, no decision made from a snapshot half
// read.
func (w *World) abort(err error) {
	if w.stop == nil {
		w.stop = err
	}
	if w.abortable {
		panic(stopping{})
	}
}

// guarded runs f, which abort may end, and returns why the world stopped.
func (w *World) guarded(f func()) (err error) {
	w.abortable = true
	defer func() {
		w.abortable = false
		if r := recover(); r != nil {
			if _, ok := r.(stopping); !ok {
				panic(r)
			}
		}
		err = w.stop
	}()
	f()
	return w.stop
}

// newWorld returns a world with no sleds and no instances, at Epoch.
func newWorld(cfg Config, steps int) (*World, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	st := cfg.Store
	if st == nil {
		st = datastore.NewMemory()
	}
	w := &World{
		cfg:      cfg,
		st:       st,
		ctx:      context.Background(),
		now:      Epoch,
		instByID: make(map[vmmstate.InstanceID]*instRow),
		vmms:     make(map[vmmstate.ID]*vmmRow),
		migs:     make(map[migration.ID]*migRow),
		seen:     make(map[string]bool),
		sledAt:   make(map[vmmstate.SledID]*sled),
		heldOn:   make(map[vmmstate.ID]*sled),
	}
	if rsv, ok := st.(datastore.SledReservations); ok {
		w.rsv = rsv
	}
	w.cp = w.newControlPlane()
	w.sagaEnv = w.cp.SEC().Env
	if _, ok := st.(datastore.SagaLog); ok {
		w.sec = w.cp.SEC()
	}
	w.stats.init()
	w.keeper, w.target = cfg.Keeper, steps
	w.kept.Sleds = make(map[vmmstate.SledID][]byte)
	return w, nil
}

// Config returns the configuration the world runs, defaults filled in.
func (w *World) Config() Config { return w.cfg }

// Steps returns how many steps the world has taken.
func (w *World) Steps() int { return w.step }

// Now returns the world's simulated time.
func (w *World) Now() time.Time { return w.now }

// Trace returns the actions taken so far, one line each, when Config.Trace
// is set.
func (w *World) Trace() []string { return w.trace }

// Violations returns every distinct invariant violation found so far.
func (w *World) Violations() []Violation { return w.violations }

// Step advances the world by one action chosen through c, then checks
// every invariant. It returns the violations first seen in this step.
func (w *World) Step(c Chooser) []Violation {
	return w.stepWith(c, w.chooseAction)
}

// stepWith is Step with the action chosen by choose.
func (w *World) stepWith(c Chooser, choose func() Action) []Violation {
	if w.stop != nil {
		return nil
	}
	before := len(w.violations)
	if w.guarded(func() {
		w.c = c
		w.step++
		w.now = w.now.Add(Tick)
		a := choose()
		w.stats.Actions[a]++
		w.tracef("%v", a)
		w.act(a)
		w.readBack()
		if every := w.cfg.FullCheckEvery; every <= 1 || w.step%every == 0 {
			w.checkAll()
		} else {
			w.checkTouched()
		}
		w.c = nil
		w.keep()
	}) != nil || len(w.violations) == before {
		return nil
	}
	return w.violations[before:]
}

// fault reports whether fault f is injected now: configured, and the
// world not settling.
func (w *World) fault(f Fault) bool { return !w.settling && w.cfg.Faults.Has(f) }

// SettleSteps is a quiet-step budget within which a world of the given
// number of instances converges: long enough for the 5-minute cooldown
// (150 steps) to pass and for every saga and report in flight to finish,
// plus time for each instance's own work, which the world does a few
// instances at a time. Measured: 300 instances needed 4,500 to 12,000.
func SettleSteps(instances int) int { return 1500 + 40*max(instances, 0) }

// Settle stops the users and the faults — no more requests or new
// instances, no injected trouble, and sleds that are off or cut off come
// back — and runs steps more steps, so that the control plane can
// converge (D19: roll forward), then runs the sagas still in flight to
// rest. It returns the violations first seen in
// those steps; Unsettled then lists the instances that did not converge.
func (w *World) Settle(c Chooser, steps int) []Violation {
	steps = max(steps, 0)
	w.settling = true
	before := len(w.violations)
	for range steps {
		w.Step(c)
	}
	// The sagas begun in the last steps run to rest, a node a step, so
	// that a settled world has none in flight; each node asks for at most
	// a few more, and a bound stops a world that would not stop.
	sagaStep := func() Action { return ActSagaStep }
	for i := 0; len(w.sagas) > 0 && i < 100*SettleSteps(len(w.instances)); i++ {
		w.stepWith(c, sagaStep)
	}
	w.checkAll()
	return w.violations[before:]
}

// Unsettled lists the instances that are not where their intent says
// they should be, and do not say why: meant to run but not running, with
// no StartFailed condition (D13) and not failed under the policy never;
// or stopped by the user but neither stopped nor failed. After Settle it
// should be empty: every instance has converged, or explains itself.
func (w *World) Unsettled() []string {
	var out []string
	for _, in := range w.instances {
		if why := unsettled(w.snapshot(in), w.now); why != "" {
			out = append(out, in.name+": "+why)
		}
	}
	return out
}

func unsettled(s instancestate.Snapshot, now time.Time) string {
	e, err := instancestate.EffectiveState(s)
	if err != nil {
		return err.Error()
	}
	conds, err := instancestate.Conditions(s, now)
	if err != nil {
		return err.Error()
	}
	in := s.Instance
	// A condition that says why it is not running: a failed start (D13),
	// or a VMM the control plane lost, which under the policy never stays
	// lost (D22).
	startFailed := false
	for _, c := range conds {
		startFailed = startFailed || c.Type == instancestate.CondStartFailed ||
			c.Type == instancestate.CondVMMLost && in.AutoRestart.EffectivePolicy() == instancestate.PolicyNever
	}
	switch in.IntendedState {
	case instancestate.IntendRunning:
		if e == instancestate.Running || startFailed ||
			e == instancestate.Failed && in.AutoRestart.EffectivePolicy() == instancestate.PolicyNever {
			return ""
		}
	case instancestate.IntendStopped:
		if e == instancestate.Stopped || e == instancestate.Failed {
			return ""
		}
	case instancestate.IntendGuestShutdown:
		// The guest shut itself down (§13.3): nothing restarts it, and no
		// start may link a VMM against that intent (MarkAsStarting).
		if e == instancestate.Stopped || e == instancestate.Failed {
			return ""
		}
	case instancestate.IntendDestroyed:
		if e == instancestate.Destroyed {
			return ""
		}
	}
	n, err := instancestate.Next(s, now)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("intends %v, reads %v, next %v (%s), conditions %+v", in.IntendedState, e, n.Action, n.Why, conds)
}

// intn is the step's chooser, guarded against n <= 0.
func (w *World) intn(n int) int {
	if n <= 1 {
		return 0
	}
	v := w.c.IntN(n)
	if v < 0 || v >= n {
		return 0
	}
	return v
}

// chance reports a one-in-n event.
func (w *World) chance(n int) bool { return w.intn(n) == 0 }

// tracef records a line of the trace when tracing is on.
func (w *World) tracef(format string, args ...any) {
	if w.cfg.Trace {
		w.trace = append(w.trace, fmt.Sprintf("%6d %s ", w.step, w.now.Format("15:04:05"))+fmt.Sprintf(format, args...))
	}
}

// newUUID returns a fresh, deterministic UUID: a kind byte, the world's
// resumptions (keep.go) and a counter.
func (w *World) newUUID(kind byte) uuid.UUID {
	w.ids++
	var u uuid.UUID
	u[0] = kind
	binary.BigEndian.PutUint32(u[1:5], w.epoch) // 0 until a Resume
	binary.BigEndian.PutUint64(u[8:], w.ids)
	u[6] = 0x40 | u[6]&0x0f // version 4
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u
}

// name of the record whose id newUUID just made, for traces: the kind and
// the counter, and after a resumption the epoch ("v57.2"), as ids are
// made again from a kept counter.
func (w *World) name(kind byte) string {
	if w.epoch > 0 {
		return fmt.Sprintf("%c%d.%d", kind, w.ids, w.epoch)
	}
	return fmt.Sprintf("%c%d", kind, w.ids)
}

// createInstance makes a new instance's record, creating (§16), for a
// create saga to insert. Its auto-restart policy, start flag and placement
// constraint follow its number, so every combination occurs.
func (w *World) createInstance() *instRow {
	id := vmmstate.InstanceIDFromUUID(w.newUUID('i'))
	n := int(w.ids)
	auto := instancestate.AutoRestart{}
	switch n % 5 {
	case 0:
		auto.Policy = instancestate.PolicyNever
	case 1:
		auto = instancestate.AutoRestart{Policy: instancestate.PolicyBestEffort, Cooldown: time.Minute}
	}
	in := &instRow{rec: instancestate.New(id, n%3 != 0, auto, w.now), name: w.name('i'), pending: true}
	if w.cfg.Faults.Has(FaultStartPermanent) && n%3 == 2 {
		// One instance in three carries a constraint, of each kind in
		// turn, so that the fault fires often enough alone even in a
		// world of three instances.
		in.placement = placement{kind: constraintKind(1 + (n/3)%numConstraintKinds), slot: n % len(w.sleds)}
	}
	return in
}

// addInstance adds an instance whose record the create saga inserted to
// the world.
func (w *World) addInstance(in *instRow) {
	in.pending = false
	in.lastGen, in.lastUpdaterGen = in.rec.Runtime.Generation, in.rec.UpdaterGen
	w.instances = append(w.instances, in)
	w.instByID[in.rec.ID] = in
	w.stats.Created++
	w.reload(in)
	w.tracef("create %s (start %v, policy %v, placement %v)", in.name, in.rec.IntendedState == instancestate.IntendRunning, in.rec.AutoRestart.EffectivePolicy(), in.placement)
}

// live returns the instance with id if it is live.
func (w *World) live(id vmmstate.InstanceID) *instRow {
	in := w.instByID[id]
	if in == nil || in.deleted {
		return nil
	}
	return in
}

// snapshot reads an instance as its control plane decides on it
// (controlplane.ControlPlane.Snapshot): its active VMM, target VMM and
// migration from the store in one consistent read (§8.1
// instance_fetch_all), with the policy (D32–D35) and the watcher's
// SledUnreachable observation. A deleted instance reads as the delete left
// it. What the world holds of the records is checked against the read: a
// difference is a write that went around the store.
func (w *World) snapshot(in *instRow) instancestate.Snapshot {
	if in.deleted {
		s := in.final
		s.Policy = w.cfg.Policy
		return s
	}
	s, err := w.cp.Snapshot(w.ctx, in.rec.ID)
	if err != nil {
		w.unexpected("instance_fetch_all", in.name, err)
		return instancestate.Snapshot{Instance: in.rec, Policy: w.cfg.Policy}
	}
	w.agree(in, s)
	return s
}

// agree checks what the world holds of an instance's records against the
// store's snapshot s.
func (w *World) agree(in *instRow, s instancestate.Snapshot) {
	const check = "the world's records are the store's"
	if in.rec != s.Instance {
		w.violate(check, in.name, fmt.Sprintf("holds %+v, the store %+v", in.rec, s.Instance))
		in.rec = s.Instance
	}
	for _, v := range [...]vmmstate.VMM{s.Active, s.Target} {
		if r := w.vmms[v.ID]; r != nil && !v.ID.IsZero() && r.vmm != v {
			w.violate(check, r.name, fmt.Sprintf("holds %+v, the store %+v", r.vmm, v))
			r.vmm = v
		}
	}
	if m := w.migs[s.Migration.ID]; m != nil && !s.Migration.ID.IsZero() && m.rec != s.Migration {
		w.violate(check, s.Migration.ID.String(), fmt.Sprintf("holds %+v, the store %+v", m.rec, s.Migration))
		m.rec = s.Migration
	}
}

// reload reads an instance's record back after the store wrote it, and
// marks it for the end-of-step check.
func (w *World) reload(in *instRow) {
	if in.deleted {
		return
	}
	w.touch(in)
	s, err := w.st.InstanceFetchAll(w.ctx, in.rec.ID)
	if err != nil {
		w.unexpected("instance_fetch_all", in.name, err)
		return
	}
	w.reloaded(in, s.Instance)
}

// reloaded takes rec, just read from the store, as an instance's record,
// checking that no generation went back, and marks it for the end-of-step
// check.
func (w *World) reloaded(in *instRow, rec instancestate.Instance) {
	w.touch(in)
	w.unlinked(in.rec.Runtime, rec.Runtime)
	w.notBefore(in.name, "state_generation", rec.Runtime.Generation, in.rec.Runtime.Generation)
	w.notBefore(in.name, "updater_gen", rec.UpdaterGen, in.rec.UpdaterGen)
	in.rec = rec
}

// links reports whether an instance links VMM id as active or target.
func links(in *instRow, id vmmstate.ID) bool {
	rt := in.rec.Runtime
	return !id.IsZero() && (rt.ActiveVMM == id || rt.TargetVMM == id)
}

// syncVMM reads a saga's VMM back: a record the saga inserted joins the
// world's rows, one it had marked deleted leaves them, and any other is
// reloaded.
func (w *World) syncVMM(id vmmstate.ID) {
	if id.IsZero() {
		return
	}
	r := w.vmms[id]
	row, err := w.st.VMMFetch(w.ctx, id)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return
	case err != nil:
		w.unexpected("vmm_fetch", w.vmmName(id), err)
		return
	case r == nil && row.TimeDeleted.IsZero():
		r = &vmmRow{vmm: row.VMM, name: w.vmmName(id), lastGen: row.VMM.Runtime.Generation}
		w.vmms[id] = r
		w.vmmOrder = append(w.vmmOrder, r)
		w.touch(w.instByID[row.VMM.InstanceID])
	case r == nil:
	case !row.TimeDeleted.IsZero():
		w.dropVMM(r)
	default:
		w.reloadVMM(r)
	}
}

// syncMigration reads a saga's migration back, adding it to the world's
// rows when the saga inserted it.
func (w *World) syncMigration(id migration.ID) {
	if id.IsZero() {
		return
	}
	if m := w.migs[id]; m != nil {
		w.reloadMigration(m)
		return
	}
	row, err := w.st.MigrationFetch(w.ctx, id)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return
	case err != nil:
		w.unexpected("migration_fetch", id.String(), err)
		return
	}
	m := &migRow{rec: row.Migration, lastSrc: row.Migration.Source.Generation, lastDst: row.Migration.Target.Generation}
	w.migs[id] = m
	w.migOrder = append(w.migOrder, m)
	w.touch(w.instByID[m.rec.InstanceID])
}

// dropVMM takes a VMM whose record is marked deleted off the world's rows
// (whoever deleted it released its room first: the update saga's
// destroy step, or the reaper); an answering sled-agent forgets it.
func (w *World) dropVMM(r *vmmRow) {
	id := r.vmm.ID
	delete(w.vmms, id)
	w.vmmDead++
	w.touch(w.instByID[r.vmm.InstanceID])
	if sl := w.sledByID(r.vmm.SledID); sl != nil {
		if sl.answers() {
			sl.forget(id)
		} else {
			w.forgetQ = append(w.forgetQ, forgetting{sl, id})
		}
	}
	w.stats.VMMsDeleted++
}

// name of a VMM for traces.
func (w *World) vmmName(id vmmstate.ID) string {
	if r := w.vmms[id]; r != nil {
		return r.name
	}
	if id.IsZero() {
		return "-"
	}
	u := id.UUID()
	n := binary.BigEndian.Uint64(u[8:]) & 0x3fffffffffffffff
	if epoch := binary.BigEndian.Uint32(u[1:5]); epoch > 0 {
		return fmt.Sprintf("v%d.%d", n, epoch)
	}
	return fmt.Sprintf("v%d", n)
}

// reloadVMM reads a VMM's row back after the store wrote it, and marks
// its instance for the end-of-step check.
func (w *World) reloadVMM(r *vmmRow) {
	w.touch(w.instByID[r.vmm.InstanceID])
	row, err := w.st.VMMFetch(w.ctx, r.vmm.ID)
	if err != nil {
		w.unexpected("vmm_fetch", r.name, err)
		return
	}
	w.notBefore(r.name, "VMM generation", row.VMM.Runtime.Generation, r.vmm.Runtime.Generation)
	if reason, failed := row.VMM.Runtime.State.FailureReason(); failed && !r.vmm.Runtime.State.IsFailed() {
		// The control plane failed it on proof of death (§11, D18).
		w.stats.MarkedFailed[reason]++
		w.tracef("mark %s failed(%v)", r.name, reason)
	}
	r.vmm = row.VMM
	w.mayForget(r)
}

// reloadMigration reads a migration's row back after the store wrote it,
// and marks its instance for the end-of-step check.
func (w *World) reloadMigration(m *migRow) {
	w.touch(w.instByID[m.rec.InstanceID])
	row, err := w.st.MigrationFetch(w.ctx, m.rec.ID)
	if err != nil {
		w.unexpected("migration_fetch", m.rec.ID.String(), err)
		return
	}
	w.notBefore(m.rec.ID.String(), "migration source generation", row.Migration.Source.Generation, m.rec.Source.Generation)
	w.notBefore(m.rec.ID.String(), "migration target generation", row.Migration.Target.Generation, m.rec.Target.Generation)
	m.rec = row.Migration
	if m.rec.Source.IsTerminal() && m.rec.Target.IsTerminal() {
		w.migQ = append(w.migQ, m)
	}
}

// notBefore checks, at every write, that a stored generation did not go
// back (D5, §8, §9).
func (w *World) notBefore(subject, what string, now, was generation.Generation) {
	if now.Before(was) {
		w.violate("generations never decrease", subject, fmt.Sprintf("%s %v after %v", what, now, was))
	}
}

// touch marks an instance for the end-of-step check.
func (w *World) touch(in *instRow) {
	if in != nil && !in.touched {
		in.touched = true
		w.touched = append(w.touched, in)
	}
}

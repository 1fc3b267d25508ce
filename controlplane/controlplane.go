package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// SledAgent is the control plane's client of the sled-agents: the calls
// the sagas make, and the request a user's stop or reboot sends to a
// running VMM (§10.2).
type SledAgent interface {
	sagas.SledAgent
	StateRequester
}

// StateRequester is the sled-agent call SendToSled makes.
type StateRequester interface {
	// RequestState asks the agent of v's sled to move v to r (stopped,
	// reboot, running) and returns the VMM's state as the agent holds it
	// once it has taken the request. A call that gets an error response,
	// or none, returns an *sagas.AgentError carrying the outcome, which
	// the control plane classifies (D18).
	RequestState(ctx context.Context, v vmmstate.VMM, r instancestate.SledRequest) (instancestate.Report, error)
}

// Watcher is what the instance watcher asks of the fleet (§18).
type Watcher interface {
	// WatchedSleds lists the sleds whose VMMs are watched.
	WatchedSleds(ctx context.Context) ([]vmmstate.SledID, error)
	// Check asks the agent of v's sled for v's state. When the agent
	// answered, ok is true and the report is its word; otherwise the
	// check says what was learned instead — the query's outcome, the
	// sled's power state as the management network gives it, whether the
	// sled is expunged — for failure.CheckHealth to classify.
	Check(ctx context.Context, v vmmstate.VMM) (r instancestate.Report, c failure.Check, ok bool)
}

// Config is what a ControlPlane runs on. Store, Log, Agent, Sleds, Now and
// NewID are required; every other field has a default.
type Config struct {
	// ID is the control plane's identity: its saga executor's, as the saga
	// log names the owner of a saga (D27). A process restarted under the
	// same ID recovers its own sagas; another ID adopts them once the
	// lease has expired.
	ID uuid.UUID
	// Store holds the records; Log the sagas (as a rule the same store).
	Store datastore.Store
	Log   datastore.SagaLog
	// Reservations, when set, lets the reaper release reservations whose
	// VMM is gone (datastore.SledReservations.ReservationListLeaked).
	Reservations datastore.SledReservations
	Agent        SledAgent
	Sleds        sagas.Sleds
	// Watcher, when set, runs the instance watcher (TaskInstanceWatcher,
	// CheckVMM).
	Watcher Watcher
	// Policy is what the liveness decisions read besides the records
	// (D30, D32–D36): the deadlines of transient states, the backoff of
	// automatic restarts, the limits of migrations. Its zero value is the
	// defaults. Snapshot gives it to every decision.
	Policy instancestate.Policy
	// Runner, when set, runs the sagas the control plane begins, in place
	// of the call that begins them (SagaRunner); nil: each saga runs to
	// rest in that call.
	Runner SagaRunner
	// Now is the clock (D1); NewID the source of saga, VMM and migration
	// ids.
	Now   func() time.Time
	NewID func() uuid.UUID

	// Lease and MaxRecoveries are the saga executor's (sagas.SEC); zero:
	// its defaults.
	Lease         time.Duration
	MaxRecoveries int
	// StallDeadline is how long a saga may go without an event before the
	// not-progressing detector reports it (D30); zero: 5 minutes, the
	// default of instancestate's saga deadline.
	StallDeadline time.Duration
	// Intervals sets a task's period; a task missing here runs at its
	// Default interval (Task.DefaultInterval), and a negative interval
	// turns the task off.
	Intervals map[Task]time.Duration
	// PassLimit bounds the sagas one pass of the instance updater or of
	// reincarnation runs; a pass that finds more activates its task
	// again. Zero: 16, as Omicron's reincarnation task.
	PassLimit int
	// FollowUpLimit bounds the sagas a reaction runs after its own — the
	// updates and restarts they ask for (§13.4) — before it returns; the
	// rest is left to the instance updater. Zero: 8.
	FollowUpLimit int
	// Logger receives a record of every pass and of every saga that did
	// not complete; nil: silent.
	Logger *slog.Logger
}

// DefaultStallDeadline is Config.StallDeadline's default.
const DefaultStallDeadline = 5 * time.Minute

// ControlPlane reacts to users and sled-agents and runs the background
// tasks, over the records and the saga log of its Config. It is safe for
// concurrent use: reactions may run in any number of goroutines beside
// Tick or Run.
type ControlPlane struct {
	cfg Config
	sec *sagas.SEC
	log *slog.Logger

	mu         sync.Mutex
	needUpdate []instancestate.ID // asked for by a saga's step, in order
	queued     map[instancestate.ID]bool
	owed       []vmmstate.ID // stops no sled-agent has taken yet (TaskOwedStops)
	// unreachable: since when the watcher has found each VMM's sled not
	// answering (D14, D18), until a check learns the VMM's fate.
	unreachable map[vmmstate.ID]time.Time
	counters    map[string]*Counters
	due         map[Task]time.Time // when a task runs next
	activated   map[Task]bool
	wake        chan struct{}
}

// New returns a control plane over cfg, or an error naming the first
// required field cfg lacks.
func New(cfg Config) (*ControlPlane, error) {
	switch {
	case cfg.ID == uuid.Nil:
		return nil, errors.New("controlplane: Config.ID is the nil UUID")
	case cfg.Store == nil:
		return nil, errors.New("controlplane: Config.Store is nil")
	case cfg.Log == nil:
		return nil, errors.New("controlplane: Config.Log is nil")
	case cfg.Agent == nil:
		return nil, errors.New("controlplane: Config.Agent is nil")
	case cfg.Sleds == nil:
		return nil, errors.New("controlplane: Config.Sleds is nil")
	case cfg.Now == nil:
		return nil, errors.New("controlplane: Config.Now is nil")
	case cfg.NewID == nil:
		return nil, errors.New("controlplane: Config.NewID is nil")
	case cfg.Lease < 0 || cfg.MaxRecoveries < 0 || cfg.StallDeadline < 0 || cfg.PassLimit < 0 || cfg.FollowUpLimit < 0:
		return nil, fmt.Errorf("controlplane: Config.Lease %v, MaxRecoveries %d, StallDeadline %v, PassLimit %d, FollowUpLimit %d (accepted: zero for the default, or positive)",
			cfg.Lease, cfg.MaxRecoveries, cfg.StallDeadline, cfg.PassLimit, cfg.FollowUpLimit)
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("controlplane: Config.Policy: %w", err)
	}
	for t := range cfg.Intervals {
		if !t.valid() {
			return nil, fmt.Errorf("controlplane: Config.Intervals names task %d (accepted: %v)", t, AllTasks())
		}
	}
	if cfg.StallDeadline == 0 {
		cfg.StallDeadline = DefaultStallDeadline
	}
	if cfg.PassLimit == 0 {
		cfg.PassLimit = 16
	}
	if cfg.FollowUpLimit == 0 {
		cfg.FollowUpLimit = 8
	}
	cp := &ControlPlane{cfg: cfg, log: cfg.Logger, queued: map[instancestate.ID]bool{}, counters: map[string]*Counters{},
		unreachable: map[vmmstate.ID]time.Time{},
		due:         map[Task]time.Time{}, activated: map[Task]bool{}, wake: make(chan struct{}, 1)}
	if cp.log == nil {
		cp.log = slog.New(discard{})
	}
	env := &sagas.Env{Store: cfg.Store, Agent: cfg.Agent, Sleds: cfg.Sleds, Now: cfg.Now, NewID: cfg.NewID, UpdateNeeded: cp.updateNeeded}
	cp.sec = &sagas.SEC{ID: cfg.ID, Log: cfg.Log, Env: env, Lease: cfg.Lease, MaxRecoveries: cfg.MaxRecoveries}
	return cp, nil
}

// SEC returns the control plane's saga executor, for a caller that runs a
// saga of its own beside the reactions (its sagas are recovered and
// adopted with theirs).
func (cp *ControlPlane) SEC() *sagas.SEC { return cp.sec }

// updateNeeded queues an instance a saga's step said needs an update saga
// (sagas.Env.UpdateNeeded); the reaction that ran the saga, or the next
// pass of the instance updater, runs it — or, past the pass's limit, a
// later pass, whose fleet query lists the instance while its records ask
// for an update.
func (cp *ControlPlane) updateNeeded(id instancestate.ID) {
	cp.mu.Lock()
	if !cp.queued[id] {
		cp.queued[id] = true
		cp.needUpdate = append(cp.needUpdate, id)
	}
	cp.mu.Unlock()
}

// nextNeeded takes the next queued instance; ok is false when none is.
func (cp *ControlPlane) nextNeeded() (id instancestate.ID, ok bool) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if len(cp.needUpdate) == 0 {
		return id, false
	}
	id = cp.needUpdate[0]
	cp.needUpdate = cp.needUpdate[1:]
	delete(cp.queued, id)
	return id, true
}

// SagaRunner runs the sagas a control plane begins, in its own time: a
// simulator that interleaves their nodes with everything else, or a test
// harness that crashes them at chosen points. With Config.Runner set, a
// reaction or a pass that would run a saga to rest hands it to RunSaga
// instead and returns; the runner runs it on the control plane's executor
// (ControlPlane.SEC) and, once it has come to rest, passes it to
// ControlPlane.Rested, which begins what it asks for next.
type SagaRunner interface {
	// RunSaga takes saga s, begun for src (a reaction's or a task's name).
	// A saga it takes is in the log before RunSaga returns — begun with
	// SEC.Begin, which writes its record — for the control plane answers
	// the request that asked for it as soon as RunSaga returns, and a
	// process that dies after that answer must leave the saga to
	// recovery (D26). A runner may pass over a saga equal to one it is
	// running already — a second update of the same instance, say; what
	// that saga was for is then found by the background tasks (D19).
	RunSaga(ctx context.Context, src string, s sagas.Saga)
}

// begin runs saga s for src: handed to the Runner when there is one, else
// run to rest here and followed by what it asks for (followUps). The
// Durable is zero when the Runner took the saga.
func (cp *ControlPlane) begin(ctx context.Context, src string, s sagas.Saga) (sagas.Durable, error) {
	if cp.cfg.Runner != nil {
		cp.count(src, func(c *Counters) { c.SagasStarted++ })
		cp.cfg.Runner.RunSaga(ctx, src, s)
		return sagas.Durable{}, nil
	}
	d, err := cp.runSaga(ctx, src, s)
	if err == nil && d.Halted == nil { // a halted saga is recovery's, and its follow-ups with it
		cp.followUps(ctx, src, s, d.Outcome, nil)
	}
	return d, err
}

// Rested takes a saga its SagaRunner ran to rest, with the outcome it came
// to, and begins what the saga asks for next, as the control plane does
// after a saga it ran itself: the restart or the update an update saga
// names (§13.4), the stop of a target its committed plan unlinked alive
// (D37), the start of an instance created to run (§16), the update that
// clears what an unwound migration left linked (§15), and the updates
// the saga's steps asked for. A saga that halted is not at rest: it is
// recovery's (D26), and not passed here.
func (cp *ControlPlane) Rested(ctx context.Context, src string, s sagas.Saga, o sagas.Outcome) {
	cp.followUps(ctx, src, s, o, nil)
}

// runSaga runs s to rest on the control plane's executor, counted under
// src, and returns how it was left. A saga that halts — on a cancelled
// context (D28), a log write refused or failed — is left in the log for
// recovery, and counted halted.
func (cp *ControlPlane) runSaga(ctx context.Context, src string, s sagas.Saga) (sagas.Durable, error) {
	id := cp.cfg.NewID()
	d, err := cp.sec.Run(ctx, id, s, sagas.RunOptions{})
	cp.count(src, func(c *Counters) { c.SagasStarted++ })
	switch {
	case err != nil:
		cp.failed(ctx, src, "run "+s.Kind().String()+" saga", err)
		return d, err
	case d.Halted != nil:
		cp.count(src, func(c *Counters) { c.SagasHalted++ })
		cp.log.LogAttrs(ctx, slog.LevelWarn, "saga halted: left for recovery", slog.String("source", src),
			slog.String("saga", id.String()), slog.String("kind", s.Kind().String()), slog.String("why", d.Halted.Error()))
	case d.Outcome != sagas.Completed:
		cp.log.LogAttrs(ctx, slog.LevelInfo, "saga did not complete", slog.String("source", src),
			slog.String("saga", id.String()), slog.String("kind", s.Kind().String()),
			slog.String("outcome", d.Outcome.String()), slog.Any("err", d.Err))
	}
	return d, nil
}

// followUps begins, after saga first came to rest with outcome o (first
// nil: after a write that ran no saga), what the sagas ask for (after) and
// the updates their steps and the reaction's writes queued. Run here, they
// are bounded by the sagas *budget has left (nil: Config.FollowUpLimit; a
// pass shares one among its pieces): what is left stays queued and
// activates the instance updater and reincarnation, whose fleet queries
// find it in any case. A Runner takes them all.
func (cp *ControlPlane) followUps(ctx context.Context, src string, first sagas.Saga, o sagas.Outcome, budget *int) {
	var pending []sagas.Saga
	if first != nil {
		pending = cp.after(ctx, first, o)
	}
	if budget == nil {
		n := cp.cfg.FollowUpLimit
		budget = &n
	}
	for ctx.Err() == nil {
		var s sagas.Saga
		if len(pending) > 0 {
			s, pending = pending[0], pending[1:]
		} else if id, ok := cp.nextNeeded(); ok {
			s = &sagas.Update{Instance: id}
		} else {
			return
		}
		if cp.cfg.Runner != nil {
			cp.begin(ctx, src, s)
			continue
		}
		if *budget == 0 {
			if u, ok := s.(*sagas.Update); ok {
				cp.updateNeeded(u.Instance)
			}
			cp.Activate(TaskInstanceUpdater)
			cp.Activate(TaskReincarnation)
			return
		}
		*budget--
		d, err := cp.runSaga(ctx, src, s)
		if err != nil {
			return
		}
		if d.Halted == nil { // a halted saga is recovery's, and its follow-ups with it
			pending = append(pending, cp.after(ctx, s, d.Outcome)...)
		}
	}
}

// after returns the sagas s, come to rest with outcome o, says come next,
// queues the update it asks for, and asks for the stop it owes: for an
// update saga, the restart (§13.4), the chained update, and the stop of a
// target its committed plan unlinked alive (D37); for a completed create
// saga whose instance is still meant to run, its start, reason
// auto_start (§16); for a migrate saga that unwound or stuck, the update
// that clears what it left linked (§15, D11).
func (cp *ControlPlane) after(ctx context.Context, s sagas.Saga, o sagas.Outcome) []sagas.Saga {
	switch s := s.(type) {
	case *sagas.Update:
		if s.Committed {
			cp.forget(s.Plan.DestroyActiveVMM, s.Plan.DestroyTargetVMM)
			if !s.Plan.StopTargetVMM.IsZero() {
				cp.stopVMM(ctx, "update", s.Plan.StopTargetVMM)
			}
		}
		if s.Then.Has(sagas.ThenUpdate) {
			cp.updateNeeded(s.Instance)
		}
		if s.Then.Has(sagas.ThenRestart) {
			return []sagas.Saga{&sagas.Start{Instance: s.Instance, Reason: failure.StartReasonAutoRestart}}
		}
	case *sagas.Create:
		if o != sagas.Completed || s.Instance.IntendedState != instancestate.IntendRunning {
			return nil
		}
		// The intent as it is now: a user who stopped the instance while
		// it was being created is not overruled.
		snap, err := cp.cfg.Store.InstanceFetchAll(ctx, s.Instance.ID)
		switch {
		case errors.Is(err, datastore.ErrNotFound):
		case err != nil:
			cp.failed(ctx, ReactionCreate, "fetch the instance created", err)
		case snap.Instance.IntendedState == instancestate.IntendRunning:
			return []sagas.Saga{&sagas.Start{Instance: s.Instance.ID, Reason: failure.StartReasonAutoStart}}
		}
	case *sagas.Migrate:
		if o == sagas.Unwound || o == sagas.Stuck {
			cp.updateNeeded(s.Instance)
		}
	}
	return nil
}

// stopVMM asks VMM id's sled-agent to stop it and records its answer
// (D34, D37). A stop no sled-agent took — unreachable, busy — is owed:
// TaskOwedStops asks again until one takes it or proves the VMM gone.
// It reports whether the stop is owed.
func (cp *ControlPlane) stopVMM(ctx context.Context, src string, id vmmstate.ID) (owed bool) {
	row, err := cp.cfg.Store.VMMFetch(ctx, id)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		return false
	case err != nil:
		cp.failed(ctx, src, "fetch a VMM to stop", err)
		cp.owe(id)
		return true
	case row.VMM.Runtime.State.IsDestroyable() || !row.TimeDeleted.IsZero():
		return false // it ended meanwhile (a saga's undo marks it saga_unwound): nothing to stop
	}
	if _, err := cp.sendToSled(ctx, src, row.VMM, instancestate.SledRequestStopped); err != nil {
		cp.failed(ctx, src, "stop VMM "+id.String(), err)
		cp.owe(id)
		return true
	}
	return false
}

// owe keeps VMM id's stop for TaskOwedStops's next pass.
func (cp *ControlPlane) owe(id vmmstate.ID) {
	cp.mu.Lock()
	if !slices.Contains(cp.owed, id) {
		cp.owed = append(cp.owed, id)
	}
	cp.mu.Unlock()
}

// takeOwed takes every stop owed.
func (cp *ControlPlane) takeOwed() []vmmstate.ID {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	owed := cp.owed
	cp.owed = nil
	return owed
}

// Sent is what SendToSled did.
type Sent struct {
	// Answered: the sled-agent took the request, and its answer was
	// recorded (sagas.RecordReport) with Report as the result.
	Answered bool
	Report   datastore.SledReportResult
	// Call classifies the outcome of a call the sled-agent did not take
	// (failure.Classify, D18): the status the external API answers with,
	// and whether it proved the VMM gone — then recorded as its death
	// (sagas.RecordDeath) with Death as the result. It is the zero
	// Classification (HTTPStatus 0) when the call failed without an
	// outcome to classify; SendToSled's error says why.
	Call  failure.Classification
	Death datastore.Result
}

// UpdateNeeded reports whether what was recorded asks for an update saga
// of the VMM's instance (§12 step 2; a proof of death always does, §11).
func (s Sent) UpdateNeeded() bool { return s.Report.UpdateSagaNeeded || s.Call.VMMGone }

// SendToSled is §10.2's SendToSled, the one home of a request's call to a
// sled-agent (D31): it asks agent to move v to r and records what the call
// proves — the agent's answer as a report, or, for an outcome that proves
// the VMM gone, its death (D18); any other failed call records nothing,
// and its error is returned with Call classifying it. Both the control
// plane's reactions and the simulator call it; the caller runs the update
// saga Sent.UpdateNeeded asks for.
func SendToSled(ctx context.Context, agent StateRequester, st datastore.VMMWrites, v vmmstate.VMM, r instancestate.SledRequest, now time.Time) (Sent, error) {
	rep, err := agent.RequestState(ctx, v, r)
	if err == nil {
		res, err := sagas.RecordReport(ctx, st, v.ID, rep)
		return Sent{Answered: true, Report: res}, err
	}
	var ae *sagas.AgentError
	if !errors.As(err, &ae) {
		return Sent{}, err
	}
	cl, cerr := failure.Classify(ae.Outcome)
	if cerr != nil {
		return Sent{}, fmt.Errorf("%w (its outcome does not classify: %v)", err, cerr)
	}
	if !cl.VMMGone {
		return Sent{Call: cl}, err
	}
	res, err := sagas.RecordDeath(ctx, st, v.ID, cl.Reason, now)
	return Sent{Call: cl, Death: res}, err
}

// sendToSled is SendToSled by the control plane: the update saga it asks
// for queued, a death logged.
func (cp *ControlPlane) sendToSled(ctx context.Context, src string, v vmmstate.VMM, r instancestate.SledRequest) (datastore.SledReportResult, error) {
	sent, err := SendToSled(ctx, cp.cfg.Agent, cp.cfg.Store, v, r, cp.cfg.Now())
	if err != nil {
		return sent.Report, err
	}
	if sent.Call.VMMGone {
		cp.died(ctx, src, v.ID, v.InstanceID, sent.Call.Reason, sent.Death)
		return datastore.SledReportResult{VMM: sent.Death}, nil
	}
	if sent.UpdateNeeded() {
		cp.updateNeeded(v.InstanceID)
	}
	return sent.Report, nil
}

// record is the report reaction's write: sagas.RecordReport, and the
// update saga it asks for queued.
func (cp *ControlPlane) record(ctx context.Context, id vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	res, err := sagas.RecordReport(ctx, cp.cfg.Store, id, r)
	if err != nil || !res.UpdateSagaNeeded {
		return res, err
	}
	row, err := cp.cfg.Store.VMMFetch(ctx, id)
	if err != nil {
		return res, err
	}
	cp.updateNeeded(row.VMM.InstanceID)
	return res, nil
}

// death is the proof-of-death reaction's write: sagas.RecordDeath, and an
// update saga queued for the instance whether or not it changed the row.
func (cp *ControlPlane) death(ctx context.Context, src string, id vmmstate.ID, instance instancestate.ID, reason failure.Reason) (datastore.Result, error) {
	res, err := sagas.RecordDeath(ctx, cp.cfg.Store, id, reason, cp.cfg.Now())
	if err != nil {
		return res, err
	}
	cp.died(ctx, src, id, instance, reason, res)
	return res, nil
}

// died follows a recorded death: logged when it changed the row, and an
// update saga queued for the instance either way.
func (cp *ControlPlane) died(ctx context.Context, src string, id vmmstate.ID, instance instancestate.ID, reason failure.Reason, res datastore.Result) {
	if res.Applied {
		cp.log.LogAttrs(ctx, slog.LevelInfo, "VMM failed", slog.String("source", src), slog.String("vmm", id.String()),
			slog.String("reason", reason.String()))
	}
	if !instance.IsZero() {
		cp.updateNeeded(instance)
	}
}

// discard is a slog.Handler that drops every record: a control plane
// without a Logger is silent.
type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }

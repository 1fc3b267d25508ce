package sagas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
)

// LogVersion is the version of the log this executor writes and reads
// (SagaRecord.Version): a saga of another version is abandoned as
// orphaned, never run (Omicron's sagas do not cross versions either).
const LogVersion = 1

// SEC is a durable saga executor (Steno's "saga execution coordinator"):
// it runs sagas as Exec does, and records every node in a datastore.SagaLog
// before and after it runs (D26) — started before an action, succeeded or
// failed after it with the saga's state, the undos likewise — so that
// whatever a process leaves when it dies, Recover (in that process
// restarted, or in another that adopted its sagas) finishes from the log.
//
// Each of its writes is fenced on its identity and the adoption generation
// at which it holds the saga (D27): once another executor has adopted a
// saga, every write of this one is refused with datastore.ErrLostOwnership
// and it stops touching that saga. A cancelled context stops it between
// nodes and leaves the saga in the log as it was (D28).
//
// A node's outcome is written with the next node's started event, in one
// write: one round trip a node, and never an action run before the one
// before it is durable.
type SEC struct {
	// ID is the executor's identity: the saga's owner in the log.
	ID uuid.UUID
	// Log is where it records sagas: the same store Env.Store holds the
	// records in, as a rule, so that one store answers both.
	Log datastore.SagaLog
	// Env is what the sagas run against; Env.Now also stamps the log.
	Env *Env
	// Lease is how long the executor's lease lasts from each renewal
	// (every Run and Recover renews it); another executor may adopt its
	// sagas once it has expired. Zero: DefaultLease.
	Lease time.Duration
	// MaxRecoveries bounds how often a saga is recovered without coming to
	// rest before it is abandoned (AbandonTooManyAttempts). Zero:
	// DefaultMaxRecoveries.
	MaxRecoveries int

	// crashRecovery, for tests: Recover crashes as Run's RunOptions.Crash
	// does, once crashRecoveryAfter events of a saga are durable.
	crashRecovery      bool
	crashRecoveryAfter int

	expires atomic.Int64 // the lease's expiry as last renewed, Unix nanoseconds

	mu        sync.Mutex
	running   map[uuid.UUID]driven     // the sagas this executor is driving now
	driving   map[Kind]int             // how many of each kind (0: a name not known)
	instances map[instancestate.ID]int // how many for each instance (the zero ID: not known)
}

// driven is a saga an executor drives: its kind and its instance.
type driven struct {
	kind     Kind
	instance instancestate.ID
}

// claim marks saga id, of kind k for instance in, as driven by this
// executor, and reports false when it already is: Recover passes over a
// saga a Run (or another Recover) of the same executor is driving, as
// Steno's executor does not load a saga it is already running.
func (c *SEC) claim(id uuid.UUID, k Kind, in instancestate.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.running[id]; ok {
		return false
	}
	if c.running == nil {
		c.running, c.driving, c.instances = make(map[uuid.UUID]driven), make(map[Kind]int), make(map[instancestate.ID]int)
	}
	c.running[id] = driven{k, in}
	c.driving[k]++
	c.instances[in]++
	return true
}

func (c *SEC) release(id uuid.UUID) {
	c.mu.Lock()
	if d, ok := c.running[id]; ok {
		delete(c.running, id)
		c.driving[d.kind]--
		if c.instances[d.instance]--; c.instances[d.instance] == 0 {
			delete(c.instances, d.instance)
		}
	}
	c.mu.Unlock()
}

// Driving reports whether the executor is driving, now, a saga of one of
// kinds: begun (Run, Begin) or recovered, and not yet at rest or halted.
// It reads no log: a saga another executor drives, or one left unfinished
// in the log, is not counted.
func (c *SEC) Driving(kinds ...Kind) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range kinds {
		if c.driving[k] > 0 {
			return true
		}
	}
	return false
}

// DrivingInstance reports whether the executor is driving, now, a saga of
// any kind for instance id — begun, or recovered — as Driving does for a
// kind. It reads no log.
func (c *SEC) DrivingInstance(id instancestate.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !id.IsZero() && c.instances[id] > 0
}

// The executor's defaults.
const (
	DefaultLease         = 60 * time.Second
	DefaultMaxRecoveries = 10
)

// RunOptions are Run's faults: those of Options, and a crash.
type RunOptions struct {
	Options
	// Crash stops the executor as a killed process would, once at least
	// CrashAfter of the saga's events are durable (events written
	// together count together); the log and the records are left as they
	// are. A saga that comes to rest first ends as without Crash.
	Crash      bool
	CrashAfter int
	// CrashLate moves the crash to the executor's next write after that
	// point, before it is made: the node whose start was durable has run,
	// and its outcome is lost with the process — the window in which a
	// real process dies between a step's write and the log's.
	CrashLate bool
}

// Durable is how a durable run left a saga.
type Durable struct {
	Saga uuid.UUID
	Kind Kind
	// Result is the saga's outcome; zero when it did not come to rest.
	Result
	// Crashed: the run stopped at RunOptions.Crash, as a killed process.
	Crashed bool
	// Halted is why the run stopped before the saga came to rest, other
	// than a crash: a cancelled context (D28), a log write refused
	// (datastore.ErrLostOwnership) or failed. The saga is left for
	// recovery.
	Halted error
	// Events is how many of the saga's events are durable.
	Events int
	// Abandoned is why recovery gave up on the saga instead of running it;
	// zero when it did not.
	Abandoned datastore.AbandonReason
	// State is the saga as the run left it — its parameters and what its
	// steps produced (the ids they chose) — nil when recovery abandoned it
	// unread.
	State Saga
}

// ErrCrashed is the halt of a run stopped by RunOptions.Crash.
var ErrCrashed = errors.New("sagas: crashed on purpose")

func (c *SEC) check() error {
	switch {
	case c == nil || c.ID == uuid.Nil:
		return errors.New("sagas: SEC.ID is the nil UUID")
	case c.Log == nil:
		return errors.New("sagas: SEC.Log is nil")
	}
	return c.Env.check()
}

func (c *SEC) lease() time.Duration {
	if c.Lease > 0 {
		return c.Lease
	}
	return DefaultLease
}

// Renew renews the executor's lease to now + Lease and returns when it
// expires.
func (c *SEC) Renew(ctx context.Context) (time.Time, error) {
	exp, err := c.Log.SECRenew(ctx, c.ID, c.Env.Now().Add(c.lease()))
	if err == nil {
		c.expires.Store(exp.UnixNano())
	}
	return exp, err
}

// renewIfDue renews the lease once half of it has run, so that a saga that
// runs longer than a lease keeps it, and an executor that was paused past
// its lease renews before it starts another node — the start that follows
// is fenced, so if another executor adopted the saga meanwhile, nothing
// more of it runs here (D27). One renewal each half lease, not each node.
func (c *SEC) renewIfDue(ctx context.Context) error {
	if c.Env.Now().Before(time.Unix(0, c.expires.Load()).Add(-c.lease() / 2)) {
		return nil
	}
	_, err := c.Renew(ctx)
	return err
}

// Run records saga s under id (a new saga: ErrConflict if id names another
// one) and runs it to rest, or until it halts. Its error is for the
// caller's mistakes and for a log that cannot be written at the start;
// how the saga ended, or why it stopped, is in Durable.
func (c *SEC) Run(ctx context.Context, id uuid.UUID, s Saga, opt RunOptions) (Durable, error) {
	if err := c.check(); err != nil {
		return Durable{}, err
	}
	if err := checkFailAt(s, c.Env, opt.Options); err != nil {
		return Durable{}, err
	}
	if opt.Crash && opt.CrashAfter < 0 {
		return Durable{}, fmt.Errorf("sagas: CrashAfter %d (accepted: an integer ≥ 0)", opt.CrashAfter)
	}
	if !c.claim(id, s.Kind(), instanceOf(s)) {
		return Durable{}, fmt.Errorf("sagas: saga %s is already running on this executor", id)
	}
	defer c.release(id)
	x, j, err := c.begin(ctx, id, s, opt.FailAt)
	if err != nil {
		return Durable{}, err
	}
	if opt.Crash {
		j.crashAt, j.crashLate = opt.CrashAfter, opt.CrashLate
		if j.crashAt == 0 && !j.crashLate {
			if err := c.Log.SagaCreate(ctx, j.rec); err != nil {
				return Durable{}, err
			}
			j.crashed = true // killed before its first event
			return c.durable(j.rec, x, j), nil
		}
	}
	_, err = c.drive(ctx, x, opt.Options)
	if !j.created && x.Halted() != nil && !j.crashed {
		// The record was refused (an id that names another saga, D29):
		// the caller's mistake, and nothing ran.
		return Durable{}, x.Halted()
	}
	return c.durable(j.rec, x, j), err
}

// Begin records saga s under id and returns its executor, for the caller
// to run a node at a time (Exec.Next, Fail, Skip, Again) as a simulator
// that interleaves many sagas does. The saga's record is durable when
// Begin returns, before any node has run: a caller may answer the request
// that began the saga at once, and whenever its process dies, recovery
// finds the saga and runs it from its first node. (Run, which drives the
// saga itself, writes the record with its first node's start instead: one
// round trip fewer.) A record the log refuses — an id that names another
// saga (D29), a log that does not answer — is Begin's error, and nothing
// is begun.
//
// Every node is journaled as under Run: a node failed by Exec.Fail is
// logged failed, and recovery unwinds from there; an undo passed over by
// Exec.Skip is logged as run — it ran, and its write lost its race. The
// saga is this executor's until it comes to rest or halts, and Recover
// passes over it meanwhile.
func (c *SEC) Begin(ctx context.Context, id uuid.UUID, s Saga) (*Exec, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if !c.claim(id, s.Kind(), instanceOf(s)) {
		return nil, fmt.Errorf("sagas: saga %s is already running on this executor", id)
	}
	x, j, err := c.begin(ctx, id, s, "")
	if err == nil {
		err = c.Log.SagaCreate(ctx, j.rec)
	}
	if err != nil {
		c.release(id)
		return nil, err
	}
	j.created, j.owned = true, true
	return x, nil
}

// begin is what Run and Begin share: the saga's record, not yet written,
// and its journaled executor.
func (c *SEC) begin(ctx context.Context, id uuid.UUID, s Saga, failAt string) (*Exec, *secJournal, error) {
	d, ok := s.(durable)
	if !ok {
		return nil, nil, fmt.Errorf("sagas: a %T cannot be logged", s)
	}
	if n, ok := s.(named); ok {
		n.setSagaID(id)
	}
	state, err := d.marshalState()
	if err != nil {
		return nil, nil, fmt.Errorf("sagas: the %v saga's parameters: %w", s.Kind(), err)
	}
	// The injected failure is a parameter: a node that failed on purpose
	// fails again when a recovery runs it, as a real failure would.
	params, err := json.Marshal(sagaParams{State: state, FailAt: failAt})
	if err != nil {
		return nil, nil, err
	}
	if err := c.renewIfDue(ctx); err != nil {
		return nil, nil, err
	}
	now := c.Env.Now()
	rec := datastore.SagaRecord{ID: id, Name: s.Kind().String(), Params: params, State: datastore.SagaRunning,
		Creator: c.ID, TimeCreated: now, CurrentSEC: c.ID, AdoptGeneration: 1, AdoptTime: now, Version: LogVersion}
	x := NewExec(c.Env, s)
	// The saga's record is written with its first node's start: one round
	// trip fewer.
	j := c.newJournal(rec, x, d, 0)
	j.created = false
	return x, j, nil
}

// drive runs x until it stops, with Options' faults; its error is a node
// that changed something when replayed (Options.Replay), as Run's.
func (c *SEC) drive(ctx context.Context, x *Exec, opt Options) (*Exec, error) {
	for !x.Done() {
		if name, undo := x.NextNode(); !undo && opt.FailAt != "" && name == opt.FailAt {
			x.Fail(ctx)
		} else {
			x.Next(ctx)
		}
		if opt.Replay && x.LastRan() && x.halted == nil {
			if err := x.Again(ctx); err != nil {
				return x, err
			}
		}
	}
	return x, nil
}

func (c *SEC) durable(rec datastore.SagaRecord, x *Exec, j *secJournal) Durable {
	kind, _ := ParseKind(rec.Name)
	out := Durable{Saga: rec.ID, Kind: kind, Events: j.written, State: x.saga}
	switch {
	case errors.Is(x.Halted(), ErrCrashed) || j.crashed:
		out.Crashed = true
	case x.Halted() != nil:
		out.Halted = x.Halted()
	default:
		out.Result = x.result()
	}
	return out
}

// checkFailAt refuses a FailAt that names no step of s.
func checkFailAt(s Saga, env *Env, opt Options) error {
	if opt.FailAt == "" {
		return nil
	}
	var names []string
	for _, st := range s.Steps(env) {
		if st.Name == opt.FailAt {
			return nil
		}
		names = append(names, st.Name)
	}
	return fmt.Errorf("fail_at: %q is not a step of the %v saga (accepted: %v)", opt.FailAt, s.Kind(), names)
}

// Adopt takes over the unfinished sagas of executor from, whose lease has
// expired (D27), and returns their ids; Recover then runs them.
func (c *SEC) Adopt(ctx context.Context, from uuid.UUID) ([]uuid.UUID, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.Log.SagaAdopt(ctx, c.ID, from, c.Env.Now())
}

// Recover finishes every unfinished saga the executor owns — its own,
// left by an earlier run of this process, and those it adopted — one at a
// time in id order, each from its log by Steno's rules (recover.go), and
// returns how each was left. A saga whose log cannot be read back, of a
// version this executor does not run, or recovered MaxRecoveries times
// already, is abandoned with the reason recorded. A saga this executor is
// driving at the time — a Run in another goroutine — is passed over: it is
// not unfinished, only in flight. Recover stops at the first saga that
// halts on a cancelled context (D28).
func (c *SEC) Recover(ctx context.Context) ([]Durable, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if _, err := c.Renew(ctx); err != nil {
		return nil, err
	}
	recs, err := c.Log.SagaListUnfinished(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	var out []Durable
	for _, rec := range recs {
		kind, _ := ParseKind(rec.Name)
		var in instancestate.ID
		if s, _, err := fromParams(kind, rec.Params); err == nil {
			in = instanceOf(s) // a saga that does not parse is abandoned below
		}
		if !c.claim(rec.ID, kind, in) {
			continue
		}
		d, err := c.recoverOne(ctx, rec)
		c.release(rec.ID)
		if err != nil {
			return out, err
		}
		out = append(out, d)
		if ctx.Err() != nil {
			return out, nil
		}
	}
	return out, nil
}

func (c *SEC) maxRecoveries() int {
	if c.MaxRecoveries > 0 {
		return c.MaxRecoveries
	}
	return DefaultMaxRecoveries
}

func (c *SEC) recoverOne(ctx context.Context, rec datastore.SagaRecord) (Durable, error) {
	f := rec.Fence()
	kind, kerr := ParseKind(rec.Name)
	abandon := func(reason datastore.AbandonReason, why error) (Durable, error) {
		err := c.Log.SagaAbandon(ctx, f, rec.ID, datastore.AbandonArgs{Reason: reason, Comment: why.Error(), Now: c.Env.Now()})
		if err != nil && !errors.Is(err, datastore.ErrLostOwnership) {
			return Durable{}, err
		}
		return Durable{Saga: rec.ID, Kind: kind, Abandoned: reason, Halted: err}, nil
	}
	if rec.Version != LogVersion {
		return abandon(datastore.AbandonOrphaned, fmt.Errorf("log version %d; this executor runs version %d", rec.Version, LogVersion))
	}
	n, err := c.Log.SagaRecoveryAttempt(ctx, f, rec.ID)
	switch {
	case errors.Is(err, datastore.ErrLostOwnership):
		return Durable{Saga: rec.ID, Kind: kind, Halted: err}, nil
	case err != nil:
		return Durable{}, err
	case n > c.maxRecoveries():
		return abandon(datastore.AbandonTooManyAttempts, fmt.Errorf("recovered %d times without coming to rest", n-1))
	}
	if kerr != nil {
		return abandon(datastore.AbandonUnrecoverable, kerr)
	}
	_, events, err := c.Log.SagaFetch(ctx, rec.ID)
	if err != nil {
		return Durable{}, err
	}
	x, d, failAt, err := resume(c.Env, kind, rec.Params, events)
	if err != nil {
		return abandon(datastore.AbandonUnrecoverable, err)
	}
	j := c.newJournal(rec, x, d, len(events))
	if c.crashRecovery {
		j.crashAt = c.crashRecoveryAfter
	}
	before := len(x.ran)
	if x.finished {
		// The log ends at rest but the saga's state was not yet moved:
		// the process died in between.
		if err := j.finish(x.outcome); err != nil {
			x.halt(err)
		}
	}
	if _, err := c.drive(ctx, x, Options{FailAt: failAt}); err != nil {
		return Durable{}, err
	}
	out := c.durable(rec, x, j)
	// Steps run during recovery only: Resume listed those run before it.
	out.Ran = append([]string(nil), x.ran[before:]...)
	return out, nil
}

// secJournal is the journal of one saga run by a SEC: events are
// collected, and written when the next node is about to run or the saga
// comes to rest — a node's outcome with the next node's start.
type secJournal struct {
	c         *SEC
	rec       datastore.SagaRecord
	x         *Exec
	saga      durable
	pending   []datastore.NodeEvent
	written   int  // events of the saga durable
	crashAt   int  // crash once written ≥ crashAt; -1: never
	crashLate bool // at the next write after that, before making it
	crashed   bool // it did
	created   bool // the saga's record is in the log
	owned     bool // begun by Begin: released from the executor's claim once it stops
	ctx       context.Context
}

func (c *SEC) newJournal(rec datastore.SagaRecord, x *Exec, d durable, written int) *secJournal {
	j := &secJournal{c: c, rec: rec, x: x, saga: d, written: written, crashAt: -1, created: true, ctx: context.Background()}
	x.journal = j
	return j
}

// sagaParams is a saga record's parameters: the saga as it was created,
// and the step a test made fail.
type sagaParams struct {
	State  json.RawMessage `json:"saga"`
	FailAt string          `json:"fail_at,omitempty"`
}

// named is a saga that takes ids from its own: the update saga's
// updater ids are its saga id and one derived from it, as Omicron's
// updater id is the saga's — so that a step that takes the lock and dies
// before its outcome is durable takes it again, under the same id, when it
// is run again, instead of leaving a lock no one holds.
type named interface{ setSagaID(uuid.UUID) }

// appendEventData writes an outcome event's data, as eventData reads it:
// state, already JSON, is copied as it is — encoding/json would compact it
// once more, a quarter of a simulated step's time — and key, when set and
// text is not empty, carries text as a JSON string.
func appendEventData(state []byte, key, text string) ([]byte, error) {
	b := make([]byte, 0, len(state)+len(text)+24)
	b = append(b, `{"state":`...)
	b = append(b, state...)
	if key != "" && text != "" { // as omitempty drops it
		q, err := json.Marshal(text)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `":`...)
		b = append(b, q...)
	}
	return append(b, '}'), nil
}

// eventData is what an outcome event carries: the saga's state after the
// node, and its error or why it ended the saga.
type eventData struct {
	State json.RawMessage `json:"state"`
	Error string          `json:"error,omitempty"`
	Ended string          `json:"ended,omitempty"`
}

var eventTypeOf = [...]datastore.EventType{
	evStarted: datastore.EventStarted, evSucceeded: datastore.EventSucceeded, evFailed: datastore.EventFailed,
	evUndoStarted: datastore.EventUndoStarted, evUndoFinished: datastore.EventUndoFinished, evUndoFailed: datastore.EventUndoFailed,
}

func (j *secJournal) event(i int, t eventKind, err error) error {
	e := datastore.NodeEvent{Saga: j.rec.ID, Node: j.x.steps[i].Name, Type: eventTypeOf[t], Time: j.c.Env.Now(), Owner: j.c.ID}
	if t != evStarted && t != evUndoStarted {
		state, merr := j.saga.marshalState()
		if merr != nil {
			return fmt.Errorf("sagas: the %v saga's state after %s: %w", j.x.saga.Kind(), e.Node, merr)
		}
		var end errEnd
		switch {
		case errors.As(err, &end):
			e.Data, merr = appendEventData(state, "ended", end.why)
		case err != nil:
			e.Data, merr = appendEventData(state, "error", err.Error())
		default:
			e.Data, merr = appendEventData(state, "", "")
		}
		if merr != nil {
			return merr
		}
	}
	j.pending = append(j.pending, e)
	if t == evStarted || t == evUndoStarted {
		if err := j.c.renewIfDue(j.ctx); err != nil {
			return err
		}
		return j.write(0) // nothing runs before its start is durable
	}
	return nil
}

// write makes the pending events durable in one write — with the saga's
// record the first time, with its move to state when state is not zero —
// and then crashes, if asked to, unless the saga has come to rest.
func (j *secJournal) write(state datastore.SagaState) error {
	n := len(j.pending)
	if j.crashLate && j.crashAt >= 0 && j.written >= j.crashAt {
		j.crashed = true
		return ErrCrashed
	}
	var err error
	switch {
	case !j.created:
		if err = j.c.Log.SagaCreate(j.ctx, j.rec, j.pending...); err == nil {
			j.created = true
			if state != 0 {
				err = j.c.Log.SagaSetState(j.ctx, j.rec.Fence(), j.rec.ID, state)
			}
		}
	case state != 0:
		err = j.c.Log.SagaSetState(j.ctx, j.rec.Fence(), j.rec.ID, state, j.pending...)
	case n == 0:
		return nil
	default:
		err = j.c.Log.SagaAppend(j.ctx, j.rec.Fence(), j.rec.ID, j.pending...)
	}
	if err != nil {
		return err
	}
	j.written += n
	j.pending = j.pending[:0]
	if n > 0 && state != datastore.SagaDone && !j.crashLate && j.crashAt >= 0 && j.written >= j.crashAt {
		j.crashed = true
		return ErrCrashed
	}
	return nil
}

func (j *secJournal) unwinding() error { return j.write(datastore.SagaUnwinding) }

func (j *secJournal) finish(Outcome) error { return j.write(datastore.SagaDone) }

// stopped releases the executor's claim on a saga Begin started, once it
// has come to rest or halted.
func (j *secJournal) stopped() {
	if j.owned {
		j.owned = false
		j.c.release(j.rec.ID)
	}
}

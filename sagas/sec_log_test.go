package sagas_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// What a durable executor writes to its log and when, how it holds its
// lease, and how its recovery reads the log back and gives up on what it
// cannot run (D26–D28).

// watchedLog is a saga log that records each write an executor makes, one
// line a write — "create", "append" or the state it moves the saga to,
// then its events — and each lease renewal, and that answers the
// operations named in fail with an error instead.
type watchedLog struct {
	datastore.SagaLog
	t        *testing.T
	writes   []string
	renewals int
	expires  time.Time        // the lease as last renewed
	now      func() time.Time // when set, a write made after the lease lapsed is an error
	onWrite  func()           // after each write
	fail     map[string]error // "abandon", "set_state"
}

// line renders a write: each event as "type node", an outcome with what
// its data says beyond the saga's state — "!error" for a failure, "ended
// why" for an early end. A start carries no data; an outcome carries the
// saga's state.
func (l *watchedLog) line(op string, evs []datastore.NodeEvent) string {
	var parts []string
	for _, e := range evs {
		s := e.Type.String() + " " + e.Node
		start := e.Type == datastore.EventStarted || e.Type == datastore.EventUndoStarted
		switch {
		case start && len(e.Data) > 0:
			l.t.Errorf("%s carries data: %s", s, e.Data)
		case !start:
			var d struct {
				State        json.RawMessage
				Error, Ended string
			}
			if err := json.Unmarshal(e.Data, &d); err != nil || len(d.State) == 0 {
				l.t.Errorf("%s carries no state: %s (%v)", s, e.Data, err)
			}
			if d.Error != "" {
				s += " !" + d.Error
			}
			if d.Ended != "" {
				s += " ended " + d.Ended
			}
		}
		parts = append(parts, s)
	}
	return op + ": " + strings.Join(parts, ", ")
}

func (l *watchedLog) wrote(op string, evs []datastore.NodeEvent) {
	l.writes = append(l.writes, l.line(op, evs))
	if l.now != nil && !l.now().Before(l.expires) {
		l.t.Errorf("%s written at %v, the lease expired at %v", l.writes[len(l.writes)-1], l.now(), l.expires)
	}
	if l.onWrite != nil {
		l.onWrite()
	}
}

func (l *watchedLog) SagaCreate(ctx context.Context, rec datastore.SagaRecord, evs ...datastore.NodeEvent) error {
	if err := l.SagaLog.SagaCreate(ctx, rec, evs...); err != nil {
		return err
	}
	l.wrote("create", evs)
	return nil
}

func (l *watchedLog) SagaAppend(ctx context.Context, f datastore.Fence, id uuid.UUID, evs ...datastore.NodeEvent) error {
	if err := l.SagaLog.SagaAppend(ctx, f, id, evs...); err != nil {
		return err
	}
	l.wrote("append", evs)
	return nil
}

func (l *watchedLog) SagaSetState(ctx context.Context, f datastore.Fence, id uuid.UUID, st datastore.SagaState, evs ...datastore.NodeEvent) error {
	if err := l.fail["set_state"]; err != nil {
		return err
	}
	if err := l.SagaLog.SagaSetState(ctx, f, id, st, evs...); err != nil {
		return err
	}
	l.wrote(st.String(), evs)
	return nil
}

func (l *watchedLog) SagaAbandon(ctx context.Context, f datastore.Fence, id uuid.UUID, p datastore.AbandonArgs) error {
	if err := l.fail["abandon"]; err != nil {
		return err
	}
	return l.SagaLog.SagaAbandon(ctx, f, id, p)
}

func (l *watchedLog) SECRenew(ctx context.Context, sec uuid.UUID, exp time.Time) (time.Time, error) {
	l.renewals++
	got, err := l.SagaLog.SECRenew(ctx, sec, exp)
	l.expires = got
	return got, err
}

func (f *fixture) watched() *watchedLog { return &watchedLog{SagaLog: f.st, t: f.t} }

// TestSECWritesEachOutcomeWithTheNextStart: one write a node — a node's
// outcome goes with the next node's start, and nothing runs before its
// start is durable; the turn to unwinding goes with the failure, the rest
// with the last outcome. Starts carry no data; outcomes carry the saga's
// state, and a failure's error or an early end's reason, which recovery
// reads back.
func TestSECWritesEachOutcomeWithTheNextStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(*fixture)
		saga   sagas.Saga
		failAt string
		writes []string
	}{
		{"start completes", (*fixture).stopped, tableSaga("start"), "", []string{
			"create: started choose_vmm_id",
			"append: succeeded choose_vmm_id, started alloc_server",
			"append: succeeded alloc_server, started create_vmm_record",
			"append: succeeded create_vmm_record, started mark_as_starting",
			"append: succeeded mark_as_starting, started ensure_registered",
			"append: succeeded ensure_registered, started clear_start_failure",
			"done: succeeded clear_start_failure",
		}},
		{"start unwinds", (*fixture).stopped, tableSaga("start"), sagas.StepCreateVMM, []string{
			"create: started choose_vmm_id",
			"append: succeeded choose_vmm_id, started alloc_server",
			"append: succeeded alloc_server, started create_vmm_record",
			"unwinding: failed create_vmm_record !create_vmm_record: injected failure",
			"append: undo_started alloc_server",
			"append: undo_finished alloc_server, undo_started choose_vmm_id",
			"done: undo_finished choose_vmm_id",
		}},
		{"update ends early", (*fixture).running, &sagas.Update{Instance: instID}, "", []string{
			"create: started lock_instance",
			"append: succeeded lock_instance, started become_updater",
			"append: succeeded become_updater, started fetch_and_plan",
			"done: succeeded fetch_and_plan ended nothing",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			log := f.watched()
			c := f.sec(secA)
			c.Log = log
			d, err := c.Run(f.ctx, sagaID, tc.saga, sagas.RunOptions{Options: sagas.Options{FailAt: tc.failAt}})
			f.must(err)
			_, events, err := f.st.SagaFetch(f.ctx, sagaID)
			f.must(err)
			if d.Outcome == 0 || d.Events != len(events) {
				t.Errorf("%+v; want at rest with its %d events counted", d, len(events))
			}
			if diff := cmp.Diff(tc.writes, log.writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSECRenewsItsLeaseEachHalfLease: an executor renews its lease when it
// runs (Renew: now + Lease, DefaultLease when zero), and then once half of
// it has run, before the next node — so a saga that runs longer than a
// lease never writes on a lapsed one, with one renewal each half lease,
// not one a node.
func TestSECRenewsItsLeaseEachHalfLease(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		lease, want time.Duration
	}{{0, sagas.DefaultLease}, {10 * time.Second, 10 * time.Second}} {
		c := &sagas.SEC{ID: secB, Log: datastore.NewMemory(), Env: f.w.Env, Lease: tc.lease}
		if exp, err := c.Renew(f.ctx); err != nil || !exp.Equal(f.now.Add(tc.want)) {
			t.Errorf("Lease %v: renewed to %v, %v; want %v", tc.lease, exp, err, f.now.Add(tc.want))
		}
	}

	f.stopped()
	log := f.watched()
	log.now = func() time.Time { return f.now }
	log.onWrite = func() { f.now = f.now.Add(2 * time.Second) } // each write takes 2 s
	c := f.sec(secA)
	c.Log, c.Lease = log, 10*time.Second
	d, err := c.Run(f.ctx, sagaID, tableSaga("start"), sagas.RunOptions{})
	f.must(err)
	if d.Outcome != sagas.Completed {
		t.Fatalf("%+v", d)
	}
	// Seven writes, 2 s apart from t0: renewed at t0 (to t0+10 s), then
	// before the first start at or past t0+5 s — the fourth, at t0+6 s.
	if len(log.writes) != 7 || log.renewals != 2 {
		t.Errorf("%d writes, %d renewals; want 7 and 2", len(log.writes), log.renewals)
	}
}

// TestSECRefusesWhatItCannotRun: an executor with no identity, no log or
// an incomplete Env runs nothing, and Run refuses a saga it cannot log, a
// negative crash point, a failure point that is no step, and an id that
// names another saga (D29) — each the caller's error, not a saga's
// outcome.
func TestSECRefusesWhatItCannotRun(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	for _, tc := range []struct {
		name string
		c    *sagas.SEC
	}{
		{"nil", nil},
		{"no identity", &sagas.SEC{Log: f.st, Env: f.w.Env}},
		{"no log", &sagas.SEC{ID: secA, Env: f.w.Env}},
		{"no Env", &sagas.SEC{ID: secA, Log: f.st}},
		{"an Env without a store", &sagas.SEC{ID: secA, Log: f.st, Env: &sagas.Env{}}},
	} {
		if _, err := tc.c.Run(f.ctx, sagaID, tableSaga("delete"), sagas.RunOptions{}); err == nil {
			t.Errorf("%s: Run accepted", tc.name)
		}
		if _, err := tc.c.Adopt(f.ctx, secB); err == nil {
			t.Errorf("%s: Adopt accepted", tc.name)
		}
		if _, err := tc.c.Recover(f.ctx); err == nil {
			t.Errorf("%s: Recover accepted", tc.name)
		}
	}
	c := f.sec(secA)
	for _, tc := range []struct {
		name string
		saga sagas.Saga
		opt  sagas.RunOptions
	}{
		{"a saga it cannot log", &logSaga{n: 1, fail: -1, stuck: -1}, sagas.RunOptions{}},
		{"a negative crash point", tableSaga("delete"), sagas.RunOptions{Crash: true, CrashAfter: -1}},
		{"no such step", tableSaga("delete"), sagas.RunOptions{Options: sagas.Options{FailAt: "nope"}}},
	} {
		if d, err := c.Run(f.ctx, sagaID, tc.saga, tc.opt); err == nil {
			t.Errorf("%s: accepted, %+v", tc.name, d)
		}
	}
	if _, _, err := f.st.SagaFetch(f.ctx, sagaID); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("a refused run logged its saga: %v", err)
	}
	if _, err := c.Run(f.ctx, sagaID, tableSaga("start"), sagas.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := c.Run(f.ctx, sagaID, tableSaga("delete"), sagas.RunOptions{})
	if !errors.Is(err, datastore.ErrConflict) || d.Outcome != 0 || len(d.Ran) != 0 {
		t.Errorf("a second saga under a used id: %+v, %v; want ErrConflict, nothing run", d, err)
	}
	if f.instance().Runtime.State != instancestate.NexusVMM {
		t.Errorf("the refused delete ran: %+v", f.instance().Runtime)
	}
}

// TestSECReplay: Options.Replay runs each node of a durable run twice, and
// only then; a node that fails when replayed is Run's error.
func TestSECReplay(t *testing.T) {
	for _, tc := range []struct {
		name   string
		replay bool
		failAt int // the store call that fails (0: none)
		calls  int // store calls made
		err    error
	}{
		{"each node once", false, 0, 1, nil},
		{"each node twice", true, 0, 2, nil},
		{"a node that fails when replayed", true, 2, 2, errStore},
	} {
		f := newFixture(t)
		f.stopped()
		fs := &faultyStore{Store: f.st, failAt: tc.failAt}
		f.w.Env.Store = fs
		_, err := f.sec(secA).Run(f.ctx, sagaID, &sagas.Delete{Instance: instID}, sagas.RunOptions{Options: sagas.Options{Replay: tc.replay}})
		if !errors.Is(err, tc.err) || tc.err == nil && err != nil || fs.calls != tc.calls {
			t.Errorf("%s: %v, %d store calls; want %v, %d", tc.name, err, fs.calls, tc.err, tc.calls)
		}
	}
	// Replayed node by node, a saga of many steps runs to its end.
	f := newFixture(t)
	f.stopped()
	d, err := f.sec(secA).Run(f.ctx, sagaID, tableSaga("start"), sagas.RunOptions{Options: sagas.Options{Replay: true}})
	f.must(err)
	if d.Outcome != sagas.Completed || len(d.Ran) != 6 {
		t.Errorf("replayed start: %+v", d)
	}
}

// crashed leaves the start saga of the fixture's instance in the log as a
// process killed once crashAfter of its events were durable left it.
func (f *fixture) crashed(saga uuid.UUID, s sagas.Saga, crashAfter int) {
	f.t.Helper()
	d, err := f.sec(secA).Run(f.ctx, saga, s, sagas.RunOptions{Crash: true, CrashAfter: crashAfter})
	f.must(err)
	if !d.Crashed {
		f.t.Fatalf("no crash: %+v", d)
	}
}

// TestRecoverStopsAtShutdown: Recover runs every unfinished saga in id
// order, and stops at the first one that halts on its cancelled context
// (D28), leaving the rest untouched.
func TestRecoverStopsAtShutdown(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	other := vmmstate.InstanceIDFromUUID(id('i', 2))
	second := id('g', 2)
	f.crashed(sagaID, tableSaga("start"), 2)
	f.crashed(second, &sagas.Create{Instance: instancestate.New(other, false, instancestate.AutoRestart{}, f.now)}, 1)

	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	log := f.watched()
	log.onWrite = cancel // shutdown as the first recovered node starts
	c := f.sec(secA)
	c.Log = log
	got, err := c.Recover(ctx)
	if err != nil || len(got) != 1 || got[0].Saga != sagaID || !errors.Is(got[0].Halted, context.Canceled) {
		t.Fatalf("recovered %+v, %v; want the first saga halted on the cancellation, and no other", got, err)
	}
	rec, _, err := f.st.SagaFetch(f.ctx, second)
	f.must(err)
	if rec.RecoveryAttempts != 0 || rec.State != datastore.SagaRunning {
		t.Errorf("the second saga was touched: %+v", rec)
	}

	got, err = f.sec(secA).Recover(f.ctx)
	f.must(err)
	if len(got) != 2 || got[0].Saga != sagaID || got[1].Saga != second || got[0].Outcome != sagas.Completed || got[1].Outcome != sagas.Completed {
		t.Fatalf("recovered %+v; want both sagas completed, in id order", got)
	}
	f.unfinished()
}

// TestRecoverAbandons: a saga of another log version is abandoned as
// orphaned, one recovered MaxRecoveries times without coming to rest as
// having had too many attempts — each with why, in the log — and a log
// that refuses the abandonment is reported: as a halt when another
// executor owns the saga now, as Recover's error otherwise.
func TestRecoverAbandons(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refusal error // SagaAbandon's answer
		want    sagas.Durable
		err     error
		state   datastore.SagaState
		comment string
	}{
		{"abandoned", nil, sagas.Durable{Saga: sagaID, Kind: sagas.KindStart, Abandoned: datastore.AbandonOrphaned}, nil,
			datastore.SagaAbandoned, "log version 2; this executor runs version 1"},
		{"another executor owns it", datastore.ErrLostOwnership,
			sagas.Durable{Saga: sagaID, Kind: sagas.KindStart, Abandoned: datastore.AbandonOrphaned, Halted: datastore.ErrLostOwnership}, nil,
			datastore.SagaRunning, ""},
		{"the log fails", errStore, sagas.Durable{}, errStore, datastore.SagaRunning, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.stopped()
			err := f.st.SagaCreate(f.ctx, datastore.SagaRecord{ID: sagaID, Name: "start", Params: []byte(`{}`), State: datastore.SagaRunning,
				Creator: secA, TimeCreated: f.now, CurrentSEC: secA, AdoptGeneration: 1, AdoptTime: f.now, Version: sagas.LogVersion + 1})
			f.must(err)
			log := f.watched()
			log.fail = map[string]error{"abandon": tc.refusal}
			c := f.sec(secA)
			c.Log = log
			got, err := c.Recover(f.ctx)
			var d sagas.Durable
			if len(got) > 0 {
				d = got[0]
			}
			if !errors.Is(err, tc.err) || tc.err == nil && (err != nil || len(got) != 1) {
				t.Fatalf("recovered %+v, %v; want one saga, error %v", got, err, tc.err)
			}
			if diff := cmp.Diff(tc.want, d, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			rec, _, err := f.st.SagaFetch(f.ctx, sagaID)
			f.must(err)
			if rec.State != tc.state || rec.AbandonComment != tc.comment {
				t.Errorf("the log: %v %q; want %v %q", rec.State, rec.AbandonComment, tc.state, tc.comment)
			}
		})
	}

	t.Run("too many attempts", func(t *testing.T) {
		f := newFixture(t)
		f.stopped()
		f.crashed(sagaID, tableSaga("start"), 2)
		// The first recovery is the one attempt allowed; it runs, and its
		// process dies.
		c := f.sec(secA)
		c.MaxRecoveries = 1
		sagas.CrashRecoveryAfter(c, 4)
		got, err := c.Recover(f.ctx)
		f.must(err)
		if len(got) != 1 || !got[0].Crashed || got[0].Events <= 3 {
			t.Fatalf("first recovery: %+v; want it run, then crashed", got)
		}
		c = f.sec(secA)
		c.MaxRecoveries = 1
		got, err = c.Recover(f.ctx)
		f.must(err)
		if len(got) != 1 || got[0].Abandoned != datastore.AbandonTooManyAttempts || len(got[0].Ran) != 0 {
			t.Fatalf("second recovery: %+v; want the saga abandoned, nothing run", got)
		}
		rec, _, err := f.st.SagaFetch(f.ctx, sagaID)
		f.must(err)
		if rec.State != datastore.SagaAbandoned || rec.AbandonComment != "recovered 1 times without coming to rest" {
			t.Errorf("the log: %v %q", rec.State, rec.AbandonComment)
		}
	})
}

// TestRecoverFinishesALogAtRest: a log whose events end at rest, its saga
// not yet moved to done (the process died in between), is finished by
// recovery without running a node; a log that refuses the move halts the
// recovery, the saga left for the next.
func TestRecoverFinishesALogAtRest(t *testing.T) {
	src := newFixture(t)
	src.stopped()
	_, err := src.sec(secA).Run(src.ctx, sagaID, tableSaga("start"), sagas.RunOptions{})
	src.must(err)
	rec, events, err := src.st.SagaFetch(src.ctx, sagaID)
	src.must(err)
	rec.State = datastore.SagaRunning

	f := newFixture(t)
	f.must(f.st.SagaCreate(f.ctx, rec, events...))
	log := f.watched()
	log.fail = map[string]error{"set_state": errStore}
	c := f.sec(secA)
	c.Log = log
	got, err := c.Recover(f.ctx)
	f.must(err)
	if len(got) != 1 || !errors.Is(got[0].Halted, errStore) || got[0].Outcome != 0 {
		t.Fatalf("recovered %+v; want halted on the log's refusal", got)
	}
	got, err = f.sec(secA).Recover(f.ctx)
	f.must(err)
	if len(got) != 1 || got[0].Outcome != sagas.Completed || len(got[0].Ran) != 0 || got[0].Events != len(events) {
		t.Fatalf("recovered %+v; want completed with nothing run", got)
	}
	f.unfinished()
}

// TestRecoveryCrashesAtItsFirstWrite: a recovery asked to crash once no
// more events than the log holds are durable dies at its first write —
// the start of the node it runs first — as a killed process would.
func TestRecoveryCrashesAtItsFirstWrite(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	f.crashed(sagaID, tableSaga("start"), 0) // the record, no event
	c := f.sec(secA)
	sagas.CrashRecoveryAfter(c, 0)
	got, err := c.Recover(f.ctx)
	f.must(err)
	if len(got) != 1 || !got[0].Crashed || got[0].Events != 1 {
		t.Fatalf("recovered %+v; want crashed with one event durable", got)
	}
	if _, events, err := f.st.SagaFetch(f.ctx, sagaID); err != nil || len(events) != 1 ||
		fmt.Sprint(events[0].Type, " ", events[0].Node) != "started "+sagas.StepChooseVMMID {
		t.Errorf("the log: %v, %v", events, err)
	}
}

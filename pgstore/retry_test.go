package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
	"github.com/vmlife/vmlife/vmmstate"
)

// The tests of RetryUnavailable put the proxy of proxy_test.go between the
// store and the server and make the server go away and come back. None
// asserts a duration but with bounds far from the expected: the machine
// may be loaded.

// patience bounds how long a test waits for a call that should end: far
// longer than any of them takes.
const patience = 20 * time.Second

// result is what a call made in a goroutine answered.
type result struct {
	what string
	err  error
}

// await waits for n results and fails t for each that is an error.
func await(t *testing.T, results <-chan result, n int) {
	t.Helper()
	timeout := time.After(patience)
	for range n {
		select {
		case r := <-results:
			if r.err != nil {
				t.Errorf("%s: %v (%T); want the call to wait the server out and succeed", r.what, r.err, r.err)
			}
		case <-timeout:
			t.Fatalf("calls still waiting after %v", patience)
		}
	}
}

// TestRetryUnavailableWaitsOutARestart: with RetryUnavailable, calls made
// while the server is away — stopped for a restart (its connections cut,
// new ones refused), starting up (new connections refused with 57P03), or
// hung past the operation timeout — wait for it and succeed once it is
// back, each write applied once. Without the option, the same call fails
// at once with a *NoAnswerError, as it always has.
func TestRetryUnavailableWaitsOutARestart(t *testing.T) {
	ctx := context.Background()
	direct, dsn := freshDSN(t)
	p := newProxy(t, pgstoretest.DSN(t))
	st := proxied(t, p, dsn, pgstore.RetryUnavailable(time.Minute))
	plain := proxied(t, p, dsn)
	sled := vmmstate.SledIDFromUUID(uuid.New())
	id, v := insertRunning(t, direct, sled)
	saga := instancestate.UpdaterIDFromUUID(uuid.New())
	for _, s := range []*pgstore.Store{st, plain} { // each holds an open connection, which the restart cuts
		if _, err := s.InstanceFetchAll(ctx, id); err != nil {
			t.Fatal(err)
		}
	}

	// The server stops: its connections are cut, new ones refused.
	p.down()
	_, err := plain.InstanceFetchAll(ctx, id)
	noAnswer(t, "without RetryUnavailable, the server stopped", err, false, false)
	_, err = plain.VMMFetch(ctx, v.ID)
	noAnswer(t, "without RetryUnavailable, connecting to the stopped server", err, false, false)

	results := make(chan result, 3)
	go func() {
		_, err := st.InstanceFetchAll(ctx, id)
		results <- result{"instance_fetch_all", err}
	}()
	go func() {
		l, err := st.InstanceUpdaterLock(ctx, id, saga)
		if err == nil && (l.Updater != saga || l.Gen != generation.Of(2)) {
			err = errors.New("lock " + l.Updater.String() + " at " + l.Gen.String() + ", want taken at 2")
		}
		results <- result{"instance_updater_lock", err}
	}()
	report := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentStopping,
		Generation: generation.Of(3), TimeUpdated: t0.Add(time.Second)}}
	go func() {
		res, err := st.SledReport(ctx, v.ID, report)
		if err == nil && !res.VMM.Applied {
			err = errors.New("the report was not applied")
		}
		results <- result{"sled_report", err}
	}()
	time.Sleep(time.Second)
	select {
	case r := <-results:
		t.Fatalf("%s answered while the server was away: %v", r.what, r.err)
	default:
	}
	p.up()
	back := time.Now()
	await(t, results, 3)
	t.Logf("after a restart of 1 s, the calls answered %v after the server was back", time.Since(back))
	snap, err := direct.InstanceFetchAll(ctx, id)
	if err != nil || snap.Instance.UpdaterID != saga || snap.Instance.UpdaterGen != generation.Of(2) {
		t.Fatalf("after the restart: %+v, %v; want the lock taken once, at 2", snap.Instance, err)
	}
	if row, err := direct.VMMFetch(ctx, v.ID); err != nil || row.VMM.Runtime.Generation != generation.Of(3) {
		t.Fatalf("after the restart: %+v, %v; want the report written, at 3", row.VMM.Runtime, err)
	}

	// The server starts up: a new connection is refused with FATAL 57P03
	// (cannot_connect_now), which is no answer either.
	p.startUp()
	_, err = plain.InstanceFetchAll(ctx, id)
	noAnswer(t, "without RetryUnavailable, the server starting up", err, false, false)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57P03" {
		t.Errorf("the server starting up: %v; want the server's 57P03 in it", err)
	}
	go func() {
		res, err := st.InstanceSetIntendedState(ctx, id, instancestate.IntendStopped)
		if err == nil && !res.Applied {
			err = errors.New("the intent was not applied")
		}
		results <- result{"instance_set_intended_state", err}
	}()
	time.Sleep(300 * time.Millisecond)
	p.started()
	back = time.Now()
	await(t, results, 1)
	t.Logf("after a start of 0.3 s, the call answered %v after the server was up", time.Since(back))
	if snap, err := direct.InstanceFetchAll(ctx, id); err != nil || snap.Instance.IntendedState != instancestate.IntendStopped {
		t.Fatalf("after the start: intent %v, %v; want stopped", snap.Instance.IntendedState, err)
	}

	// The server hangs past the operation timeout: each attempt times out,
	// and the next one is made.
	hung := proxied(t, p, dsn, pgstore.OperationTimeout(500*time.Millisecond), pgstore.RetryUnavailable(time.Minute))
	p.freeze()
	go func() {
		_, err := hung.VMMListAbandoned(ctx)
		results <- result{"vmm_list_abandoned", err}
	}()
	time.Sleep(1200 * time.Millisecond)
	p.thaw()
	back = time.Now()
	await(t, results, 1)
	t.Logf("after a hang of 1.2 s, the call answered %v after the server was back", time.Since(back))
}

// TestRetryUnavailableSettlesALostCommit: with RetryUnavailable, a write
// whose connection is cut once the server has committed it, and before the
// answer reaches the store, is retried by the store and answers as a
// repeat does (D29): the caller sees no error, and the record is as one
// write leaves it.
func TestRetryUnavailableSettlesALostCommit(t *testing.T) {
	ctx := context.Background()
	direct, dsn := freshDSN(t)
	p := newProxy(t, pgstoretest.DSN(t))
	st := proxied(t, p, dsn, pgstore.RetryUnavailable(time.Minute))
	sled := vmmstate.SledIDFromUUID(uuid.New())
	id, v := insertRunning(t, direct, sled)

	cut := func(what string, call func() error) {
		t.Helper()
		dropped := p.drop(afterCommit())
		if err := call(); err != nil {
			t.Fatalf("%s: %v; want the lost commit retried and settled", what, err)
		}
		select {
		case <-dropped:
		default:
			t.Fatalf("%s: the proxy did not drop the connection", what)
		}
	}

	// The transaction path: the retry finds the VMM inserted and answers it.
	nv := vmmstate.New(vmmstate.IDFromUUID(uuid.New()), vmmstate.InstanceIDFromUUID(uuid.New()), sled, t0)
	cut("vmm_insert", func() error {
		got, err := st.VMMInsert(ctx, nv)
		if err == nil && got != nv {
			t.Errorf("the insert = %+v, want the VMM as stored", got)
		}
		return err
	})
	if row, err := direct.VMMFetch(ctx, nv.ID); err != nil || row.VMM != nv {
		t.Fatalf("the insert: %+v, %v", row.VMM, err)
	}

	// One statement: the lock, taken once (updater generation 2).
	saga := instancestate.UpdaterIDFromUUID(uuid.New())
	cut("instance_updater_lock", func() error {
		l, err := st.InstanceUpdaterLock(ctx, id, saga)
		if err == nil && (l.Updater != saga || l.Gen != generation.Of(2)) {
			t.Errorf("the lock = %+v, want held by %v at 2", l, saga)
		}
		return err
	})
	if snap, err := direct.InstanceFetchAll(ctx, id); err != nil || snap.Instance.UpdaterID != saga || snap.Instance.UpdaterGen != generation.Of(2) {
		t.Fatalf("the lock: %+v, %v; want taken once, at 2", snap.Instance, err)
	}

	// A sled report: the retry finds it written, and says so.
	report := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentStopping,
		Generation: generation.Of(3), TimeUpdated: t0.Add(time.Second)}}
	cut("sled_report", func() error {
		res, err := st.SledReport(ctx, v.ID, report)
		if err == nil && res.VMM.Applied {
			t.Errorf("the report retried = %+v; want it found written already", res)
		}
		return err
	})
	if row, err := direct.VMMFetch(ctx, v.ID); err != nil || row.VMM.Runtime.Generation != generation.Of(3) || row.VMM.Runtime.State != vmmstate.Stopping {
		t.Fatalf("the report: %+v, %v; want stopping at 3", row.VMM.Runtime, err)
	}

	// The saga log: a saga created, and an event appended, once each.
	rec := datastore.SagaRecord{ID: uuid.New(), Name: "start", Params: []byte(`{}`), Creator: uuid.New(),
		TimeCreated: t0, State: datastore.SagaRunning, CurrentSEC: uuid.New(), AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	cut("saga_create", func() error { return st.SagaCreate(ctx, rec) })
	ev := datastore.NodeEvent{Saga: rec.ID, Node: "n0", Type: datastore.EventStarted, Time: t0, Owner: rec.CurrentSEC}
	cut("saga_append", func() error { return st.SagaAppend(ctx, rec.Fence(), rec.ID, ev) })
	if got, events, err := direct.SagaFetch(ctx, rec.ID); err != nil || got.ID != rec.ID || len(events) != 1 {
		t.Fatalf("the saga: %+v, %d events, %v; want it with one event", got, len(events), err)
	}
}

// TestRetryUnavailableGivesUp: once the time RetryUnavailable gives has
// passed, the last attempt's *NoAnswerError is returned, saying how many
// attempts were made — and that the write may have been applied when an
// earlier attempt's commit was lost, though the last attempt sent nothing.
func TestRetryUnavailableGivesUp(t *testing.T) {
	ctx := context.Background()
	direct, dsn := freshDSN(t)
	p := newProxy(t, pgstoretest.DSN(t))
	const window = 500 * time.Millisecond
	st := proxied(t, p, dsn, pgstore.RetryUnavailable(window))
	id, _ := insertRunning(t, direct, vmmstate.SledIDFromUUID(uuid.New()))

	p.down()
	start := time.Now()
	_, err := st.InstanceFetchAll(ctx, id)
	took := time.Since(start)
	na := noAnswer(t, "the server away for longer than the window", err, false, false)
	if na.Attempts < 2 {
		t.Errorf("%d attempts in %v; want the call retried", na.Attempts, took)
	}
	if took < window || took > patience {
		t.Errorf("gave up after %v; want the window, %v, waited out", took, window)
	}

	// The lock's commit is lost, and the server goes away at that moment:
	// every retry is refused, and the call says the lock may be taken.
	p.up()
	saga := instancestate.UpdaterIDFromUUID(uuid.New())
	dropped := p.dropThenDown(afterCommit())
	_, err = st.InstanceUpdaterLock(ctx, id, saga)
	select {
	case <-dropped:
	default:
		t.Fatalf("the proxy did not drop the lock's connection (%v)", err)
	}
	if na := noAnswer(t, "a lost commit, then the server away", err, false, true); na.Attempts < 2 {
		t.Errorf("%d attempts; want the call retried", na.Attempts)
	}
	p.up()
	if l, err := st.InstanceUpdaterLock(ctx, id, saga); err != nil || l.Gen != generation.Of(2) {
		t.Fatalf("the lock retried = %+v, %v; want it held at 2, taken once", l, err)
	}
}

// TestRetryUnavailableStopsWhenCancelled: the caller's context ends the
// retries at once — cancelled, the call's error matches context.Canceled
// (shutdown, D28, counted as no error), and also ErrOutcomeUnknown when an
// attempt's commit was lost; past the caller's deadline, it is a
// *NoAnswerError matching context.DeadlineExceeded.
func TestRetryUnavailableStopsWhenCancelled(t *testing.T) {
	ctx := context.Background()
	direct, dsn := freshDSN(t)
	p := newProxy(t, pgstoretest.DSN(t))
	st := proxied(t, p, dsn, pgstore.RetryUnavailable(time.Hour))
	id, _ := insertRunning(t, direct, vmmstate.SledIDFromUUID(uuid.New()))

	cancelled := func(what string, call func(context.Context) error) error {
		t.Helper()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- call(cctx) }()
		time.Sleep(300 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s, cancelled: %v; want it to match context.Canceled", what, err)
			}
			if kind := controlplane.ErrorKind(err); kind != "" {
				t.Errorf("%s, cancelled: controlplane.ErrorKind = %q, want none (D28)", what, kind)
			}
			t.Logf("%s, cancelled: %v", what, err)
			return err
		case <-time.After(patience):
			t.Fatalf("%s: still retrying %v after its context was cancelled", what, patience)
		}
		return nil
	}

	p.down()
	err := cancelled("instance_fetch_all", func(ctx context.Context) error { _, err := st.InstanceFetchAll(ctx, id); return err })
	var na *pgstore.NoAnswerError
	if errors.As(err, &na) {
		t.Errorf("a read cancelled: %v; want no *NoAnswerError", err)
	}

	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = st.InstanceFetchAll(dctx, id)
	cancel()
	if na := noAnswer(t, "past the caller's deadline", err, true, false); na.Timeout != 0 {
		t.Errorf("the caller's deadline passed, and the error names the store's timeout: %v", err)
	}

	p.up()
	saga := instancestate.UpdaterIDFromUUID(uuid.New())
	p.dropThenDown(afterCommit())
	err = cancelled("instance_updater_lock", func(ctx context.Context) error {
		_, err := st.InstanceUpdaterLock(ctx, id, saga)
		return err
	})
	if !errors.Is(err, pgstore.ErrOutcomeUnknown) {
		t.Errorf("a write whose commit was lost, cancelled: %v; want it to match ErrOutcomeUnknown too", err)
	}
}

package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
	"github.com/vmlife/vmlife/vmmstate"
)

// noAnswer fails t unless err is a *NoAnswerError — never a
// *datastore.Error, an answer — that timed out or not as timedOut says,
// and leaves the write's outcome unknown or not as unknown says; that it
// matches datastore.ErrUnavailable; and that controlplane.ErrorKind counts
// it as outcome_unknown when the write may have been applied, else as a
// timeout when it timed out, else as unavailable.
func noAnswer(t *testing.T, what string, err error, timedOut, unknown bool) *pgstore.NoAnswerError {
	t.Helper()
	var na *pgstore.NoAnswerError
	var de *datastore.Error
	switch {
	case !errors.As(err, &na) || errors.As(err, &de):
		t.Fatalf("%s: %v (%T), want a *pgstore.NoAnswerError", what, err, err)
	case errors.Is(err, context.DeadlineExceeded) != timedOut || na.TimedOut != timedOut:
		t.Errorf("%s: %v; matches context.DeadlineExceeded: %v, want %v", what, err, !timedOut, timedOut)
	case errors.Is(err, pgstore.ErrOutcomeUnknown) != unknown || na.OutcomeUnknown != unknown:
		t.Errorf("%s: %v; matches ErrOutcomeUnknown: %v, want %v", what, err, !unknown, unknown)
	default:
		t.Logf("%s: %v", what, err)
	}
	if !errors.Is(err, datastore.ErrUnavailable) {
		t.Errorf("%s: %v does not match datastore.ErrUnavailable", what, err)
	}
	// The control plane counts errors by kind, knowing only package
	// datastore's sentinels.
	want := "unavailable"
	switch {
	case unknown:
		want = "outcome_unknown"
	case timedOut:
		want = "timeout"
	}
	if kind := controlplane.ErrorKind(err); kind != want {
		t.Errorf("%s: controlplane.ErrorKind = %q, want %q", what, kind, want)
	}
	return na
}

// TestHungServerTimesOut: a server that stops answering — the proxy
// forwards nothing, as when the server is stopped with SIGSTOP — costs a
// call the store's OperationTimeout and no more, and the call fails with a
// *NoAnswerError matching context.DeadlineExceeded. A write sent before
// the server stopped may have been applied (ErrOutcomeUnknown); a read,
// or a write whose connection never opened, wrote nothing. Once the server
// answers again, retrying each settles it: the write is applied once.
func TestHungServerTimesOut(t *testing.T) {
	ctx := context.Background()
	direct, dsn := freshDSN(t)
	p := newProxy(t, pgstoretest.DSN(t))
	// Long enough that opening the store and the warm calls answer in time
	// on a loaded machine (300 ms did not, under a parallel test run), short
	// enough to wait out eight times.
	const timeout = time.Second
	st := proxied(t, p, dsn, pgstore.OperationTimeout(timeout))
	id, _ := insertRunning(t, direct, vmmstate.SledIDFromUUID(uuid.New()))
	saga := instancestate.UpdaterIDFromUUID(uuid.New())

	// hung runs call against a server that stopped answering. warm, run
	// before the server stops, opens the connection call will use and
	// prepares call's statements on it, so that call's own request is
	// what goes unanswered; with no warm, no connection is open.
	hung := func(what string, warm func() error, unknown bool, call func() error) {
		t.Helper()
		p.thaw()
		if warm != nil {
			if err := warm(); err != nil {
				var de *datastore.Error
				if !errors.As(err, &de) {
					t.Fatalf("%s: warming: %v", what, err)
				}
			}
		}
		p.freeze()
		start := time.Now()
		err := call()
		took := time.Since(start)
		na := noAnswer(t, what, err, true, unknown)
		if na.Timeout != timeout {
			t.Errorf("%s: Timeout %v, want the store's %v", what, na.Timeout, timeout)
		}
		if took < timeout || took > timeout+2*time.Second {
			t.Errorf("%s: failed after %v, want the store's timeout, %v", what, took, timeout)
		}
	}
	other := vmmstate.InstanceIDFromUUID(uuid.New()) // no such instance: its calls are refused, and prepare the statements
	fetch := func(id instancestate.ID) func() error {
		return func() error { _, err := st.InstanceFetchAll(ctx, id); return err }
	}
	hung("instance_fetch_all", fetch(other), false, fetch(id))
	fleet := func() error { _, err := st.FindInstancesNeedingUpdate(ctx, t0); return err }
	hung("find_instances_needing_update", fleet, false, fleet)
	// The first round trip of a transaction (BEGIN and its reads) is not
	// answered: nothing of the write was sent.
	intent := func(id instancestate.ID) func() error {
		return func() error { _, err := st.InstanceSetIntendedState(ctx, id, instancestate.IntendStopped); return err }
	}
	hung("instance_set_intended_state", intent(other), false, intent(id))
	// A statement that commits by itself was sent, and may be applied
	// once the server runs again.
	lock := func(id instancestate.ID) func() error {
		return func() error { _, err := st.InstanceUpdaterLock(ctx, id, saga); return err }
	}
	hung("instance_updater_lock", lock(other), true, lock(id))
	// No connection opens: nothing was sent.
	hung("instance_updater_lock, connecting", nil, false, lock(id))
	newSaga := func() datastore.SagaRecord {
		return datastore.SagaRecord{ID: uuid.New(), Name: "start", Params: []byte(`{}`), Creator: uuid.New(),
			TimeCreated: t0, State: datastore.SagaRunning, CurrentSEC: uuid.New(), AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	}
	rec := newSaga()
	hung("saga_create", func() error { return st.SagaCreate(ctx, newSaga()) }, true, func() error { return st.SagaCreate(ctx, rec) })
	// The caller's own deadline, sooner than the store's, is kept.
	p.thaw()
	if _, err := st.VMMListAbandoned(ctx); err != nil {
		t.Fatal(err)
	}
	p.freeze()
	short, cancel := context.WithTimeout(ctx, timeout/3)
	_, err := st.VMMFetch(short, vmmstate.IDFromUUID(uuid.New()))
	cancel()
	if na := noAnswer(t, "vmm_fetch before the caller's deadline", err, true, false); na.Timeout != 0 {
		t.Errorf("the caller's deadline passed, and the error names the store's timeout: %v", err)
	}

	p.thaw()
	l, err := st.InstanceUpdaterLock(ctx, id, saga)
	if err != nil {
		t.Fatalf("the lock retried once the server answers: %v", err)
	}
	if want := generation.Of(2); l.Updater != saga || l.Gen != want {
		t.Fatalf("the lock retried = %+v, want %v at %v: taken once", l, saga, want)
	}
	if err := st.SagaCreate(ctx, rec); err != nil {
		t.Fatalf("the saga retried: %v", err)
	}
	if res, err := st.InstanceSetIntendedState(ctx, id, instancestate.IntendStopped); err != nil || !res.Applied {
		t.Fatalf("the intent retried = %+v, %v; want it applied, now", res, err)
	}
	snap, err := direct.InstanceFetchAll(ctx, id)
	if err != nil || snap.Instance.UpdaterID != saga || snap.Instance.UpdaterGen != generation.Of(2) {
		t.Fatalf("after the retries: %+v, %v; want the lock held by %v at 2", snap.Instance, err, saga)
	}
}

// TestLostCommitIsOutcomeUnknown: a connection that drops once the server
// has committed a write and before its answer reaches the store — the
// proxy cuts it at the COMMIT's CommandComplete, or at the ReadyForQuery
// after a statement that committed by itself — fails the write with a
// *NoAnswerError matching ErrOutcomeUnknown, never a plain failure or a
// refusal. The write was in fact applied; retrying it settles it, and the
// record is as written once. A read cut the same way, or a write cut
// before its commit was sent, wrote nothing and says so.
func TestLostCommitIsOutcomeUnknown(t *testing.T) {
	ctx := context.Background()
	direct, dsn := freshDSN(t)
	p := newProxy(t, pgstoretest.DSN(t))
	st := proxied(t, p, dsn)
	sled := vmmstate.SledIDFromUUID(uuid.New())
	id, v := insertRunning(t, direct, sled)

	lost := func(what string, at func(byte, []byte) bool, unknown bool, call func() error) {
		t.Helper()
		dropped := p.drop(at)
		err := call()
		select {
		case <-dropped:
		default:
			t.Fatalf("%s: the proxy did not drop the connection (%v)", what, err)
		}
		noAnswer(t, what, err, false, unknown)
	}

	// The transaction path: BEGIN and the reads, then the insert and COMMIT.
	nv := vmmstate.New(vmmstate.IDFromUUID(uuid.New()), vmmstate.InstanceIDFromUUID(uuid.New()), sled, t0)
	lost("vmm_insert", afterCommit(), true, func() error {
		_, err := st.VMMInsert(ctx, nv)
		return err
	})
	if row, err := direct.VMMFetch(ctx, nv.ID); err != nil || row.VMM != nv {
		t.Fatalf("the lost insert: %+v, %v; want it committed", row.VMM, err)
	}
	if got, err := st.VMMInsert(ctx, nv); err != nil || got != nv {
		t.Fatalf("the insert retried = %+v, %v; want the VMM as stored (D29)", got, err)
	}

	// One statement, committed by itself.
	saga := instancestate.UpdaterIDFromUUID(uuid.New())
	lost("instance_updater_lock", afterCommit(), true, func() error {
		_, err := st.InstanceUpdaterLock(ctx, id, saga)
		return err
	})
	snap, err := direct.InstanceFetchAll(ctx, id)
	if err != nil || snap.Instance.UpdaterID != saga || snap.Instance.UpdaterGen != generation.Of(2) {
		t.Fatalf("the lost lock: %+v, %v; want it taken", snap.Instance, err)
	}
	if l, err := st.InstanceUpdaterLock(ctx, id, saga); err != nil || l.Updater != saga || l.Gen != generation.Of(2) {
		t.Fatalf("the lock retried = %+v, %v; want it held at 2, taken once", l, err)
	}
	if snap, err := direct.InstanceFetchAll(ctx, id); err != nil || snap.Instance.UpdaterGen != generation.Of(2) {
		t.Fatalf("after the retry: updater_gen %v, %v; want 2", snap.Instance.UpdaterGen, err)
	}

	// A sled report about the VMM alone: one statement.
	report := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentStopping, Generation: generation.Of(3), TimeUpdated: t0.Add(time.Second)}}
	lost("sled_report", afterCommit(), true, func() error {
		_, err := st.SledReport(ctx, v.ID, report)
		return err
	})
	if res, err := st.SledReport(ctx, v.ID, report); err != nil || res.VMM.Applied {
		t.Fatalf("the report retried = %+v, %v; want it found already written", res, err)
	}
	if row, err := direct.VMMFetch(ctx, v.ID); err != nil || row.VMM.Runtime.Generation != generation.Of(3) || row.VMM.Runtime.State != vmmstate.Stopping {
		t.Fatalf("after the retried report: %+v, %v; want stopping at 3", row.VMM.Runtime, err)
	}

	// The saga log: BEGIN, the statement and COMMIT in one batch.
	rec := datastore.SagaRecord{ID: uuid.New(), Name: "start", Params: []byte(`{}`), Creator: uuid.New(),
		TimeCreated: t0, State: datastore.SagaRunning, CurrentSEC: uuid.New(), AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	lost("saga_create", afterCommit(), true, func() error { return st.SagaCreate(ctx, rec) })
	if err := st.SagaCreate(ctx, rec); err != nil {
		t.Fatalf("the saga retried: %v; want an identical retry to succeed (D29)", err)
	}
	if got, events, err := direct.SagaFetch(ctx, rec.ID); err != nil || got.ID != rec.ID || len(events) != 0 {
		t.Fatalf("the saga: %+v, %d events, %v", got, len(events), err)
	}

	// A read: nothing was written, whatever became of its COMMIT.
	lost("instance_fetch_all", afterCommit(), false, func() error {
		_, err := st.InstanceFetchAll(ctx, id)
		return err
	})
	// A write cut after its first round trip: its COMMIT never left.
	lost("instance_set_intended_state", beforeCommit(), false, func() error {
		_, err := st.InstanceSetIntendedState(ctx, id, instancestate.IntendStopped)
		return err
	})
	if snap, err := direct.InstanceFetchAll(ctx, id); err != nil || snap.Instance.IntendedState != instancestate.IntendRunning {
		t.Fatalf("a write cut before its commit: intent %v, %v; want it unchanged", snap.Instance.IntendedState, err)
	}
	if res, err := st.InstanceSetIntendedState(ctx, id, instancestate.IntendStopped); err != nil || !res.Applied {
		t.Fatalf("the intent retried = %+v, %v; want it applied now", res, err)
	}
}

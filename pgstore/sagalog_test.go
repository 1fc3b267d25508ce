package pgstore_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/datastore/storetest"
)

// TestSagaLogConformance runs the saga log's conformance suite (D26, D27)
// on PostgreSQL, each case in a fresh schema: the same cases, races
// included, that the in-memory log passes.
func TestSagaLogConformance(t *testing.T) {
	storetest.RunSagaLog(t, func(t *testing.T) datastore.SagaLog { return fresh(t) })
}

// TestSagaLogAnswersAsMemory: one history of a saga — a create and its
// retry, events whose data is not JSON or is absent, times with
// nanoseconds and the zero time, an owner that is the nil UUID, adoption,
// a recovery's count, abandonment — run on PostgreSQL and on Memory
// answers the same at every step and reads back the same: parameters and
// data byte for byte (JSON is not normalized), times as StoreTime makes
// them, events in the order written.
func TestSagaLogAnswersAsMemory(t *testing.T) {
	ctx := context.Background()
	secA, secB := uuid.New(), uuid.New()
	now := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	rec := datastore.SagaRecord{ID: uuid.New(), Name: "migrate", Params: []byte(`{ "b": 1,  "a": [2, 1] }`),
		State: datastore.SagaRunning, Creator: secA, TimeCreated: now, CurrentSEC: secA, AdoptGeneration: 1, AdoptTime: now, Version: 3}
	ev := func(node string, typ datastore.EventType, data []byte, at time.Time, owner uuid.UUID) datastore.NodeEvent {
		return datastore.NodeEvent{Saga: rec.ID, Node: node, Type: typ, Data: data, Time: at, Owner: owner}
	}
	genA, genB := datastore.Fence{SEC: secA, Generation: 1}, datastore.Fence{SEC: secB, Generation: 2}
	steps := []struct {
		name string
		do   func(datastore.SagaLog) (any, error)
	}{
		{"create", func(l datastore.SagaLog) (any, error) { return nil, l.SagaCreate(ctx, rec) }},
		{"create again", func(l datastore.SagaLog) (any, error) { return nil, l.SagaCreate(ctx, rec) }},
		{"append", func(l datastore.SagaLog) (any, error) {
			return nil, l.SagaAppend(ctx, genA, rec.ID, ev("start", datastore.EventStarted, nil, now, secA))
		}},
		{"append twice in one write", func(l datastore.SagaLog) (any, error) {
			return nil, l.SagaAppend(ctx, genA, rec.ID,
				ev("start", datastore.EventSucceeded, []byte{0, 0xff, '\n'}, now.Add(time.Nanosecond), secA),
				ev("copy", datastore.EventStarted, []byte(`{"x" : 1}`), time.Time{}, uuid.Nil),
				ev("copy", datastore.EventStarted, []byte(`other`), now, secA))
		}},
		{"renew", func(l datastore.SagaLog) (any, error) { return l.SECRenew(ctx, secA, now.Add(time.Minute)) }},
		{"adopt early", func(l datastore.SagaLog) (any, error) { return l.SagaAdopt(ctx, secB, secA, now) }},
		{"adopt", func(l datastore.SagaLog) (any, error) { return l.SagaAdopt(ctx, secB, secA, now.Add(time.Hour)) }},
		{"the old owner appends", func(l datastore.SagaLog) (any, error) {
			return nil, l.SagaAppend(ctx, genA, rec.ID, ev("copy", datastore.EventSucceeded, nil, now, secA))
		}},
		{"recovered", func(l datastore.SagaLog) (any, error) { return l.SagaRecoveryAttempt(ctx, genB, rec.ID) }},
		{"unwinding", func(l datastore.SagaLog) (any, error) {
			return nil, l.SagaSetState(ctx, genB, rec.ID, datastore.SagaUnwinding)
		}},
		{"stalled", func(l datastore.SagaLog) (any, error) { return l.SagaListStalled(ctx, now.Add(time.Nanosecond)) }},
		{"unfinished", func(l datastore.SagaLog) (any, error) { return l.SagaListUnfinished(ctx, secB) }},
		{"abandon", func(l datastore.SagaLog) (any, error) {
			return nil, l.SagaAbandon(ctx, genB, rec.ID, datastore.AbandonArgs{Reason: datastore.AbandonUnrecoverable, Now: now})
		}},
		{"done after abandoned", func(l datastore.SagaLog) (any, error) {
			return nil, l.SagaSetState(ctx, genB, rec.ID, datastore.SagaDone)
		}},
		{"fetch", func(l datastore.SagaLog) (any, error) {
			r, evs, err := l.SagaFetch(ctx, rec.ID)
			return []any{r, evs}, err
		}},
	}
	pg, mem := fresh(t), datastore.NewMemory()
	for _, s := range steps {
		want, wantErr := s.do(mem)
		got, gotErr := s.do(pg)
		if !sameError(gotErr, wantErr) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: PostgreSQL answers\n\t%#v, %v\nMemory\n\t%#v, %v", s.name, got, gotErr, want, wantErr)
		}
	}
}

// sameError reports whether two errors are both nil or the same refusal.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// TestSagaLogRoundTrips: every operation of the saga log is one round
// trip to the server, a refused write too — the fence is in the write's
// own statement, and the row as it was, read beside it, says why.
func TestSagaLogRoundTrips(t *testing.T) {
	st, rt := traced(t)
	ctx := context.Background()
	sec := uuid.New()
	saga := func() datastore.SagaRecord {
		return datastore.SagaRecord{ID: uuid.New(), Name: "start", Params: []byte(`{}`), State: datastore.SagaRunning,
			Creator: sec, TimeCreated: t0, CurrentSEC: sec, AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	}
	node := 0
	ops := []struct {
		name string
		do   func(rec datastore.SagaRecord) error
	}{
		{"saga_create", func(datastore.SagaRecord) error { return st.SagaCreate(ctx, saga()) }},
		{"saga_create retried", func(rec datastore.SagaRecord) error { return st.SagaCreate(ctx, rec) }},
		{"saga_append (an outcome and the next start)", func(rec datastore.SagaRecord) error {
			node++
			return st.SagaAppend(ctx, rec.Fence(), rec.ID,
				datastore.NodeEvent{Saga: rec.ID, Node: string(rune('a' + node)), Type: datastore.EventSucceeded, Time: t0, Owner: sec},
				datastore.NodeEvent{Saga: rec.ID, Node: string(rune('b' + node)), Type: datastore.EventStarted, Time: t0, Owner: sec})
		}},
		{"saga_append refused (lost ownership)", func(rec datastore.SagaRecord) error {
			err := st.SagaAppend(ctx, datastore.Fence{SEC: uuid.New(), Generation: 1}, rec.ID,
				datastore.NodeEvent{Saga: rec.ID, Node: "x", Type: datastore.EventStarted, Time: t0})
			var de *datastore.Error
			if !errors.As(err, &de) || de.Kind != datastore.KindLostOwnership {
				t.Fatalf("a stranger's append: %v", err)
			}
			return nil
		}},
		{"saga_recovery_attempt", func(rec datastore.SagaRecord) error {
			_, err := st.SagaRecoveryAttempt(ctx, rec.Fence(), rec.ID)
			return err
		}},
		{"saga_set_state", func(rec datastore.SagaRecord) error {
			return st.SagaSetState(ctx, rec.Fence(), rec.ID, datastore.SagaUnwinding)
		}},
		{"saga_fetch", func(rec datastore.SagaRecord) error { _, _, err := st.SagaFetch(ctx, rec.ID); return err }},
		{"saga_list_unfinished", func(datastore.SagaRecord) error { _, err := st.SagaListUnfinished(ctx, sec); return err }},
		{"saga_list_stalled", func(datastore.SagaRecord) error { _, err := st.SagaListStalled(ctx, t0); return err }},
		{"sec_renew", func(datastore.SagaRecord) error { _, err := st.SECRenew(ctx, sec, t0); return err }},
		{"saga_adopt", func(datastore.SagaRecord) error { _, err := st.SagaAdopt(ctx, uuid.New(), uuid.New(), t0); return err }},
		{"saga_abandon", func(rec datastore.SagaRecord) error {
			return st.SagaAbandon(ctx, rec.Fence(), rec.ID, datastore.AbandonArgs{Reason: datastore.AbandonOrphaned, Now: t0})
		}},
	}
	for _, op := range ops {
		// Once on a saga of its own to prepare the statements, then counted.
		for i, rec := range []datastore.SagaRecord{saga(), saga()} {
			if err := st.SagaCreate(ctx, rec); err != nil {
				t.Fatal(err)
			}
			before := rt.n.Load()
			if err := op.do(rec); err != nil {
				t.Fatalf("%s: %v", op.name, err)
			}
			if n := rt.n.Load() - before; i == 1 && n != 1 {
				t.Errorf("%s: %d round trips, want 1", op.name, n)
			} else if i == 1 {
				t.Logf("%s: %d round trip", op.name, n)
			}
		}
	}
}

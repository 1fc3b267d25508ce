package datastore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
)

// newSaga creates a running saga of a fresh executor on m.
func newSaga(t *testing.T, m *datastore.Memory, name string) datastore.SagaRecord {
	t.Helper()
	sec := uuid.New()
	rec := datastore.SagaRecord{ID: uuid.New(), Name: name, State: datastore.SagaRunning, Creator: sec, TimeCreated: t0,
		CurrentSEC: sec, AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	if err := m.SagaCreate(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestSagaEnumsParseExactly: the saga log's enums parse their own wire
// strings — the values a store reads back from its rows — and nothing
// else: no case folding (they are vmlife's, not Omicron's folding parsers,
// D24). An abandon reason's zero, a saga never abandoned, prints as "".
func TestSagaEnumsParseExactly(t *testing.T) {
	check := func(kind string, names []string, parse func(string) (string, error)) {
		t.Helper()
		for _, n := range names {
			if got, err := parse(n); err != nil || got != n {
				t.Errorf("%s %q parses as %q, %v", kind, n, got, err)
			}
			if got, err := parse(strings.ToUpper(n)); err == nil {
				t.Errorf("%s %q parses as %q; want an error", kind, strings.ToUpper(n), got)
			}
		}
	}
	var states, types, reasons []string
	for _, s := range datastore.AllSagaStates() {
		states = append(states, s.String())
	}
	for _, e := range datastore.AllEventTypes() {
		types = append(types, e.String())
	}
	for _, r := range datastore.AllAbandonReasons() {
		reasons = append(reasons, r.String())
	}
	if diff := cmp.Diff([]string{"unrecoverable", "orphaned", "too_many_attempts"}, reasons); diff != "" {
		t.Errorf("abandon reasons (-want +got):\n%s", diff)
	}
	check("saga state", states, func(s string) (string, error) { v, err := datastore.ParseSagaState(s); return v.String(), err })
	check("event type", types, func(s string) (string, error) { v, err := datastore.ParseEventType(s); return v.String(), err })
	check("abandon reason", reasons, func(s string) (string, error) { v, err := datastore.ParseAbandonReason(s); return v.String(), err })
	if got := datastore.AbandonReason(0).String(); got != "" {
		t.Errorf("no abandon reason prints as %q, want \"\"", got)
	}
}

// TestSagaNameLength: a saga's name is 1 to 128 bytes (the column's
// bound); 128 is taken, 129 refused.
func TestSagaNameLength(t *testing.T) {
	m := datastore.NewMemory()
	newSaga(t, m, strings.Repeat("n", 128))
	sec := uuid.New()
	long := datastore.SagaRecord{ID: uuid.New(), Name: strings.Repeat("n", 129), State: datastore.SagaRunning, Creator: sec,
		TimeCreated: t0, CurrentSEC: sec, AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	if err := m.SagaCreate(context.Background(), long); !errors.Is(err, datastore.ErrInvalidRequest) {
		t.Fatalf("a 129-byte name: %v; want invalid_request", err)
	}
}

// TestNewEventsKeepsTheFirst: of the events of one write, NewEvents keeps
// the first of each (node, type), in order, times as a store keeps them —
// what pgstore writes, so a write that repeats an event within itself
// writes it once.
func TestNewEventsKeepsTheFirst(t *testing.T) {
	saga := uuid.New()
	at := t0.Add(1500 * time.Nanosecond)
	ev := func(node string, typ datastore.EventType, data string) datastore.NodeEvent {
		return datastore.NodeEvent{Saga: saga, Node: node, Type: typ, Data: []byte(data), Time: at}
	}
	got := datastore.NewEvents([]datastore.NodeEvent{
		ev("a", datastore.EventStarted, "1"), ev("a", datastore.EventSucceeded, "2"),
		ev("a", datastore.EventStarted, "3"), ev("b", datastore.EventStarted, "4"),
	})
	want := []datastore.NodeEvent{
		ev("a", datastore.EventStarted, "1"), ev("a", datastore.EventSucceeded, "2"), ev("b", datastore.EventStarted, "4"),
	}
	for i := range want {
		want[i].Time = datastore.StoreTime(at)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("NewEvents (-want +got):\n%s", diff)
	}
}

// TestSagaStateMoves: an executor moves a saga forward only. Setting the
// state it has is no error, even on a saga at rest; an abandoned saga is
// not set done (its log is closed, and its reason stays).
func TestSagaStateMoves(t *testing.T) {
	ctx := context.Background()
	m := datastore.NewMemory()
	done := newSaga(t, m, "start")
	for range 2 {
		if err := m.SagaSetState(ctx, done.Fence(), done.ID, datastore.SagaDone); err != nil {
			t.Fatalf("done, then done again: %v", err)
		}
	}
	gone := newSaga(t, m, "start")
	if err := m.SagaAbandon(ctx, gone.Fence(), gone.ID, datastore.AbandonArgs{Reason: datastore.AbandonOrphaned, Comment: "old", Now: t0}); err != nil {
		t.Fatal(err)
	}
	before, _, err := m.SagaFetch(ctx, gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []datastore.SagaState{datastore.SagaDone, datastore.SagaUnwinding} {
		if err := m.SagaSetState(ctx, gone.Fence(), gone.ID, to); !errors.Is(err, datastore.ErrConflict) {
			t.Errorf("abandoned, then %v: %v; want conflict", to, err)
		}
	}
	after, _, err := m.SagaFetch(ctx, gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("a refused move changed the saga (-before +after):\n%s", diff)
	}
}

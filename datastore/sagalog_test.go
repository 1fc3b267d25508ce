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

// TestSagaCreateRetry: an identical retry of SagaCreate — its answer lost —
// writes the events it carries as SagaAppend would; once another executor
// adopted the saga the retry is refused (lost ownership), and once the
// saga is done its log is closed (conflict), nothing written either way.
func TestSagaCreateRetry(t *testing.T) {
	ctx := context.Background()
	m := datastore.NewMemory()
	rec := newSaga(t, m, "start")
	ev := func(node string) datastore.NodeEvent {
		return datastore.NodeEvent{Saga: rec.ID, Node: node, Type: datastore.EventStarted, Time: t0, Owner: rec.CurrentSEC}
	}
	if err := m.SagaCreate(ctx, rec, ev("a"), ev("b")); err != nil {
		t.Fatalf("a retry with events: %v", err)
	}
	_, got, err := m.SagaFetch(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]datastore.NodeEvent{ev("a"), ev("b")}, got); diff != "" {
		t.Fatalf("the retry's events (-want +got):\n%s", diff)
	}

	done := newSaga(t, m, "start")
	if err := m.SagaSetState(ctx, done.Fence(), done.ID, datastore.SagaDone); err != nil {
		t.Fatal(err)
	}
	event := ev("c")
	event.Saga = done.ID
	if err := m.SagaCreate(ctx, done, event); !errors.Is(err, datastore.ErrConflict) {
		t.Errorf("a retry of a done saga: %v; want conflict", err)
	}

	adopted := newSaga(t, m, "start")
	if _, err := m.SagaAdopt(ctx, uuid.New(), adopted.CurrentSEC, t0); err != nil {
		t.Fatal(err)
	}
	event.Saga = adopted.ID
	if err := m.SagaCreate(ctx, adopted, event); !errors.Is(err, datastore.ErrLostOwnership) {
		t.Errorf("a retry of an adopted saga: %v; want lost_ownership", err)
	}
	for _, id := range []uuid.UUID{done.ID, adopted.ID} {
		if _, evs, err := m.SagaFetch(ctx, id); err != nil || len(evs) != 0 {
			t.Errorf("saga %v after a refused retry: %v, %v; want no events", id, evs, err)
		}
	}
}

// TestNewSagaRecordRules: a new saga is running, at adoption generation 1,
// never recovered nor abandoned; each of these broken alone is refused.
func TestNewSagaRecordRules(t *testing.T) {
	ctx := context.Background()
	m := datastore.NewMemory()
	sec := uuid.New()
	good := datastore.SagaRecord{Name: "start", State: datastore.SagaRunning, Creator: sec, TimeCreated: t0,
		CurrentSEC: sec, AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	for what, broken := range map[string]func(*datastore.SagaRecord){
		"unwinding":         func(r *datastore.SagaRecord) { r.State = datastore.SagaUnwinding },
		"adopted":           func(r *datastore.SagaRecord) { r.AdoptGeneration = 2 },
		"recovered":         func(r *datastore.SagaRecord) { r.RecoveryAttempts = 1 },
		"abandoned":         func(r *datastore.SagaRecord) { r.AbandonReason = datastore.AbandonOrphaned },
		"without an owner":  func(r *datastore.SagaRecord) { r.CurrentSEC = uuid.Nil },
		"without a creator": func(r *datastore.SagaRecord) { r.Creator = uuid.Nil },
		"without a name":    func(r *datastore.SagaRecord) { r.Name = "" },
		"without an id":     func(r *datastore.SagaRecord) { r.ID = uuid.Nil },
	} {
		r := good
		r.ID = uuid.New()
		broken(&r)
		if err := m.SagaCreate(ctx, r); !errors.Is(err, datastore.ErrInvalidRequest) {
			t.Errorf("a new saga %s: %v; want invalid_request", what, err)
		}
	}
	if got, err := m.SagaListUnfinished(ctx, uuid.Nil); err != nil || len(got) != 0 {
		t.Errorf("refused sagas were written: %v, %v", got, err)
	}
}

// TestAdoptNeedsTwoExecutors: adopting takes two different executors,
// neither the nil UUID.
func TestAdoptNeedsTwoExecutors(t *testing.T) {
	ctx := context.Background()
	m := datastore.NewMemory()
	rec := newSaga(t, m, "start")
	sec := uuid.New()
	for what, pair := range map[string][2]uuid.UUID{
		"to nobody": {uuid.Nil, rec.CurrentSEC}, "from nobody": {sec, uuid.Nil}, "from itself": {rec.CurrentSEC, rec.CurrentSEC},
	} {
		if ids, err := m.SagaAdopt(ctx, pair[0], pair[1], t0); !errors.Is(err, datastore.ErrInvalidRequest) {
			t.Errorf("adopting %s: %v, %v; want invalid_request", what, ids, err)
		}
	}
	got, _, err := m.SagaFetch(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fence() != rec.Fence() {
		t.Errorf("a refused adoption moved the saga: %+v", got.Fence())
	}
}

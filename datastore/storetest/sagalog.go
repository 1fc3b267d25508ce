package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
)

// OpenLog returns an empty saga log for one test.
type OpenLog func(t *testing.T) datastore.SagaLog

// RunSagaLog runs the saga log's conformance suite (D26, D27) against the
// logs open makes: idempotent creation and events (D29), the fence that
// refuses an executor that lost a saga, state moves, leases and adoption
// only once a lease has expired, abandoning with the reason, the fleet
// queries, and goroutines racing adoption and event writes.
func RunSagaLog(t *testing.T, open OpenLog) {
	for _, c := range logCases {
		t.Run(c.name, func(t *testing.T) {
			c.run(&logFixture{t: t, log: open(t), ctx: context.Background()})
		})
	}
}

var logCases = []struct {
	name string
	run  func(*logFixture)
}{
	{"D29/CreateIsIdempotent", testSagaCreate},
	{"D26/EventsAreIdempotentAndKeptInOrder", testSagaEvents},
	{"D27/AWriterThatLostTheSagaIsRefused", testSagaFence},
	{"D26/StatesMoveForward", testSagaStates},
	{"D26/EventsWrittenWithCreationAndState", testSagaEventsWithCreationAndState},
	{"D27/AdoptionOnlyAfterTheLeaseExpired", testSagaAdopt},
	{"D26/AbandonedWithTheReason", testSagaAbandon},
	{"D30/StalledSagas", testSagaStalled},
	{"D27/RacingAdoptersAndWriters", testSagaRaces},
}

type logFixture struct {
	t   *testing.T
	log datastore.SagaLog
	ctx context.Context
	n   uint64
}

func (f *logFixture) id(kind byte) uuid.UUID {
	f.n++
	var u uuid.UUID
	u[0], u[6], u[8], u[15], u[14] = kind, 0x40, 0x80, byte(f.n), byte(f.n>>8)
	return u
}

func (f *logFixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("unexpected error: %v", err)
	}
}

func (f *logFixture) wantKind(what string, err error, kind datastore.ErrorKind) {
	f.t.Helper()
	var de *datastore.Error
	if !errors.As(err, &de) || de.Kind != kind {
		f.t.Errorf("%s: %v; want a %v error", what, err, kind)
	}
}

// saga creates a running saga owned by sec at t0.
func (f *logFixture) saga(sec uuid.UUID) datastore.SagaRecord {
	f.t.Helper()
	rec := datastore.SagaRecord{ID: f.id('g'), Name: "start", Params: []byte(`{"saga":{}}`), State: datastore.SagaRunning,
		Creator: sec, TimeCreated: t0, CurrentSEC: sec, AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	f.must(f.log.SagaCreate(f.ctx, rec))
	return rec
}

func event(saga uuid.UUID, node string, t datastore.EventType, at time.Time, owner uuid.UUID) datastore.NodeEvent {
	return datastore.NodeEvent{Saga: saga, Node: node, Type: t, Data: []byte(`{"n":"` + node + `"}`), Time: at, Owner: owner}
}

// events returns the saga's log as (node, type) pairs.
func (f *logFixture) events(saga uuid.UUID) []string {
	f.t.Helper()
	_, evs, err := f.log.SagaFetch(f.ctx, saga)
	f.must(err)
	var out []string
	for _, e := range evs {
		out = append(out, e.Node+":"+e.Type.String())
	}
	return out
}

func testSagaCreate(f *logFixture) {
	sec := f.id('e')
	rec := f.saga(sec)
	f.must(f.log.SagaCreate(f.ctx, rec)) // an identical retry
	other := rec
	other.Params = []byte(`{"saga":{"other":true}}`)
	f.wantKind("another saga under a used id", f.log.SagaCreate(f.ctx, other), datastore.KindConflict)
	got, evs, err := f.log.SagaFetch(f.ctx, rec.ID)
	f.must(err)
	if string(got.Params) != string(rec.Params) || got.State != datastore.SagaRunning || got.CurrentSEC != sec ||
		got.AdoptGeneration != 1 || !got.TimeCreated.Equal(t0) || len(evs) != 0 {
		f.t.Errorf("fetched %+v with %d events", got, len(evs))
	}
	for _, bad := range []func(*datastore.SagaRecord){
		func(r *datastore.SagaRecord) { r.ID = uuid.Nil },
		func(r *datastore.SagaRecord) { r.Name = "" },
		func(r *datastore.SagaRecord) { r.CurrentSEC = uuid.Nil },
		func(r *datastore.SagaRecord) { r.State = datastore.SagaDone },
		func(r *datastore.SagaRecord) { r.AdoptGeneration = 2 },
	} {
		r := rec
		r.ID = f.id('g')
		bad(&r)
		f.wantKind("an invalid new saga", f.log.SagaCreate(f.ctx, r), datastore.KindInvalidRequest)
	}
	_, _, err = f.log.SagaFetch(f.ctx, f.id('g'))
	f.wantKind("fetching no saga", err, datastore.KindNotFound)
}

func testSagaEvents(f *logFixture) {
	sec := f.id('e')
	rec := f.saga(sec)
	fence := rec.Fence()
	f.must(f.log.SagaAppend(f.ctx, fence, rec.ID, event(rec.ID, "a", datastore.EventStarted, t0, sec)))
	f.must(f.log.SagaAppend(f.ctx, fence, rec.ID,
		event(rec.ID, "a", datastore.EventSucceeded, t0, sec), event(rec.ID, "b", datastore.EventStarted, t0, sec)))
	// A retried write: nothing new.
	f.must(f.log.SagaAppend(f.ctx, fence, rec.ID, event(rec.ID, "a", datastore.EventSucceeded, t0.Add(time.Hour), sec)))
	want := []string{"a:started", "a:succeeded", "b:started"}
	if got := f.events(rec.ID); !slices.Equal(got, want) {
		f.t.Errorf("log %v; want %v", got, want)
	}
	_, evs, err := f.log.SagaFetch(f.ctx, rec.ID)
	f.must(err)
	if string(evs[1].Data) != `{"n":"a"}` || !evs[1].Time.Equal(t0) || evs[1].Owner != sec {
		f.t.Errorf("the retry changed the first write: %+v", evs[1])
	}
	f.wantKind("an event of another saga", f.log.SagaAppend(f.ctx, fence, rec.ID, event(f.id('g'), "c", datastore.EventStarted, t0, sec)), datastore.KindInvalidRequest)
	f.wantKind("an event of no type", f.log.SagaAppend(f.ctx, fence, rec.ID, event(rec.ID, "c", 0, t0, sec)), datastore.KindInvalidRequest)
	f.wantKind("events of no saga", f.log.SagaAppend(f.ctx, fence, f.id('g')), datastore.KindNotFound)
	if got := f.events(rec.ID); !slices.Equal(got, want) {
		f.t.Errorf("after refused writes, log %v; want %v", got, want)
	}
}

func testSagaFence(f *logFixture) {
	sec, other := f.id('e'), f.id('e')
	rec := f.saga(sec)
	for _, fence := range []datastore.Fence{{SEC: other, Generation: 1}, {SEC: sec, Generation: 2}, {SEC: sec, Generation: 0}} {
		err := f.log.SagaAppend(f.ctx, fence, rec.ID, event(rec.ID, "a", datastore.EventStarted, t0, fence.SEC))
		if !errors.Is(err, datastore.ErrLostOwnership) {
			f.t.Errorf("append with fence %+v: %v; want ErrLostOwnership", fence, err)
		}
		f.wantKind("set state by a stranger", f.log.SagaSetState(f.ctx, fence, rec.ID, datastore.SagaDone), datastore.KindLostOwnership)
		_, err = f.log.SagaRecoveryAttempt(f.ctx, fence, rec.ID)
		f.wantKind("a recovery by a stranger", err, datastore.KindLostOwnership)
		f.wantKind("abandoned by a stranger", f.log.SagaAbandon(f.ctx, fence, rec.ID, datastore.AbandonArgs{Reason: datastore.AbandonUnrecoverable, Comment: "x", Now: t0}), datastore.KindLostOwnership)
	}
	got, evs, err := f.log.SagaFetch(f.ctx, rec.ID)
	f.must(err)
	if len(evs) != 0 || got.State != datastore.SagaRunning || got.RecoveryAttempts != 0 {
		f.t.Errorf("refused writes wrote: %+v, %d events", got, len(evs))
	}
	n, err := f.log.SagaRecoveryAttempt(f.ctx, rec.Fence(), rec.ID)
	f.must(err)
	if n != 1 {
		f.t.Errorf("first recovery attempt counted %d", n)
	}
}

func testSagaStates(f *logFixture) {
	sec := f.id('e')
	rec := f.saga(sec)
	fence := rec.Fence()
	f.must(f.log.SagaSetState(f.ctx, fence, rec.ID, datastore.SagaUnwinding))
	f.must(f.log.SagaSetState(f.ctx, fence, rec.ID, datastore.SagaUnwinding))
	f.must(f.log.SagaSetState(f.ctx, fence, rec.ID, datastore.SagaDone))
	f.wantKind("back to unwinding", f.log.SagaSetState(f.ctx, fence, rec.ID, datastore.SagaUnwinding), datastore.KindConflict)
	f.wantKind("to running", f.log.SagaSetState(f.ctx, fence, rec.ID, datastore.SagaRunning), datastore.KindInvalidRequest)
	f.wantKind("an event after done", f.log.SagaAppend(f.ctx, fence, rec.ID, event(rec.ID, "a", datastore.EventStarted, t0, sec)), datastore.KindConflict)
	if recs, err := f.log.SagaListUnfinished(f.ctx, sec); err != nil || len(recs) != 0 {
		f.t.Errorf("unfinished after done: %v, %v", recs, err)
	}
}

func testSagaAdopt(f *logFixture) {
	a, b := f.id('e'), f.id('e')
	s1, s2, done := f.saga(a), f.saga(a), f.saga(a)
	f.must(f.log.SagaSetState(f.ctx, done.Fence(), done.ID, datastore.SagaDone))
	exp, err := f.log.SECRenew(f.ctx, a, at(10))
	f.must(err)
	if back, err := f.log.SECRenew(f.ctx, a, at(5)); err != nil || !back.Equal(exp) {
		f.t.Errorf("a lease moved back: %v, %v; want %v", back, err, exp)
	}
	_, err = f.log.SagaAdopt(f.ctx, b, a, at(9))
	f.wantKind("adopting while the lease holds", err, datastore.KindConflict)
	if recs, _ := f.log.SagaListUnfinished(f.ctx, a); len(recs) != 2 {
		f.t.Errorf("a refused adoption moved sagas: %d left to a", len(recs))
	}
	ids, err := f.log.SagaAdopt(f.ctx, b, a, at(10))
	f.must(err)
	want := []uuid.UUID{s1.ID, s2.ID}
	slices.SortFunc(want, func(x, y uuid.UUID) int { return compareUUID(x, y) })
	if !slices.Equal(ids, want) {
		f.t.Errorf("adopted %v; want %v", ids, want)
	}
	for _, id := range ids {
		rec, _, err := f.log.SagaFetch(f.ctx, id)
		f.must(err)
		if rec.CurrentSEC != b || rec.AdoptGeneration != 2 || !rec.AdoptTime.Equal(at(10)) || rec.Creator != a {
			f.t.Errorf("adopted saga: %+v", rec)
		}
		if err := f.log.SagaAppend(f.ctx, datastore.Fence{SEC: a, Generation: 1}, id, event(id, "x", datastore.EventStarted, t0, a)); !errors.Is(err, datastore.ErrLostOwnership) {
			f.t.Errorf("the old owner's write after adoption: %v", err)
		}
		f.must(f.log.SagaAppend(f.ctx, rec.Fence(), id, event(id, "x", datastore.EventStarted, t0, b)))
	}
	if rec, _, _ := f.log.SagaFetch(f.ctx, done.ID); rec.CurrentSEC != a {
		f.t.Errorf("a finished saga was adopted: %+v", rec)
	}
	// Never leased: adoptable at once; nothing to adopt is no error.
	c := f.id('e')
	if ids, err := f.log.SagaAdopt(f.ctx, c, f.id('e'), t0); err != nil || len(ids) != 0 {
		f.t.Errorf("adopting from an executor with nothing: %v, %v", ids, err)
	}
	_, err = f.log.SagaAdopt(f.ctx, c, c, t0)
	f.wantKind("adopting from oneself", err, datastore.KindInvalidRequest)
	mine, err := f.log.SagaListUnfinished(f.ctx, b)
	f.must(err)
	all, err := f.log.SagaListUnfinished(f.ctx, uuid.Nil)
	f.must(err)
	if len(mine) != 2 || len(all) != 2 {
		f.t.Errorf("unfinished: %d of b's, %d of all; want 2 and 2", len(mine), len(all))
	}
}

func compareUUID(a, b uuid.UUID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

func testSagaAbandon(f *logFixture) {
	sec := f.id('e')
	rec := f.saga(sec)
	f.must(f.log.SagaAbandon(f.ctx, rec.Fence(), rec.ID, datastore.AbandonArgs{Reason: datastore.AbandonTooManyAttempts, Comment: "recovered 10 times", Now: at(3)}))
	got, _, err := f.log.SagaFetch(f.ctx, rec.ID)
	f.must(err)
	if got.State != datastore.SagaAbandoned || got.AbandonReason != datastore.AbandonTooManyAttempts ||
		got.AbandonComment != "recovered 10 times" || !got.AbandonTime.Equal(at(3)) {
		f.t.Errorf("abandoned: %+v", got)
	}
	f.wantKind("abandoned twice", f.log.SagaAbandon(f.ctx, rec.Fence(), rec.ID, datastore.AbandonArgs{Reason: datastore.AbandonOrphaned, Now: at(4)}), datastore.KindConflict)
	f.wantKind("no reason", f.log.SagaAbandon(f.ctx, f.saga(sec).Fence(), rec.ID, datastore.AbandonArgs{Now: at(4)}), datastore.KindInvalidRequest)
}

func testSagaStalled(f *logFixture) {
	sec := f.id('e')
	quiet, busy, fresh := f.saga(sec), f.saga(sec), f.saga(sec)
	f.must(f.log.SagaAppend(f.ctx, quiet.Fence(), quiet.ID, event(quiet.ID, "a", datastore.EventStarted, at(1), sec)))
	f.must(f.log.SagaAppend(f.ctx, busy.Fence(), busy.ID, event(busy.ID, "a", datastore.EventStarted, at(1), sec)))
	f.must(f.log.SagaAppend(f.ctx, busy.Fence(), busy.ID, event(busy.ID, "a", datastore.EventSucceeded, at(20), sec)))
	_ = fresh // no event: stalled since its creation, t0
	got, err := f.log.SagaListStalled(f.ctx, at(10))
	f.must(err)
	var ids []uuid.UUID
	for _, s := range got {
		ids = append(ids, s.Saga.ID)
		if s.Saga.ID == quiet.ID && (s.Last.Node != "a" || s.Last.Type != datastore.EventStarted || !s.Since.Equal(at(1))) {
			f.t.Errorf("the quiet saga: %+v", s)
		}
		if s.Saga.ID == fresh.ID && (!s.Since.Equal(t0) || s.Last.Type != 0) {
			f.t.Errorf("the saga with no event: %+v", s)
		}
	}
	if len(ids) != 2 || !slices.Contains(ids, quiet.ID) || !slices.Contains(ids, fresh.ID) {
		f.t.Errorf("stalled before minute 10: %v; want the quiet one and the one with no event", ids)
	}
}

// testSagaRaces: adopters race for one executor's sagas, exactly one wins
// each, at generation 2; writers race one event, one copy is kept; the
// loser of an adoption race and the old owner are refused.
func testSagaRaces(f *logFixture) {
	const n = 8
	a := f.id('e')
	rec := f.saga(a)
	adopters := make([]uuid.UUID, n)
	for i := range adopters {
		adopters[i] = f.id('e')
	}
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids, err := f.log.SagaAdopt(f.ctx, adopters[i], a, t0)
			won[i], errs[i] = len(ids) == 1, err
		}()
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			f.t.Errorf("adopter %d: %v", i, errs[i])
		}
		if won[i] {
			if winner >= 0 {
				f.t.Errorf("adopters %d and %d both adopted the saga", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		f.t.Fatal("no adopter won")
	}
	got, _, err := f.log.SagaFetch(f.ctx, rec.ID)
	f.must(err)
	if got.CurrentSEC != adopters[winner] || got.AdoptGeneration != 2 {
		f.t.Errorf("after the race: %+v", got)
	}
	// Everyone writes the same event: the owner's one copy stands, every
	// other writer is refused.
	accepted := make([]bool, n+1)
	for i := range n + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fence := datastore.Fence{SEC: a, Generation: 1}
			if i < n {
				fence = datastore.Fence{SEC: adopters[i], Generation: 2}
			}
			err := f.log.SagaAppend(f.ctx, fence, rec.ID, event(rec.ID, "a", datastore.EventStarted, t0, fence.SEC))
			switch {
			case err == nil:
				accepted[i] = true
			case !errors.Is(err, datastore.ErrLostOwnership):
				f.t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for i, ok := range accepted {
		if ok != (i == winner) {
			f.t.Errorf("writer %d accepted %v; only the owner, %d, may write", i, ok, winner)
		}
	}
	if evs := f.events(rec.ID); len(evs) != 1 {
		f.t.Errorf("log after the race: %v; want one event", evs)
	}
}

// testSagaEventsWithCreationAndState: the first events go in with the
// saga's record, the last with its state, each in one write; a refused
// creation or state change writes none of its events.
func testSagaEventsWithCreationAndState(f *logFixture) {
	sec := f.id('e')
	rec := datastore.SagaRecord{ID: f.id('g'), Name: "start", Params: []byte(`{"saga":{}}`), State: datastore.SagaRunning,
		Creator: sec, TimeCreated: t0, CurrentSEC: sec, AdoptGeneration: 1, AdoptTime: t0, Version: 1}
	first := event(rec.ID, "a", datastore.EventStarted, t0, sec)
	f.must(f.log.SagaCreate(f.ctx, rec, first))
	f.must(f.log.SagaCreate(f.ctx, rec, first)) // an identical retry, its event kept once
	if got := f.events(rec.ID); !slices.Equal(got, []string{"a:started"}) {
		f.t.Errorf("after creation with its first event: %v", got)
	}
	other := rec
	other.Params = []byte(`{"saga":{"other":true}}`)
	f.wantKind("another saga under a used id, with events", f.log.SagaCreate(f.ctx, other, event(rec.ID, "z", datastore.EventStarted, t0, sec)), datastore.KindConflict)
	f.wantKind("a stranger's state change with events", f.log.SagaSetState(f.ctx, datastore.Fence{SEC: f.id('e'), Generation: 1}, rec.ID,
		datastore.SagaDone, event(rec.ID, "y", datastore.EventStarted, t0, sec)), datastore.KindLostOwnership)
	if got := f.events(rec.ID); !slices.Equal(got, []string{"a:started"}) {
		f.t.Errorf("refused writes wrote events: %v", got)
	}
	f.must(f.log.SagaSetState(f.ctx, rec.Fence(), rec.ID, datastore.SagaDone, event(rec.ID, "a", datastore.EventSucceeded, at(1), sec)))
	got, evs, err := f.log.SagaFetch(f.ctx, rec.ID)
	f.must(err)
	if got.State != datastore.SagaDone || len(evs) != 2 || evs[1].Node != "a" || evs[1].Type != datastore.EventSucceeded {
		f.t.Errorf("after the last outcome with the state: %v, %v", got.State, f.events(rec.ID))
	}
	f.wantKind("events after done", f.log.SagaSetState(f.ctx, rec.Fence(), rec.ID, datastore.SagaDone, event(rec.ID, "b", datastore.EventStarted, t0, sec)), datastore.KindConflict)
}

package datastore

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The in-memory saga log: the sagas, their events in the order written,
// and the executors' leases, under the store's one mutex, beside the
// records the sagas change.
type memSagaLog struct {
	sagas map[uuid.UUID]*memSaga
	// unfinished are the sagas running or unwinding: what recovery,
	// adoption and the stall detector read, where sagas holds every saga
	// the log ever held.
	unfinished map[uuid.UUID]*memSaga
	leases     map[uuid.UUID]time.Time
}

// track keeps s in the unfinished sagas while it is one.
func (l *memSagaLog) track(s *memSaga) {
	if s.rec.Unfinished() {
		l.unfinished[s.rec.ID] = s
	} else {
		delete(l.unfinished, s.rec.ID)
	}
}

type memSaga struct {
	rec    SagaRecord
	events []NodeEvent
	seen   map[eventKey]bool
}

type eventKey struct {
	node string
	typ  EventType
}

var _ SagaLog = (*Memory)(nil)

// sagaLog returns the log, made on first use (the zero log holds nothing).
func (m *Memory) sagaLog() *memSagaLog {
	if m.log.sagas == nil {
		m.log.sagas = make(map[uuid.UUID]*memSaga)
		m.log.unfinished = make(map[uuid.UUID]*memSaga)
		m.log.leases = make(map[uuid.UUID]time.Time)
	}
	return &m.log
}

func cloneEvent(e NodeEvent) NodeEvent {
	e.Data = bytes.Clone(e.Data)
	return e
}

// SagaCreate implements SagaLog.
func (m *Memory) SagaCreate(ctx context.Context, rec SagaRecord, events ...NodeEvent) error {
	const op = "saga_create"
	if err := CheckSagaRecord(op, rec); err != nil {
		return err
	}
	if err := CheckEvents(op, rec.ID, events); err != nil {
		return err
	}
	rec = StoreSagaRecord(rec)
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	l := m.sagaLog()
	s, ok := l.sagas[rec.ID]
	if ok {
		if err := CheckSagaRetry(op, s.rec, rec); err != nil {
			return err
		}
		if s, err := l.owned(op, rec.Fence(), rec.ID); err != nil {
			return err
		} else if err := CheckUnfinished(op, s.rec); err != nil {
			return err
		}
	} else {
		rec.Params = bytes.Clone(rec.Params)
		s = &memSaga{rec: rec, seen: map[eventKey]bool{}}
		l.sagas[rec.ID] = s
		l.track(s)
	}
	s.append(events)
	return nil
}

// append adds the events the log does not hold yet, in order.
func (s *memSaga) append(events []NodeEvent) {
	for _, e := range NewEvents(events) {
		k := eventKey{e.Node, e.Type}
		if !s.seen[k] {
			s.seen[k] = true
			s.events = append(s.events, e)
		}
	}
}

// owned returns the saga f holds, or the refusal.
func (l *memSagaLog) owned(op string, f Fence, id uuid.UUID) (*memSaga, error) {
	s, ok := l.sagas[id]
	var stored *SagaRecord
	if ok {
		stored = &s.rec
	}
	if err := CheckFence(op, id, stored, f); err != nil {
		return nil, err
	}
	return s, nil
}

// SagaAppend implements SagaLog.
func (m *Memory) SagaAppend(ctx context.Context, f Fence, saga uuid.UUID, events ...NodeEvent) error {
	const op = "saga_append"
	if err := CheckEvents(op, saga, events); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	s, err := m.sagaLog().owned(op, f, saga)
	if err != nil {
		return err
	}
	if err := CheckUnfinished(op, s.rec); err != nil {
		return err
	}
	s.append(events)
	return nil
}

// SagaSetState implements SagaLog.
func (m *Memory) SagaSetState(ctx context.Context, f Fence, saga uuid.UUID, state SagaState, events ...NodeEvent) error {
	const op = "saga_set_state"
	if err := CheckSagaState(op, state); err != nil {
		return err
	}
	if err := CheckEvents(op, saga, events); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	s, err := m.sagaLog().owned(op, f, saga)
	if err != nil {
		return err
	}
	if err := CheckStateMove(op, s.rec.State, state); err != nil {
		return err
	}
	if len(events) > 0 {
		if err := CheckUnfinished(op, s.rec); err != nil {
			return err
		}
	}
	s.append(events)
	s.rec.State = state
	m.log.track(s)
	return nil
}

// SagaRecoveryAttempt implements SagaLog.
func (m *Memory) SagaRecoveryAttempt(ctx context.Context, f Fence, saga uuid.UUID) (int, error) {
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	s, err := m.sagaLog().owned("saga_recovery_attempt", f, saga)
	if err != nil {
		return 0, err
	}
	s.rec.RecoveryAttempts++
	return s.rec.RecoveryAttempts, nil
}

// SagaAbandon implements SagaLog.
func (m *Memory) SagaAbandon(ctx context.Context, f Fence, saga uuid.UUID, p AbandonArgs) error {
	reason, comment, now := p.Reason, p.Comment, p.Now
	const op = "saga_abandon"
	if err := CheckAbandonReason(op, reason); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	s, err := m.sagaLog().owned(op, f, saga)
	if err != nil {
		return err
	}
	if err := CheckUnfinished(op, s.rec); err != nil {
		return err
	}
	s.rec.State, s.rec.AbandonReason, s.rec.AbandonComment, s.rec.AbandonTime = SagaAbandoned, reason, comment, StoreTime(now)
	m.log.track(s)
	return nil
}

// SagaFetch implements SagaLog.
func (m *Memory) SagaFetch(ctx context.Context, saga uuid.UUID) (SagaRecord, []NodeEvent, error) {
	if err := m.lock(ctx); err != nil {
		return SagaRecord{}, nil, err
	}
	defer m.mu.Unlock()
	s, ok := m.sagaLog().sagas[saga]
	if !ok {
		return SagaRecord{}, nil, refuse("saga_fetch", KindNotFound, "no saga %v", saga)
	}
	rec := s.rec
	rec.Params = bytes.Clone(rec.Params)
	events := make([]NodeEvent, len(s.events))
	for i, e := range s.events {
		events[i] = cloneEvent(e)
	}
	return rec, events, nil
}

// SagaListUnfinished implements SagaLog.
func (m *Memory) SagaListUnfinished(ctx context.Context, sec uuid.UUID) ([]SagaRecord, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	// Sorted as pointers, then copied: a record is a few hundred bytes.
	var list []*memSaga
	for _, s := range m.sagaLog().unfinished {
		if sec == uuid.Nil || s.rec.CurrentSEC == sec {
			list = append(list, s)
		}
	}
	slices.SortFunc(list, func(a, b *memSaga) int { return bytes.Compare(a.rec.ID[:], b.rec.ID[:]) })
	out := make([]SagaRecord, len(list))
	for i, s := range list {
		out[i] = s.rec
		out[i].Params = bytes.Clone(s.rec.Params)
	}
	return out, nil
}

// SagaListStalled implements SagaLog.
func (m *Memory) SagaListStalled(ctx context.Context, before time.Time) ([]StalledSaga, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var out []StalledSaga
	for _, s := range m.sagaLog().unfinished {
		st := StalledSaga{Saga: s.rec, Since: s.rec.TimeCreated}
		if n := len(s.events); n > 0 {
			st.Last = cloneEvent(s.events[n-1])
			st.Since = st.Last.Time
		}
		if st.Since.Before(before) {
			st.Saga.Params = bytes.Clone(st.Saga.Params)
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b StalledSaga) int { return bytes.Compare(a.Saga.ID[:], b.Saga.ID[:]) })
	return out, nil
}

// SECRenew implements SagaLog.
func (m *Memory) SECRenew(ctx context.Context, sec uuid.UUID, expires time.Time) (time.Time, error) {
	if err := CheckSEC("sec_renew", sec); err != nil {
		return time.Time{}, err
	}
	expires = StoreTime(expires)
	if err := m.lock(ctx); err != nil {
		return time.Time{}, err
	}
	defer m.mu.Unlock()
	l := m.sagaLog()
	if cur := l.leases[sec]; cur.After(expires) {
		return cur, nil
	}
	l.leases[sec] = expires
	return expires, nil
}

// SagaAdopt implements SagaLog.
func (m *Memory) SagaAdopt(ctx context.Context, sec, from uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	const op = "saga_adopt"
	if err := CheckAdopters(op, sec, from); err != nil {
		return nil, err
	}
	now = StoreTime(now)
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	l := m.sagaLog()
	if err := CheckLease(op, from, l.leases[from], now); err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	for id, s := range l.unfinished {
		if s.rec.CurrentSEC == from {
			s.rec.CurrentSEC, s.rec.AdoptGeneration, s.rec.AdoptTime = sec, s.rec.AdoptGeneration+1, now
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return ids, nil
}

package sagas

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
)

// Stall is an unfinished saga that has not moved since Since (D30): which
// saga, on which instance, and the node it stopped at.
type Stall struct {
	Saga     uuid.UUID
	Kind     Kind
	Instance instancestate.ID // zero when the log cannot be read back
	Owner    uuid.UUID        // the executor that holds it
	// Node and Event are its last event ("" and 0 when it has none):
	// started means the node's action was running when the saga stopped.
	Node  string
	Event datastore.EventType
	Since time.Time
}

// Stalled lists the sagas of log that have not moved for longer than
// deadline at now (D30) — time passing is evidence of nothing but time:
// a stall is a reason to look (the owner's lease, its process), never to
// undo. A saga whose owner is alive and slow, and one whose owner died,
// look the same here; SEC.Adopt tells them apart by the lease.
func Stalled(ctx context.Context, log datastore.SagaLog, now time.Time, deadline time.Duration) ([]Stall, error) {
	stalled, err := log.SagaListStalled(ctx, now.Add(-deadline))
	if err != nil {
		return nil, err
	}
	out := make([]Stall, 0, len(stalled))
	for _, st := range stalled {
		s := Stall{Saga: st.Saga.ID, Owner: st.Saga.CurrentSEC, Node: st.Last.Node, Event: st.Last.Type, Since: st.Since}
		if k, err := ParseKind(st.Saga.Name); err == nil {
			s.Kind = k
			if d, _, err := fromParams(k, st.Saga.Params); err == nil {
				s.Instance = instanceOf(d)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// instanceOf returns the instance a saga works on.
func instanceOf(s Saga) instancestate.ID {
	switch s := s.(type) {
	case *Create:
		return s.Instance.ID
	case *Start:
		return s.Instance
	case *Migrate:
		return s.Instance
	case *Update:
		return s.Instance
	case *Delete:
		return s.Instance
	}
	return instancestate.ID{}
}

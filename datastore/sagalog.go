package datastore

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/internal/enum"
)

// SagaLog is the durable log of sagas (D26), kept in the same store as the
// records the sagas change: Omicron's saga and saga_node_event tables, and
// the leases of the executors that run them (D27). An executor
// (sagas.SEC) writes a node's started event before its action runs and
// its outcome after, so that whatever a dead process leaves, the next one
// finishes from the log.
//
// Every write that changes a saga — an event, its state, abandoning it —
// names the writer as a Fence: the executor and the adoption generation at
// which it holds the saga. A write whose fence no longer matches the
// saga's owner is refused with ErrLostOwnership, nothing written: an
// executor that was thought dead and wakes up cannot touch a saga another
// adopted (D27). Omicron leaves these writes unfenced.
//
// An implementation is safe for concurrent use. storetest.RunSagaLog
// checks one against all of this.
type SagaLog interface {
	// SagaCreate records a new saga, owned by rec.CurrentSEC at
	// generation 1, in state running, and its first events with it, in
	// one write (an executor's first node's start: one round trip fewer).
	// An identical retry (the same record, times as the store keeps them)
	// is no error, and writes the events as SagaAppend would; another
	// record under a used id is ErrConflict (D29), nothing written. A
	// record without an id, a name or an owner is ErrInvalidRequest.
	SagaCreate(ctx context.Context, rec SagaRecord, events ...NodeEvent) error
	// SagaAppend writes events of one saga, in order, in one write. An
	// event already written — the same (saga, node, event) — is kept as
	// it was: a retried write is idempotent. Refused with
	// ErrLostOwnership when f does not hold the saga, ErrNotFound when
	// there is no such saga, ErrInvalidRequest for an event of another
	// saga or of no known type.
	SagaAppend(ctx context.Context, f Fence, saga uuid.UUID, events ...NodeEvent) error
	// SagaSetState writes events as SagaAppend does, then moves the saga
	// to state (unwinding or done), in one write, fenced as SagaAppend:
	// the last node's outcome and the saga's rest go together. Setting
	// the state it has is no error.
	SagaSetState(ctx context.Context, f Fence, saga uuid.UUID, state SagaState, events ...NodeEvent) error
	// SagaRecoveryAttempt counts one more recovery of the saga, fenced,
	// and returns the count.
	SagaRecoveryAttempt(ctx context.Context, f Fence, saga uuid.UUID) (int, error)
	// SagaAbandon gives up on an unfinished saga: state abandoned, with
	// why and when (never silently). Fenced.
	SagaAbandon(ctx context.Context, f Fence, saga uuid.UUID, a AbandonArgs) error
	// SagaFetch reads a saga and its events, in the order written.
	SagaFetch(ctx context.Context, saga uuid.UUID) (SagaRecord, []NodeEvent, error)
	// SagaListUnfinished lists the running and unwinding sagas of sec (of
	// any executor when sec is zero), by id.
	SagaListUnfinished(ctx context.Context, sec uuid.UUID) ([]SagaRecord, error)
	// SagaListStalled lists the unfinished sagas whose last event (or,
	// with none, creation) is before before: sagas that have stopped
	// moving (D30), by id, each with its last event.
	SagaListStalled(ctx context.Context, before time.Time) ([]StalledSaga, error)

	// SECRenew sets sec's lease to expire at expires (a lease never moves
	// back: an earlier expiry keeps the later one) and returns it.
	SECRenew(ctx context.Context, sec uuid.UUID, expires time.Time) (time.Time, error)
	// SagaAdopt moves every unfinished saga of from to sec, one
	// generation on, in one write, and returns their ids in order — only
	// once from's lease has expired at now (an executor that never took a
	// lease holds none). While it holds: ErrConflict, nothing moved.
	// Adopting runs nothing; the adopter recovers what it adopted.
	SagaAdopt(ctx context.Context, sec, from uuid.UUID, now time.Time) ([]uuid.UUID, error)
}

// Fence names the writer of a saga: the executor and the adoption
// generation at which it holds the saga (D27).
type Fence struct {
	SEC        uuid.UUID
	Generation int64
}

// AbandonArgs is why and when SagaAbandon gives up on a saga: Reason
// (required), a Comment for the operator, and Now.
type AbandonArgs struct {
	Reason  AbandonReason
	Comment string
	Now     time.Time
}

// SagaRecord is a saga's row (Omicron's saga table, with vmlife's
// additions).
type SagaRecord struct {
	ID   uuid.UUID
	Name string // the saga's kind: create, start, migrate, update, delete
	// Params is the saga as it was created, in the executor's encoding.
	Params      []byte
	State       SagaState
	Creator     uuid.UUID // the executor that created it
	TimeCreated time.Time
	// CurrentSEC owns the saga; AdoptGeneration counts hand-overs from 1;
	// AdoptTime is when the last one happened (creation for none).
	CurrentSEC      uuid.UUID
	AdoptGeneration int64
	AdoptTime       time.Time
	// Version is the log format of the executor that created it: an
	// executor runs only the versions it knows, and abandons the rest.
	Version          int
	RecoveryAttempts int
	// Set exactly when the saga is abandoned.
	AbandonReason  AbandonReason
	AbandonComment string
	AbandonTime    time.Time
}

// Fence returns the fence of the saga's current owner.
func (r SagaRecord) Fence() Fence { return Fence{SEC: r.CurrentSEC, Generation: r.AdoptGeneration} }

// Unfinished reports whether the saga is running or unwinding.
func (r SagaRecord) Unfinished() bool { return r.State == SagaRunning || r.State == SagaUnwinding }

// SagaState is a saga's state (Omicron's saga_state enum).
type SagaState uint8

// The saga states.
const (
	SagaRunning   SagaState = iota + 1 // forward
	SagaUnwinding                      // a node failed: the undos run
	SagaDone                           // at rest: completed, unwound or stuck
	SagaAbandoned                      // given up, with the reason recorded
)

var sagaStates = enum.New[SagaState]("datastore.SagaState", false, "running", "unwinding", "done", "abandoned")

// String returns the state's wire string.
func (s SagaState) String() string { return sagaStates.String(s) }

// ParseSagaState returns the state named s.
func ParseSagaState(s string) (SagaState, error) { return sagaStates.Parse(s) }

// EventType is a node event's type (Omicron's saga_node_event types).
type EventType uint8

// The event types. A node's legal sequences: started, then succeeded or
// failed; a succeeded node later undo_started, then undo_finished or
// undo_failed.
const (
	EventStarted EventType = iota + 1
	EventSucceeded
	EventFailed
	EventUndoStarted
	EventUndoFinished
	EventUndoFailed
)

var eventTypes = enum.New[EventType]("datastore.EventType", false,
	"started", "succeeded", "failed", "undo_started", "undo_finished", "undo_failed")

// String returns the type's wire string.
func (e EventType) String() string { return eventTypes.String(e) }

// ParseEventType returns the event type named s.
func ParseEventType(s string) (EventType, error) { return eventTypes.Parse(s) }

// AllEventTypes returns every event type, in declaration order.
func AllEventTypes() []EventType { return eventTypes.All() }

// NodeEvent is one line of a saga's log (Omicron's saga_node_event).
type NodeEvent struct {
	Saga  uuid.UUID
	Node  string // the step's name
	Type  EventType
	Data  []byte // the executor's: an action's output, an error
	Time  time.Time
	Owner uuid.UUID // the executor that wrote it
}

// AbandonReason says why a saga was abandoned.
type AbandonReason uint8

// The reasons.
const (
	// AbandonUnrecoverable: its log or parameters cannot be read back, or
	// no executor writes a log like it.
	AbandonUnrecoverable AbandonReason = iota + 1
	// AbandonOrphaned: written by an executor version this one cannot run
	// (Omicron abandons an older version's sagas so).
	AbandonOrphaned
	// AbandonTooManyAttempts: recovered more times than the executor's
	// bound without coming to rest.
	AbandonTooManyAttempts
)

var abandonReasons = enum.New[AbandonReason]("datastore.AbandonReason", false, "unrecoverable", "orphaned", "too_many_attempts")

// String returns the reason's wire string, "" for none.
func (r AbandonReason) String() string {
	if r == 0 {
		return ""
	}
	return abandonReasons.String(r)
}

// StalledSaga is an unfinished saga that has not moved since Since (D30).
type StalledSaga struct {
	Saga  SagaRecord
	Since time.Time
	// Last is its last event; zero when it has none.
	Last NodeEvent
}

// ErrLostOwnership is a saga write by an executor that no longer holds the
// saga (D27): another adopted it. Nothing was written; the executor stops
// touching the saga.
var ErrLostOwnership = errors.New("lost ownership")

// The saga log's guards, as pure functions over its arguments and rows:
// every store calls these — Memory and pgstore alike — so that the stores
// answer alike and each rule has one home. Each takes op, the operation as
// `vmlife script` names it, for the refusal it returns.

// StoreSagaRecord returns rec as a store keeps it: times as StoreTime
// makes them.
func StoreSagaRecord(rec SagaRecord) SagaRecord {
	rec.TimeCreated, rec.AdoptTime, rec.AbandonTime = StoreTime(rec.TimeCreated), StoreTime(rec.AdoptTime), StoreTime(rec.AbandonTime)
	return rec
}

// AllSagaStates returns every saga state, in declaration order.
func AllSagaStates() []SagaState { return sagaStates.All() }

// AllAbandonReasons returns every abandon reason, in declaration order.
func AllAbandonReasons() []AbandonReason { return abandonReasons.All() }

// ParseAbandonReason returns the reason named s.
func ParseAbandonReason(s string) (AbandonReason, error) { return abandonReasons.Parse(s) }

// CheckSagaRecord refuses a new saga's record that no executor writes
// (SagaCreate): ErrInvalidRequest.
func CheckSagaRecord(op string, rec SagaRecord) error {
	switch {
	case rec.ID == uuid.Nil:
		return refuse(op, KindInvalidRequest, "a saga needs an id")
	case rec.Name == "" || len(rec.Name) > 128:
		return refuse(op, KindInvalidRequest, "saga name %q: 1 to 128 bytes", rec.Name)
	case rec.CurrentSEC == uuid.Nil || rec.Creator == uuid.Nil:
		return refuse(op, KindInvalidRequest, "a new saga needs its creator and owner")
	case rec.State != SagaRunning || rec.AdoptGeneration != 1 || rec.RecoveryAttempts != 0 || rec.AbandonReason != 0:
		return refuse(op, KindInvalidRequest, "a new saga is running, at adoption generation 1, never recovered or abandoned")
	}
	return nil
}

// CheckSagaRetry answers SagaCreate of rec under an id stored already
// names: nil when stored is rec as created (an idempotent retry, times as
// the store keeps them), else ErrConflict (D29).
func CheckSagaRetry(op string, stored, rec SagaRecord) error {
	if sameSagaRecord(stored, StoreSagaRecord(rec)) {
		return nil
	}
	return refuse(op, KindConflict, "saga %v already names another saga (D29)", rec.ID)
}

// sameSagaRecord reports whether two records are the same saga as
// created (an idempotent retry of SagaCreate).
func sameSagaRecord(stored, rec SagaRecord) bool {
	return stored.ID == rec.ID && stored.Name == rec.Name && bytes.Equal(stored.Params, rec.Params) &&
		stored.Creator == rec.Creator && stored.TimeCreated.Equal(rec.TimeCreated) && stored.Version == rec.Version
}

// CheckEvents refuses events that are not this saga's, of no known type
// or of no node (SagaAppend): ErrInvalidRequest.
func CheckEvents(op string, saga uuid.UUID, events []NodeEvent) error {
	for _, e := range events {
		switch {
		case e.Saga != saga:
			return refuse(op, KindInvalidRequest, "an event of saga %v in the log of %v", e.Saga, saga)
		case !eventTypes.Valid(e.Type):
			return refuse(op, KindInvalidRequest, "event type %d (accepted: %s)", e.Type, eventTypes.Accepted())
		case e.Node == "":
			return refuse(op, KindInvalidRequest, "an event without its node")
		}
	}
	return nil
}

// NewEvents returns the events of one SagaAppend that it writes, in order:
// the first of each (node, type), times as StoreTime makes them. An event
// written before is kept as it was, so a store skips those it holds.
func NewEvents(events []NodeEvent) []NodeEvent {
	out := make([]NodeEvent, 0, len(events))
	seen := make(map[eventKey]bool, len(events))
	for _, e := range events {
		k := eventKey{e.Node, e.Type}
		if seen[k] {
			continue
		}
		seen[k] = true
		e.Time = StoreTime(e.Time)
		e.Data = bytes.Clone(e.Data)
		out = append(out, e)
	}
	return out
}

// CheckSagaState refuses a state SagaSetState does not move a saga to:
// only unwinding and done (abandoned is SagaAbandon's).
func CheckSagaState(op string, state SagaState) error {
	if state != SagaUnwinding && state != SagaDone {
		return refuse(op, KindInvalidRequest, "state %v: a saga is moved to unwinding or done (abandoned by SagaAbandon)", state)
	}
	return nil
}

// CheckAbandonReason refuses SagaAbandon without a known reason.
func CheckAbandonReason(op string, reason AbandonReason) error {
	if !abandonReasons.Valid(reason) {
		return refuse(op, KindInvalidRequest, "abandon reason %d (accepted: %s)", reason, abandonReasons.Accepted())
	}
	return nil
}

// CheckSEC refuses the nil UUID as an executor's id (SECRenew).
func CheckSEC(op string, sec uuid.UUID) error {
	if sec == uuid.Nil {
		return refuse(op, KindInvalidRequest, "the executor's id is the nil UUID")
	}
	return nil
}

// CheckAdopters refuses SagaAdopt between executors that are not two
// different ones.
func CheckAdopters(op string, sec, from uuid.UUID) error {
	if sec == uuid.Nil || from == uuid.Nil || sec == from {
		return refuse(op, KindInvalidRequest, "adopting takes two different executors, neither the nil UUID")
	}
	return nil
}

// CheckFence is the guard of every write of a saga's log (D27): stored is
// the saga's row, nil when there is none (ErrNotFound); a writer whose
// fence is not the owner's is refused with ErrLostOwnership.
func CheckFence(op string, saga uuid.UUID, stored *SagaRecord, f Fence) error {
	switch {
	case stored == nil:
		return refuse(op, KindNotFound, "no saga %v", saga)
	case stored.Fence() != f:
		return refuse(op, KindLostOwnership, "saga %v belongs to executor %v at generation %d, not to %v at %d (D27)",
			stored.ID, stored.CurrentSEC, stored.AdoptGeneration, f.SEC, f.Generation)
	}
	return nil
}

// CheckUnfinished refuses a write only an unfinished saga takes — an
// event, abandoning it — on one that is done or abandoned: ErrConflict.
func CheckUnfinished(op string, rec SagaRecord) error {
	if rec.Unfinished() {
		return nil
	}
	return refuse(op, KindConflict, "saga %v is %v: its log is closed", rec.ID, rec.State)
}

// CheckStateMove refuses a state change no executor makes: a saga moves
// forward only (running → unwinding → done, or running → done).
func CheckStateMove(op string, from, to SagaState) error {
	if from == to || from == SagaRunning || from == SagaUnwinding && to == SagaDone {
		return nil
	}
	return refuse(op, KindConflict, "a saga that is %v does not become %v", from, to)
}

// CheckLease refuses adopting from's sagas at now while its lease, which
// expires at expires, holds: ErrConflict. The zero expires is no lease
// (an executor that never took one), adoptable at once.
func CheckLease(op string, from uuid.UUID, expires, now time.Time) error {
	if StoreTime(expires).After(StoreTime(now)) {
		return refuse(op, KindConflict, "executor %v holds its lease until %s", from, expires.Format(time.RFC3339Nano))
	}
	return nil
}

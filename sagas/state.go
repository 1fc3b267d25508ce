package sagas

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// A saga's state in its log (D26): what its steps have chosen and read so
// far, written with each node's outcome, so that a recovered saga reads the
// ids its first run chose and never chooses again. Each saga encodes
// exactly the fields its later steps and its undos read, as JSON of
// stable, named keys; a zero value is left out.

// durable is a saga whose state the executor can log and restore.
type durable interface {
	Saga
	// marshalState encodes the saga's state; restoreState sets it from
	// what marshalState wrote (for a saga of the same kind).
	marshalState() ([]byte, error)
	restoreState([]byte) error
}

// newSaga returns a zero saga of kind k, ready for restoreState.
func newSaga(k Kind) (durable, error) {
	switch k {
	case KindCreate:
		return new(Create), nil
	case KindStart:
		return new(Start), nil
	case KindMigrate:
		return new(Migrate), nil
	case KindUpdate:
		return new(Update), nil
	case KindDelete:
		return new(Delete), nil
	}
	return nil, fmt.Errorf("sagas: no saga of kind %v", k)
}

// text reads an enum's name for the log: "" for the zero value.
func text[T interface{ MarshalText() ([]byte, error) }](v T, valid bool) string {
	if !valid {
		return ""
	}
	b, _ := v.MarshalText()
	return string(b)
}

// parseText reads back what text wrote; "" is the zero value.
func parseText[T any](s string, parse func(string) (T, error)) (T, error) {
	var zero T
	if s == "" {
		return zero, nil
	}
	return parse(s)
}

type createState struct {
	Instance json.RawMessage `json:"instance"`
}

func (s *Create) marshalState() ([]byte, error) {
	in, err := json.Marshal(s.Instance)
	if err != nil {
		return nil, err
	}
	return json.Marshal(createState{Instance: in})
}

func (s *Create) restoreState(b []byte) error {
	var st createState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	return json.Unmarshal(st.Instance, &s.Instance)
}

type startState struct {
	Instance      uuid.UUID       `json:"instance"`
	Reason        string          `json:"reason,omitempty"`
	VMM           uuid.UUID       `json:"vmm,omitzero"`
	Sled          uuid.UUID       `json:"sled,omitzero"`
	Created       time.Time       `json:"created,omitzero"`
	Started       json.RawMessage `json:"started,omitempty"`
	Cause         string          `json:"cause,omitempty"`
	Conflict      bool            `json:"conflict,omitempty"`
	UnwindSkipped bool            `json:"unwind_skipped,omitempty"`
	Recorded      bool            `json:"recorded,omitempty"`
}

func (s *Start) marshalState() ([]byte, error) {
	st := startState{
		Instance: s.Instance.UUID(), Reason: text(s.Reason, s.Reason.IsValid()),
		VMM: s.VMM.UUID(), Sled: s.Sled.UUID(), Created: s.Created, Cause: text(s.Cause, s.Cause.IsValid()),
		Conflict: s.Conflict, UnwindSkipped: s.UnwindSkipped, Recorded: s.Recorded,
	}
	b, err := json.Marshal(st)
	if err != nil || s.Started.ID.IsZero() {
		return b, err
	}
	// The instance goes in last, encoded once: the log writes the state
	// after every node, and encoding/json would compact it again each time.
	if s.startedDoc == nil || s.startedOf != s.Started {
		if s.startedDoc, err = json.Marshal(s.Started); err != nil {
			s.startedDoc = nil
			return nil, err
		}
		s.startedOf = s.Started
	}
	b = append(b[:len(b)-1], `,"started":`...)
	b = append(b, s.startedDoc...)
	return append(b, '}'), nil
}

func (s *Start) restoreState(b []byte) error {
	var st startState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	reason, err := parseText(st.Reason, failure.ParseStartReason)
	if err != nil {
		return err
	}
	cause, err := parseText(st.Cause, failure.ParseCause)
	if err != nil {
		return err
	}
	*s = Start{Instance: vmmstate.InstanceIDFromUUID(st.Instance), Reason: reason,
		VMM: vmmstate.IDFromUUID(st.VMM), Sled: vmmstate.SledIDFromUUID(st.Sled), Created: st.Created, Cause: cause,
		Conflict: st.Conflict, UnwindSkipped: st.UnwindSkipped, Recorded: st.Recorded}
	if len(st.Started) > 0 {
		return json.Unmarshal(st.Started, &s.Started)
	}
	return nil
}

type migrateState struct {
	Instance    uuid.UUID `json:"instance"`
	Source      uuid.UUID `json:"source"`
	Destination uuid.UUID `json:"destination"`
	Target      uuid.UUID `json:"target,omitzero"`
	Migration   uuid.UUID `json:"migration,omitzero"`
	Created     time.Time `json:"created,omitzero"`
}

func (s *Migrate) marshalState() ([]byte, error) {
	return json.Marshal(migrateState{Instance: s.Instance.UUID(), Source: s.Source.UUID(),
		Destination: s.Destination.UUID(), Target: s.Target.UUID(), Migration: s.Migration.UUID(), Created: s.Created})
}

func (s *Migrate) restoreState(b []byte) error {
	var st migrateState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	*s = Migrate{Instance: vmmstate.InstanceIDFromUUID(st.Instance), Source: vmmstate.IDFromUUID(st.Source),
		Destination: vmmstate.SledIDFromUUID(st.Destination), Target: vmmstate.IDFromUUID(st.Target),
		Migration: migration.IDFromUUID(st.Migration), Created: st.Created}
	return nil
}

type deleteState struct {
	Instance uuid.UUID `json:"instance"`
	Deleted  bool      `json:"deleted,omitempty"`
}

func (s *Delete) marshalState() ([]byte, error) {
	return json.Marshal(deleteState{Instance: s.Instance.UUID(), Deleted: s.Deleted})
}

func (s *Delete) restoreState(b []byte) error {
	var st deleteState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	*s = Delete{Instance: vmmstate.InstanceIDFromUUID(st.Instance), Deleted: st.Deleted}
	return nil
}

// lockState is an updater lock in the log.
type lockState struct {
	Updater uuid.UUID `json:"updater,omitzero"`
	Gen     int64     `json:"gen,omitempty"`
}

func logLock(l instancestate.Lock) lockState {
	return lockState{Updater: l.Updater.UUID(), Gen: l.Gen.Int64()}
}

// lock reads the lock back; a zero lock (none held) reads back zero: the
// nil UUID is the zero updater id, 0 the zero generation.
func (l lockState) lock() (instancestate.Lock, error) {
	g, err := generation.FromInt64(l.Gen)
	return instancestate.Lock{Updater: instancestate.UpdaterIDFromUUID(l.Updater), Gen: g}, err
}

// updateState keeps the snapshot the plan was made from and the time it
// was made at; the plan is the pure function of the two
// (instancestate.PlanUpdate), made again on restore.
type updateState struct {
	Instance  uuid.UUID       `json:"instance"`
	Updater   uuid.UUID       `json:"updater,omitzero"`
	Child     uuid.UUID       `json:"child,omitzero"`
	Lock      lockState       `json:"lock,omitzero"`
	Parent    lockState       `json:"parent,omitzero"`
	Inherits  bool            `json:"inherits,omitempty"`
	Snapshot  json.RawMessage `json:"snapshot,omitempty"` // a snapshot document: "now" is when the plan was made
	Planned   bool            `json:"planned,omitempty"`  // the plan is PlanUpdate's, not cleared
	Committed bool            `json:"committed,omitempty"`
	Then      uint8           `json:"then,omitempty"`
}

func (s *Update) marshalState() ([]byte, error) {
	st := updateState{Instance: s.Instance.UUID(), Updater: s.Updater.UUID(), Child: s.Child.UUID(),
		Lock: logLock(s.Lock), Parent: logLock(s.parent), Inherits: s.inherits,
		Planned: s.Plan != (instancestate.Plan{}), Committed: s.Committed, Then: uint8(s.Then)}
	b, err := json.Marshal(st)
	if err != nil || s.Snapshot.Instance.ID.IsZero() {
		return b, err
	}
	// The snapshot document goes in last, as its own MarshalJSON wrote
	// it: encoding/json would compact it again at every node.
	doc := instancestate.Document{Now: s.planned, Snapshot: s.Snapshot}
	if s.doc == nil || s.docOf != doc {
		if s.doc, err = doc.MarshalJSON(); err != nil {
			s.doc = nil
			return nil, err
		}
		s.docOf = doc
	}
	b = append(b[:len(b)-1], `,"snapshot":`...)
	b = append(b, s.doc...)
	return append(b, '}'), nil
}

func (s *Update) restoreState(b []byte) error {
	var st updateState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	lock, err := st.Lock.lock()
	if err != nil {
		return err
	}
	parent, err := st.Parent.lock()
	if err != nil {
		return err
	}
	*s = Update{Instance: vmmstate.InstanceIDFromUUID(st.Instance),
		Updater: instancestate.UpdaterIDFromUUID(st.Updater), Child: instancestate.UpdaterIDFromUUID(st.Child),
		Lock: lock, parent: parent, inherits: st.Inherits,
		Committed: st.Committed, Then: Then(st.Then)}
	if len(st.Snapshot) == 0 {
		return nil
	}
	var doc instancestate.Document
	if err := json.Unmarshal(st.Snapshot, &doc); err != nil {
		return err
	}
	s.Snapshot, s.planned = doc.Snapshot, doc.Now
	if st.Planned {
		p, _, err := instancestate.PlanUpdate(doc.Snapshot, doc.Now)
		if err != nil {
			return err
		}
		s.Plan = p
	}
	return nil
}

package instancestate

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/vmmstate"
)

// Policy is what the liveness decisions read besides the records and the
// time (D30, D32–D36): how long each transient state may last before it is
// looked at, how automatic restarts back off, and what limits migrations.
// Its zero value is the defaults: deadlines on with the documented values,
// backoff off (Omicron's fixed cooldown), no migration limits or budgets.
type Policy struct {
	Deadlines Deadlines
	Backoff   Backoff
	Migration MigrationPolicy
}

// DeadlineOff, or any negative duration, turns one deadline of Deadlines
// off: that state is never reported as not progressing.
const DeadlineOff time.Duration = -1

// The default deadlines (D32): how long a record may stay in each
// transient state before the NotProgressing condition says so and Next
// asks to look. They are generous — a healthy start, stop or reboot takes
// seconds — so that only a record that is really stuck is reported.
const (
	DefaultInstanceCreatingDeadline = 10 * time.Minute // the instance record's creating: the create saga
	DefaultVMMCreatingDeadline      = 5 * time.Minute  // a VMM record not yet on its sled
	DefaultStartingDeadline         = 5 * time.Minute
	DefaultStoppingDeadline         = 5 * time.Minute
	DefaultRebootingDeadline        = 5 * time.Minute
	DefaultMigratingDeadline        = 30 * time.Minute // a VMM that is a side of a migration, since its last progress
	DefaultSagaDeadline             = 5 * time.Minute  // a saga working on the instance, since its last event
)

// Deadlines says how long each transient state may last (D30, D32). A zero
// field is the default (DefaultStartingDeadline and so on); a negative one
// (DeadlineOff) turns that deadline off.
type Deadlines struct {
	InstanceCreating time.Duration // the instance record's creating state
	VMMCreating      time.Duration // a VMM's creating state
	Starting         time.Duration
	Stopping         time.Duration
	Rebooting        time.Duration
	Migrating        time.Duration
	Saga             time.Duration // a saga working on the instance (Snapshot.Saga), since its last event
}

// effective returns d, or def when d is zero; ok is false when d is off.
func effective(d, def time.Duration) (time.Duration, bool) {
	switch {
	case d == 0:
		return def, true
	case d < 0:
		return 0, false
	}
	return d, true
}

// ForInstanceCreating returns the deadline of the instance record's
// creating state, and false when it is off.
func (d Deadlines) ForInstanceCreating() (time.Duration, bool) {
	return effective(d.InstanceCreating, DefaultInstanceCreatingDeadline)
}

// ForSaga returns the deadline of a saga working on the instance, since
// its last event, and false when it is off.
func (d Deadlines) ForSaga() (time.Duration, bool) { return effective(d.Saga, DefaultSagaDeadline) }

// ForVMM returns the deadline of a VMM in state k, and false when k is not
// a transient state (running, stopped, a terminal state, saga_unwound) or
// its deadline is off.
func (d Deadlines) ForVMM(k vmmstate.Kind) (time.Duration, bool) {
	switch k {
	case vmmstate.KindCreating:
		return effective(d.VMMCreating, DefaultVMMCreatingDeadline)
	case vmmstate.KindStarting:
		return effective(d.Starting, DefaultStartingDeadline)
	case vmmstate.KindStopping:
		return effective(d.Stopping, DefaultStoppingDeadline)
	case vmmstate.KindRebooting:
		return effective(d.Rebooting, DefaultRebootingDeadline)
	case vmmstate.KindMigrating:
		return effective(d.Migrating, DefaultMigratingDeadline)
	}
	return 0, false
}

// RecordKind names which of a snapshot's records a condition or an action
// is about.
type RecordKind uint8

// The records of a snapshot.
const (
	RecordInstance  RecordKind = iota + 1 // the instance record
	RecordActiveVMM                       // the active VMM
	RecordTargetVMM                       // the migration target VMM
	RecordMigration                       // the migration record
	RecordSaga                            // a saga working on the instance (Snapshot.Saga)
)

var recordKinds = enum.New[RecordKind]("instancestate.RecordKind", false,
	"instance", "active_vmm", "target_vmm", "migration", "saga")

// AllRecordKinds returns the record kinds in declaration order.
func AllRecordKinds() []RecordKind { return recordKinds.All() }

// IsValid reports whether k is one of the record kinds.
func (k RecordKind) IsValid() bool { return recordKinds.Valid(k) }

// String returns the wire string, or "instancestate.RecordKind(n)".
func (k RecordKind) String() string { return recordKinds.String(k) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (k RecordKind) GoString() string { return recordKinds.GoString(k) }

// MarshalText implements encoding.TextMarshaler.
func (k RecordKind) MarshalText() ([]byte, error) { return recordKinds.Append(nil, k) }

// UnmarshalText implements encoding.TextUnmarshaler; on error k is unchanged.
func (k *RecordKind) UnmarshalText(b []byte) error { return unmarshal(recordKinds, k, b) }

// AppendText implements encoding.TextAppender.
func (k RecordKind) AppendText(b []byte) ([]byte, error) { return recordKinds.Append(b, k) }

// RecordRef names one record: its kind and its id. The zero value names
// none.
type RecordRef struct {
	Kind RecordKind
	ID   uuid.UUID
}

// IsZero reports whether r names no record.
func (r RecordRef) IsZero() bool { return r.Kind == 0 }

// stuck is a record past the deadline of its transient state (D30, D32).
type stuck struct {
	ref      RecordRef
	state    string        // the transient state, as the record's column spells it
	since    time.Time     // when it entered the state, or last progressed in it
	deadline time.Duration // how long it was allowed
	sled     vmmstate.SledID
	saga     string // the saga's name, for a stalled saga
}

// notProgressing returns the first record of the snapshot — the instance,
// then the active VMM, then the target VMM — that has stayed in a
// transient state past its deadline at now (D32). The answer is only ever
// an observation: nothing here fails a record (D30, D18).
func (s *Snapshot) notProgressing(now time.Time) (stuck, bool) {
	dl := &s.Policy.Deadlines
	if sg := &s.Saga; sg.ID != uuid.Nil {
		// A saga that stopped moving explains whatever of its instance is
		// transient: it is named first.
		if d, ok := dl.ForSaga(); ok && past(sg.Since, d, now) {
			return stuck{ref: RecordRef{RecordSaga, sg.ID}, state: sg.Node, since: sg.Since, deadline: d, saga: sg.Name}, true
		}
	}
	in := &s.Instance
	if in.Runtime.State == NexusCreating {
		if d, ok := dl.ForInstanceCreating(); ok && past(in.Runtime.TimeUpdated, d, now) {
			return stuck{ref: RecordRef{RecordInstance, in.ID.UUID()}, state: NexusCreating.String(), since: in.Runtime.TimeUpdated, deadline: d}, true
		}
		return stuck{}, false
	}
	if s.hasActive() {
		if st, ok := s.vmmStuck(&s.Active, RecordActiveVMM, now); ok {
			return st, true
		}
	}
	if s.hasTarget() {
		if st, ok := s.vmmStuck(&s.Target, RecordTargetVMM, now); ok {
			return st, true
		}
	}
	return stuck{}, false
}

// vmmStuck reports whether VMM v is past the deadline of its state. A VMM
// that is a side of the linked migration progresses whenever that side
// reports, so its last report counts as progress too.
func (s *Snapshot) vmmStuck(v *vmmstate.VMM, kind RecordKind, now time.Time) (stuck, bool) {
	k := v.Runtime.State.Kind()
	d, ok := s.Policy.Deadlines.ForVMM(k)
	if !ok {
		return stuck{}, false
	}
	since := v.Runtime.TimeUpdated
	if k == vmmstate.KindMigrating && s.hasMigration() {
		m := &s.Migration
		switch v.ID {
		case m.Source.VMM:
			since = later(since, m.Source.TimeUpdated)
		case m.Target.VMM:
			since = later(since, m.Target.TimeUpdated)
		}
	}
	if !past(since, d, now) {
		return stuck{}, false
	}
	return stuck{ref: RecordRef{kind, v.ID.UUID()}, state: k.String(), since: since, deadline: d, sled: v.SledID}, true
}

// past reports whether now is at or after since+d.
func past(since time.Time, d time.Duration, now time.Time) bool {
	return !now.Before(since.Add(d))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// condition is the NotProgressing condition of a stuck record.
func (st stuck) condition() Condition {
	return Condition{Type: CondNotProgressing, Reason: st.state, Since: st.since, Record: st.ref, limit: st.deadline, msg: st.saga}
}

// notProgressingMessage is the NotProgressing condition's sentence.
func (c Condition) notProgressingMessage() string {
	if c.Record.Kind == RecordSaga {
		at := ""
		if c.Reason != "" {
			at = ", its last event at node " + c.Reason
		}
		return fmt.Sprintf("the %s saga %s has not moved since %s%s, longer than its deadline of %v; nothing is assumed failed or undone: its executor's lease says whether it still runs",
			c.msg, c.Record.ID, c.Since.UTC().Format(time.RFC3339), at, c.limit)
	}
	what := "the instance"
	if c.Record.Kind != RecordInstance {
		what = "the " + map[RecordKind]string{RecordActiveVMM: "active", RecordTargetVMM: "target"}[c.Record.Kind] + " VMM " + c.Record.ID.String()
	}
	return fmt.Sprintf("%s has been %s since %s, longer than its deadline of %v; nothing is assumed failed until a sled-agent or a health check proves it",
		what, c.Reason, c.Since.UTC().Format(time.RFC3339), c.limit)
}

// NotProgressing reports the first record of s — the instance, then the
// active VMM, then the target VMM — that has stayed in a transient state
// (the instance's creating; a VMM's creating, starting, stopping,
// rebooting or migrating) past its deadline in s.Policy at now, as the
// NotProgressing condition, and false when none has (D30, D32). A
// migrating VMM's deadline runs from its migration side's last report
// when that is later than its own. It validates the snapshot first (D17).
func NotProgressing(s Snapshot, now time.Time) (Condition, bool, error) {
	if err := s.validate(); err != nil {
		return Condition{}, false, err
	}
	st, ok := s.notProgressing(now)
	if !ok {
		return Condition{}, false, nil
	}
	return st.condition(), true, nil
}

// inspect is Next's answer for a stuck record: look at it (D32).
func (st stuck) inspect() NextAction {
	why := inspectWhys[st.state]
	if st.ref.Kind == RecordSaga {
		why = "a saga working on the instance has not moved past its deadline: check its executor's lease, and once it has expired adopt and recover the saga"
	}
	if st.ref.Kind == RecordInstance {
		why = "the instance has been creating past its deadline: inspect its create saga"
	}
	return NextAction{Action: NextInspect, Record: st.ref, Sled: st.sled, Why: why}
}

// inspectWhys are Next's reasons to inspect a VMM, by its state, built
// once so that deciding allocates nothing.
var inspectWhys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []vmmstate.Kind{vmmstate.KindCreating, vmmstate.KindStarting, vmmstate.KindStopping, vmmstate.KindRebooting, vmmstate.KindMigrating} {
		m[k.String()] = "a VMM has been " + k.String() + " past its deadline: ask its sled-agent and health-check its sled"
	}
	return m
}()

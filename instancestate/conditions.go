package instancestate

import (
	"fmt"
	"time"

	"github.com/vmlife/vmlife/vmmstate"

	"github.com/vmlife/vmlife/internal/enum"
)

// ConditionType names a condition (D14). Conditions are observations shown
// beside the state, Kubernetes-style — never new states. Clients should
// show a type they do not know as-is and otherwise ignore it.
type ConditionType uint8

// The condition types.
const (
	// CondStartFailed: the last start failed; Reason is the cause (D13).
	CondStartFailed ConditionType = iota + 1
	// CondSledUnreachable: the active VMM's sled stopped answering, without
	// proof that the VMM is dead (D18); Since is the first failed check.
	CondSledUnreachable
	// CondAutoRestartCoolingDown: an automatic restart is due but waits for
	// the cooldown; Until is when it ends (D15).
	CondAutoRestartCoolingDown
	// CondVMMLost: the instance is meant to run but the control plane lost
	// its VMM (D22); Reason is the LostCause, Since when. It stays until a
	// start links a VMM, whatever the policy allows.
	CondVMMLost
	// CondNotProgressing: a record has stayed in a transient state past
	// its deadline (D30, D32); Reason is the state, Since when it entered
	// it or last progressed, Record which record. Nothing is failed for it.
	CondNotProgressing
	// CondMigrationStalled: the linked migration stalled and is to be
	// aborted (D34); Reason is the StallReason, Since the last progress or
	// the migration's start, Record the migration.
	CondMigrationStalled
)

var conditionTypes = enum.New[ConditionType]("instancestate.ConditionType", false,
	"StartFailed", "SledUnreachable", "AutoRestartCoolingDown", "VMMLost", "NotProgressing", "MigrationStalled")

// AllConditionTypes returns the condition types in declaration order.
func AllConditionTypes() []ConditionType { return conditionTypes.All() }

// IsValid reports whether t is one of the condition types.
func (t ConditionType) IsValid() bool { return conditionTypes.Valid(t) }

// String returns the wire string, or "instancestate.ConditionType(n)".
func (t ConditionType) String() string { return conditionTypes.String(t) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (t ConditionType) GoString() string { return conditionTypes.GoString(t) }

// MarshalText implements encoding.TextMarshaler.
func (t ConditionType) MarshalText() ([]byte, error) { return conditionTypes.Append(nil, t) }

// UnmarshalText implements encoding.TextUnmarshaler; on error t is unchanged.
func (t *ConditionType) UnmarshalText(b []byte) error { return unmarshal(conditionTypes, t, b) }

// AppendText implements encoding.TextAppender.
func (t ConditionType) AppendText(b []byte) ([]byte, error) { return conditionTypes.Append(b, t) }

// Condition is one observation about an instance (D14): a type, a one-word
// reason, a message for people (Message), when it began or ends (zero:
// not applicable), and the record it is about (zero: the instance as a
// whole; set for NotProgressing and MigrationStalled).
type Condition struct {
	Type   ConditionType
	Reason string
	Since  time.Time
	Until  time.Time
	Record RecordRef

	// The message is built when asked for, so that deciding over a fleet
	// allocates nothing: msg when it is a constant, or from sled and the
	// times for the conditions that name them.
	msg   string
	sled  vmmstate.SledID
	limit time.Duration // the deadline or budget that passed
}

// Message returns the condition's sentence for people. Conditions that
// name a sled or a time build it on each call.
func (c Condition) Message() string {
	switch c.Type {
	case CondSledUnreachable:
		return fmt.Sprintf("the sled %v running the instance has not answered since %s; the VMM is not assumed dead", c.sled, c.Since.UTC().Format(time.RFC3339))
	case CondAutoRestartCoolingDown:
		what := map[string]string{waitBackoff: "the restart backoff", waitPlacementRetry: "the retry of a start that found no room"}[c.Reason]
		if what == "" {
			what = "the cooldown"
		}
		return fmt.Sprintf("an automatic restart is due and waits for %s to end at %s", what, c.Until.UTC().Format(time.RFC3339))
	case CondNotProgressing:
		return c.notProgressingMessage()
	case CondMigrationStalled:
		return c.migrationStalledMessage()
	}
	return c.msg
}

// Conditions returns the instance's conditions at now, in the order of the
// ConditionType constants (D13, D14). It validates the snapshot first (D17).
func Conditions(s Snapshot, now time.Time) ([]Condition, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s.appendConditions(nil, now, s.reincarnation(now)), nil
}

// AppendConditions is Conditions appending to dst, so that a loop over a
// fleet can reuse one buffer and allocate nothing. On error dst is
// returned as it was.
func AppendConditions(dst []Condition, s Snapshot, now time.Time) ([]Condition, error) {
	if err := s.validate(); err != nil {
		return dst, err
	}
	return s.appendConditions(dst, now, s.reincarnation(now)), nil
}

// appendConditions appends the snapshot's conditions to out.
func (s *Snapshot) appendConditions(out []Condition, now time.Time, r Reincarnation) []Condition {
	if f := s.Instance.StartFailure; s.Instance.hasStartFailure() {
		out = append(out, Condition{Type: CondStartFailed, Reason: f.Cause.String(), msg: f.Message(), Since: f.Time})
	}
	if since := s.SledUnreachableSince; !since.IsZero() && s.hasActive() {
		out = append(out, Condition{Type: CondSledUnreachable, Reason: "unreachable", Since: since, sled: s.Active.SledID})
	}
	if r.Needs && r.Status == CoolingDown {
		reason := r.wait
		if reason == "" {
			reason = waitCooldown
		}
		out = append(out, Condition{Type: CondAutoRestartCoolingDown, Reason: reason, Until: r.Until})
	}
	if l := s.Instance.VMMLost; l.IsSet() && s.Instance.IntendedState == IntendRunning && s.Instance.Runtime.State == NexusNoVMM {
		out = append(out, Condition{Type: CondVMMLost, Reason: l.Cause.String(), msg: l.message(), Since: l.Time})
	}
	if st, ok := s.notProgressing(now); ok {
		out = append(out, st.condition())
	}
	if s.hasMigration() {
		if a, ok := s.stalledMigration(now); ok {
			out = append(out, a.condition())
		}
	}
	return out
}

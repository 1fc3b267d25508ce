package instancestate

import (
	"time"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// NextKind is what the control plane should do next to converge an
// instance (D19).
type NextKind uint8

// The next actions.
const (
	NextNone        NextKind = iota + 1 // nothing: converged, or someone else is acting
	NextStart                           // run a start saga: the user wants it running and nothing failed
	NextStop                            // ask the sled-agent to stop the active VMM
	NextRunUpdate                       // run the instance-update saga: PlanUpdate has work
	NextReincarnate                     // run a start saga with reason auto_restart (D15)
	NextWait                            // nothing until NextAction.Until (a cooldown)
	// NextInspect: a record is past the deadline of a transient state
	// (D32): look at NextAction.Record — ask the sled-agent on
	// NextAction.Sled about the VMM and health-check the sled, or inspect
	// the create saga of an instance still creating. Only what the looking
	// proves may fail anything (D18, D30).
	NextInspect
	// NextAbortMigration: the linked migration stalled (D34): ask the
	// sled-agent on NextAction.Sled to stop NextAction.StopVMM, the target
	// of NextAction.Migration, which the target's halt then fails. The
	// source keeps running (see MigrationAbort).
	NextAbortMigration
)

var nextKinds = enum.New[NextKind]("instancestate.NextKind", false,
	"none", "start", "stop", "run_update", "reincarnate", "wait", "inspect", "abort_migration")

// AllNextKinds returns the next actions in declaration order.
func AllNextKinds() []NextKind { return nextKinds.All() }

// IsValid reports whether k is one of the next actions.
func (k NextKind) IsValid() bool { return nextKinds.Valid(k) }

// String returns the wire string, or "instancestate.NextKind(n)".
func (k NextKind) String() string { return nextKinds.String(k) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (k NextKind) GoString() string { return nextKinds.GoString(k) }

// MarshalText implements encoding.TextMarshaler.
func (k NextKind) MarshalText() ([]byte, error) { return nextKinds.Append(nil, k) }

// UnmarshalText implements encoding.TextUnmarshaler; on error k is unchanged.
func (k *NextKind) UnmarshalText(b []byte) error { return unmarshal(nextKinds, k, b) }

// AppendText implements encoding.TextAppender.
func (k NextKind) AppendText(b []byte) ([]byte, error) { return nextKinds.Append(b, k) }

// NextAction is the answer of Next.
type NextAction struct {
	Action NextKind
	Until  time.Time // NextWait: when to ask again
	Why    string

	Record    RecordRef       // NextInspect: the record past its deadline
	Sled      vmmstate.SledID // NextInspect: the VMM's sled (zero for the instance); NextAbortMigration: the target's sled
	Migration migration.ID    // NextAbortMigration: the migration the stop ends
	StopVMM   vmmstate.ID     // NextAbortMigration: the target VMM to stop
}

// Next says what the control plane should do next to bring the instance to
// its intended state (D19). It is a pure function of the snapshot and now,
// so asking again before anything changed gives the same answer, and it
// never claims a state is reached: it only reads what the records say. In
// order:
//
//  1. an updater holds the lock: none (it is converging the instance);
//  2. the update plan has work: run_update (§13.3, D11);
//  3. the linked migration stalled under the snapshot's migration policy:
//     abort_migration (D34);
//  4. an automatic restart is due: reincarnate, or wait until the cooldown
//     or backoff ends (D15, D33);
//  5. the user wants it running, it is stopped with no VMM, and neither a
//     start failure nor a lost VMM is recorded — the user's own start never
//     ran (D13, D22): start;
//  6. the user wants it stopped and it is starting, running, rebooting or
//     migrating: stop;
//  7. a record is past the deadline of its transient state: inspect it
//     (D30, D32) — never fail it;
//  8. otherwise none — a recorded start failure waits for a user and says
//     so through the StartFailed condition (D13, D14).
//
// It validates the snapshot first (D17).
func Next(s Snapshot, now time.Time) (NextAction, error) {
	if err := s.validate(); err != nil {
		return NextAction{}, err
	}
	return s.next(now, s.reincarnation(now)), nil
}

func (s *Snapshot) next(now time.Time, r Reincarnation) NextAction {
	if s.Instance.isLocked() {
		return NextAction{Action: NextNone, Why: "an instance updater holds the lock"}
	}
	_, required, err := s.plan(now)
	return s.nextAfterPlan(now, r, required && err == nil)
}

// nextAfterPlan is next once whether the update plan has work is known.
func (s *Snapshot) nextAfterPlan(now time.Time, r Reincarnation, planRequired bool) NextAction {
	in := &s.Instance
	if in.isLocked() {
		return NextAction{Action: NextNone, Why: "an instance updater holds the lock"}
	}
	if planRequired {
		return NextAction{Action: NextRunUpdate, Why: "the instance record does not yet reflect its VMMs and migration"}
	}
	if s.hasMigration() {
		if a, ok := s.stalledMigration(now); ok {
			return a.next() // D34
		}
	}
	switch {
	case r.Should:
		return NextAction{Action: NextReincarnate, Why: r.Why}
	case r.Needs && r.Status == CoolingDown:
		return NextAction{Action: NextWait, Until: r.Until, Why: r.Why}
	}
	switch s.unmet() {
	case NextStart:
		return NextAction{Action: NextStart, Why: "intended to run, stopped, and no start has failed"}
	case NextStop:
		return NextAction{Action: NextStop, Why: "intended to be stopped but still running"}
	}
	if st, ok := s.notProgressing(now); ok {
		return st.inspect() // D30, D32: look, never fail
	}
	return NextAction{Action: NextNone, Why: r.Why} // nothing to do, and why not
}

// IntentUnmet reports whether instance s's records alone say it is not as
// its user intends, in a way only the control plane's own act meets —
// Next's rules 5 and 6: wanted running, and stopped with no VMM, no start
// failure and no lost VMM recorded; or wanted stopped, and starting,
// running, rebooting or migrating. It reads no clock, so that a fleet
// index may keep it (datastore.FleetQueries.FindInstancesToReconcile);
// Next, at a given time, may still say that something comes first — the
// lock, the update plan, a stalled migration, a restart due.
func IntentUnmet(s Snapshot) bool { return s.unmet() != 0 }

// unmet is rules 5 and 6 of Next: NextStart, NextStop, or zero.
func (s *Snapshot) unmet() NextKind {
	in := &s.Instance
	switch in.IntendedState {
	case IntendRunning:
		// D22: only the user's own start that never ran is rolled forward
		// here; an instance the control plane lost is restarted only as a
		// reincarnation, under the policy and cooldown (rule 4).
		if in.Runtime.State == NexusNoVMM && s.effective() == Stopped && !in.hasStartFailure() && !in.VMMLost.IsSet() {
			return NextStart
		}
	case IntendStopped:
		switch s.effective() {
		case Starting, Running, Rebooting, Migrating:
			return NextStop
		}
	}
	return 0
}

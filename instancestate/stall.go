package instancestate

import (
	"fmt"
	"math"
	"time"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// MigrationPolicy bounds live migrations (D34, D35). Its zero value bounds
// nothing, as Omicron does; KubeVirtMigrationPolicy returns KubeVirt's
// defaults.
type MigrationPolicy struct {
	// ProgressDeadline: a migration in flight whose sides and VMMs have
	// not moved for this long is aborted (D34); zero: never.
	ProgressDeadline time.Duration
	// BudgetPerGiB: a migration in flight for longer than this per GiB of
	// the instance's memory (Snapshot.MemoryGiB) is aborted (D34); zero,
	// or an unknown memory size: no budget.
	BudgetPerGiB time.Duration
	// FleetLimit: a migration request is refused with 503 while this many
	// migrations are in flight in the fleet (D35); zero: no limit.
	FleetLimit int
	// SledLimit: a migration request is refused with 503 while this many
	// migrations are in flight out of the instance's sled (D35); zero: no
	// limit.
	SledLimit int
}

// KubeVirtMigrationPolicy returns the bounds KubeVirt applies by default:
// 150 s without progress, 150 s per GiB of memory to complete, at most 5
// migrations in flight in a cluster and 2 out of one node.
func KubeVirtMigrationPolicy() MigrationPolicy {
	return MigrationPolicy{ProgressDeadline: 150 * time.Second, BudgetPerGiB: 150 * time.Second, FleetLimit: 5, SledLimit: 2}
}

// MigrationLoad counts the migrations in flight when a migration request
// is decided (D35): an input, like now, that the caller counts from its
// records. Its zero value counts none.
type MigrationLoad struct {
	Fleet int // in the whole fleet
	Sled  int // out of the instance's current sled
}

// MaxMemoryGiB is the largest memory size, in GiB, a snapshot accepts.
const MaxMemoryGiB = 1 << 20

// StallReason says why a migration is aborted (D34). The zero value is
// invalid.
type StallReason uint8

// The reasons.
const (
	StallNoProgress StallReason = iota + 1 // nothing moved within MigrationPolicy.ProgressDeadline
	StallOverBudget                        // in flight longer than MigrationPolicy.BudgetPerGiB × Snapshot.MemoryGiB
)

var stallReasons = enum.New[StallReason]("instancestate.StallReason", false, "no_progress", "over_budget")

// AllStallReasons returns the reasons in declaration order.
func AllStallReasons() []StallReason { return stallReasons.All() }

// IsValid reports whether r is one of the reasons.
func (r StallReason) IsValid() bool { return stallReasons.Valid(r) }

// String returns the wire string, or "instancestate.StallReason(n)".
func (r StallReason) String() string { return stallReasons.String(r) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (r StallReason) GoString() string { return stallReasons.GoString(r) }

// MarshalText implements encoding.TextMarshaler.
func (r StallReason) MarshalText() ([]byte, error) { return stallReasons.Append(nil, r) }

// UnmarshalText implements encoding.TextUnmarshaler; on error r is unchanged.
func (r *StallReason) UnmarshalText(b []byte) error { return unmarshal(stallReasons, r, b) }

// AppendText implements encoding.TextAppender.
func (r StallReason) AppendText(b []byte) ([]byte, error) { return stallReasons.Append(b, r) }

// MigrationAbort is the decision to abort a stalled migration (D34): ask
// the sled-agent on Sled to stop StopVMM, Migration's target, which ends
// Migration in failure. The source VMM is left running. The records are
// not written failed ahead of the target: a target that halts fails its
// in-flight side itself (§3.5), and one found gone ends the migration in
// the update plan (§13.3), which unlinks it and points the network back
// at the source — while a side that completed in the meantime can still
// say so, so that the records never read the guest lost while it runs.
type MigrationAbort struct {
	Migration migration.ID
	StopVMM   vmmstate.ID     // the migration's target VMM
	Sled      vmmstate.SledID // the target VMM's sled
	Reason    StallReason
	Since     time.Time     // the last progress (no_progress) or the migration's creation (over_budget)
	Limit     time.Duration // the deadline or budget that passed
}

// StalledMigration decides whether the linked migration has stalled at now
// under s.Policy.Migration (D34): it is in flight — no side has an outcome
// and its target VMM lives — and either nothing has moved for
// ProgressDeadline, or it has run longer than BudgetPerGiB ×
// s.MemoryGiB. It returns the abort and true, or false when the migration
// goes on (or there is none, or no bound is set). It validates the
// snapshot first (D17).
func StalledMigration(s Snapshot, now time.Time) (MigrationAbort, bool, error) {
	if err := s.validate(); err != nil {
		return MigrationAbort{}, false, err
	}
	a, ok := s.stalledMigration(now)
	return a, ok, nil
}

func (s *Snapshot) stalledMigration(now time.Time) (MigrationAbort, bool) {
	mp := &s.Policy.Migration
	budget := s.migrationBudget()
	if mp.ProgressDeadline <= 0 && budget <= 0 {
		return MigrationAbort{}, false
	}
	m := &s.Migration
	switch {
	case !s.liveMigration() || s.Active.ID != m.Source.VMM || m.IsTerminal():
		return MigrationAbort{}, false
	case !s.hasTarget() || unlinkable(s.Target.Runtime.State) || unlinkable(s.Active.Runtime.State):
		return MigrationAbort{}, false // the update plan acts first
	}
	a := MigrationAbort{Migration: m.ID, StopVMM: s.Target.ID, Sled: s.Target.SledID}
	if since := s.migrationSince(); mp.ProgressDeadline > 0 && past(since, mp.ProgressDeadline, now) {
		a.Reason, a.Since, a.Limit = StallNoProgress, since, mp.ProgressDeadline
		return a, true
	}
	if budget > 0 && past(m.TimeCreated, budget, now) {
		a.Reason, a.Since, a.Limit = StallOverBudget, m.TimeCreated, budget
		return a, true
	}
	return MigrationAbort{}, false
}

// migrationBudget is BudgetPerGiB × MemoryGiB, or zero when either is
// unset; a product past the largest duration is the largest duration.
func (s *Snapshot) migrationBudget() time.Duration {
	per, gib := s.Policy.Migration.BudgetPerGiB, int64(s.MemoryGiB)
	if per <= 0 || gib <= 0 {
		return 0
	}
	if int64(per) > math.MaxInt64/gib {
		return math.MaxInt64
	}
	return per * time.Duration(gib)
}

// migrationSince is when the linked migration last progressed: its
// creation, either side's last report, or a change of state of its target
// VMM or of the source VMM running the instance.
func (s *Snapshot) migrationSince() time.Time {
	m := &s.Migration
	t := later(later(m.TimeCreated, m.Source.TimeUpdated), m.Target.TimeUpdated)
	if s.hasTarget() {
		t = later(t, s.Target.Runtime.TimeUpdated)
	}
	if s.hasActive() && s.Active.ID == m.Source.VMM {
		t = later(t, s.Active.Runtime.TimeUpdated)
	}
	return t
}

// condition is the MigrationStalled condition of an abort.
func (a MigrationAbort) condition() Condition {
	return Condition{Type: CondMigrationStalled, Reason: a.Reason.String(), Since: a.Since,
		Record: RecordRef{RecordMigration, a.Migration.UUID()}, limit: a.Limit}
}

// next is Next's answer for a stalled migration.
func (a MigrationAbort) next() NextAction {
	return NextAction{Action: NextAbortMigration, Migration: a.Migration, StopVMM: a.StopVMM, Sled: a.Sled,
		Why: abortWhys[a.Reason]}
}

// abortWhys are Next's reasons to abort, by stall reason: built once, so
// that deciding allocates nothing.
var abortWhys = [...]string{
	StallNoProgress: "the migration has not progressed within its deadline: stop its target VMM to end it; the source keeps running",
	StallOverBudget: "the migration has run past its budget: stop its target VMM to end it; the source keeps running",
}

// migrationStalledMessage is the MigrationStalled condition's sentence.
func (c Condition) migrationStalledMessage() string {
	if c.Reason == StallOverBudget.String() {
		return fmt.Sprintf("migration %v has run since %s, past its budget of %v; it is aborted and the source keeps running",
			c.Record.ID, c.Since.UTC().Format(time.RFC3339), c.limit)
	}
	return fmt.Sprintf("migration %v has not progressed since %s, longer than %v; it is aborted and the source keeps running",
		c.Record.ID, c.Since.UTC().Format(time.RFC3339), c.limit)
}

// migrationLimited is D35: the refusal of a migration request while a
// limit of migrations in flight is reached, or false.
func (s *Snapshot) migrationLimited() (Decision, bool) {
	mp, load := &s.Policy.Migration, s.MigrationsInFlight
	switch {
	case mp.FleetLimit > 0 && load.Fleet >= mp.FleetLimit:
		return reject(503, "%d migrations are in flight in the fleet, its limit of %d: try again later", load.Fleet, mp.FleetLimit), true
	case mp.SledLimit > 0 && load.Sled >= mp.SledLimit:
		return reject(503, "%d migrations are in flight out of sled %v, its limit of %d: try again later", load.Sled, s.Active.SledID, mp.SledLimit), true
	}
	return Decision{}, false
}

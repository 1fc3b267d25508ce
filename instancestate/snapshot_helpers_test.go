package instancestate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Fixed ids and times, so that a failure prints the same every run.
var (
	instID  = vmmstate.InstanceIDFromUUID(uuid.MustParse("1b000000-0000-4000-8000-000000000001"))
	otherID = vmmstate.InstanceIDFromUUID(uuid.MustParse("1b000000-0000-4000-8000-000000000002"))

	vmmA = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000a")) // the active VMM (a migration's source)
	vmmB = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000b")) // a migration's target VMM
	vmmC = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000c")) // a VMM the instance does not link
	vmmD = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000d")) // another new VMM

	sled1 = vmmstate.SledIDFromUUID(uuid.MustParse("3d000000-0000-4000-8000-000000000001")) // vmmA's sled
	sled2 = vmmstate.SledIDFromUUID(uuid.MustParse("3d000000-0000-4000-8000-000000000002")) // vmmB's sled
	sled3 = vmmstate.SledIDFromUUID(uuid.MustParse("3d000000-0000-4000-8000-000000000003"))

	migM = migration.IDFromUUID(uuid.MustParse("4e000000-0000-4000-8000-00000000000a")) // the linked migration
	migN = migration.IDFromUUID(uuid.MustParse("4e000000-0000-4000-8000-00000000000b")) // another migration

	upd1 = UpdaterIDFromUUID(uuid.MustParse("5f000000-0000-4000-8000-000000000001"))
	upd2 = UpdaterIDFromUUID(uuid.MustParse("5f000000-0000-4000-8000-000000000002"))
	upd3 = UpdaterIDFromUUID(uuid.MustParse("5f000000-0000-4000-8000-000000000003"))

	t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC) // when the records were last written
	t1 = t0.Add(time.Minute)                            // "now" in most tests
)

// The generations the builder writes, so tests can say "+1" by name.
const (
	instGen   = 5
	activeGen = 4
	targetGen = 2
	sideGen   = 2
)

func gen(n uint32) generation.Generation { return generation.Of(n) }

func maxGen() generation.Generation {
	g, err := generation.FromInt64(generation.Max)
	if err != nil {
		panic(err)
	}
	return g
}

// builder makes snapshots one fact at a time:
//
//	snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Pending).target(vmmstate.Migrating).build()
//
// It starts from a stopped instance (no_vmm at generation 5, intending to
// run, unlocked) and every method returns a new builder (values, D2). vmm
// links vmmA on sled1, target links vmmB on sled2, migration links migM
// from vmmA to vmmB; folded makes the target the active VMM, as the update
// plan does once a side completed (§13.3).
type builder struct{ s Snapshot }

func snap() builder {
	return builder{Snapshot{Instance: Instance{
		ID: instID,
		Runtime: Runtime{
			State:       NexusNoVMM,
			Generation:  gen(instGen),
			TimeUpdated: t0,
		},
		IntendedState: IntendRunning,
		UpdaterGen:    gen(1),
	}}}
}

func vmmRecord(id vmmstate.ID, sled vmmstate.SledID, st vmmstate.State, g uint32) vmmstate.VMM {
	return vmmstate.VMM{ID: id, InstanceID: instID, SledID: sled,
		Runtime: vmmstate.Runtime{State: st, Generation: gen(g), TimeUpdated: t0}}
}

// newVMM is the record a start saga has just inserted for VMM id: creating,
// generation 1, on sled3.
func newVMM(id vmmstate.ID) vmmstate.VMM { return vmmRecord(id, sled3, vmmstate.Creating, 1) }

// nexus sets the state column alone.
func (b builder) nexus(n NexusState) builder {
	b.s.Instance.Runtime.State = n
	return b
}

// vmm links vmmA, in state st, as the active VMM (state vmm).
func (b builder) vmm(st vmmstate.State) builder {
	b.s.Instance.Runtime.State = NexusVMM
	b.s.Instance.Runtime.ActiveVMM = vmmA
	b.s.Active = vmmRecord(vmmA, sled1, st, activeGen)
	return b
}

// target links vmmB, in state st, as the migration target VMM.
func (b builder) target(st vmmstate.State) builder {
	b.s.Instance.Runtime.TargetVMM = vmmB
	b.s.Target = vmmRecord(vmmB, sled2, st, targetGen)
	return b
}

// migration links migM (vmmA → vmmB) with its sides in src and tgt.
func (b builder) migration(src, tgt migration.State) builder {
	b.s.Instance.Runtime.MigrationID = migM
	b.s.Migration = migration.Record{
		ID: migM, InstanceID: instID, TimeCreated: t0,
		Source: migration.Side{VMM: vmmA, State: src, Generation: gen(sideGen), TimeUpdated: t0},
		Target: migration.Side{VMM: vmmB, State: tgt, Generation: gen(sideGen), TimeUpdated: t0},
	}
	return b
}

// folded points the instance at its (linked) target VMM, as step 3 of the
// update plan does when a side of the migration completed.
func (b builder) folded() builder {
	b.s.Instance.Runtime.ActiveVMM = b.s.Target.ID
	b.s.Active = b.s.Target
	return b
}

func (b builder) intent(i IntendedState) builder {
	b.s.Instance.IntendedState = i
	return b
}

func (b builder) policy(p AutoRestartPolicy) builder {
	b.s.Instance.AutoRestart.Policy = p
	return b
}

func (b builder) cooldown(d time.Duration) builder {
	b.s.Instance.AutoRestart.Cooldown = d
	return b
}

func (b builder) lastAutoRestart(t time.Time) builder {
	b.s.Instance.Runtime.TimeLastAutoRestarted = t
	return b
}

// startFailure records a start failure of cause c at t0, transient or not
// regardless of the cause's default.
func (b builder) startFailure(c failure.Cause, transient bool) builder {
	f := failure.NewStartFailure(c, failure.StartReasonUser, t0)
	f.Transient = transient
	b.s.Instance.StartFailure = f
	return b
}

func (b builder) locked(u UpdaterID) builder {
	b.s.Instance.UpdaterID = u
	b.s.Instance.UpdaterGen = gen(2)
	return b
}

func (b builder) unreachableSince(t time.Time) builder {
	b.s.SledUnreachableSince = t
	return b
}

func (b builder) gen(g generation.Generation) builder {
	b.s.Instance.Runtime.Generation = g
	return b
}

// liveness sets the liveness policy (D32–D35).
func (b builder) liveness(p Policy) builder {
	b.s.Policy = p
	return b
}

// tight is a policy under which every transient state and every migration
// in flight at t0 is past its deadline at t1 (D32, D34).
var tight = Policy{
	Deadlines: Deadlines{InstanceCreating: 30 * time.Second, VMMCreating: 30 * time.Second, Starting: 30 * time.Second,
		Stopping: 30 * time.Second, Rebooting: 30 * time.Second, Migrating: 30 * time.Second},
	Migration: MigrationPolicy{ProgressDeadline: 30 * time.Second},
}

func (b builder) build() Snapshot { return b.s }

// valid builds the snapshot and fails the test unless it is valid: a table
// row that is invalid by mistake would test Validate instead of its rule.
func (b builder) valid(t testing.TB) Snapshot {
	t.Helper()
	if err := b.s.Validate(); err != nil {
		t.Fatalf("test snapshot is invalid: %v", err)
	}
	return b.s
}

// Every VMM state and every migration-side state, for walking whole tables.
var (
	allVMMStates  = vmmstate.AllStates()
	allSideStates = migration.AllStates()
)

// checkRuleErr asserts D3/D17 for a snapshot or argument error: errors.Is
// ErrInvalidRecord, errors.As *RuleError with the rule and field given.
func checkRuleErr(t testing.TB, what string, err error, rule, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s on %s", what, rule, field)
	}
	if !errors.Is(err, ErrInvalidRecord) || !errors.Is(fmt.Errorf("wrapped: %w", err), ErrInvalidRecord) {
		t.Fatalf("%s: %v does not match ErrInvalidRecord", what, err)
	}
	var re *RuleError
	if !errors.As(err, &re) {
		t.Fatalf("%s: %v (%T) is not a *RuleError", what, err, err)
	}
	if (rule != "" && re.Rule != rule) || re.Field != field {
		t.Fatalf("%s: RuleError{Rule: %q, Field: %q}, want {%q, %q}", what, re.Rule, re.Field, rule, field)
	}
	if re.Detail == "" || !strings.Contains(err.Error(), re.Field) {
		t.Fatalf("%s: %q does not say what is wrong with %s", what, err, re.Field)
	}
}

// checkConflict asserts a refused saga step: errors.Is the sentinel,
// errors.As *ConflictError with the status (and message, when given).
func checkConflict(t testing.TB, what string, err, sentinel error, status int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: %v does not match %v", what, err, sentinel)
	}
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: %v (%T) is not a *ConflictError", what, err, err)
	}
	if ce.Status != status || (msg != "" && ce.Message != msg) {
		t.Fatalf("%s: ConflictError{Status: %d, Message: %q}, want {%d, %q}", what, ce.Status, ce.Message, status, msg)
	}
	if errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("%s: a conflict must not read as an invalid record: %v", what, err)
	}
}

// wantIntent is D16's mapping: what an accepted request writes.
var wantIntent = map[Request]IntendedState{
	RequestStart:   IntendRunning,
	RequestReboot:  IntendRunning,
	RequestStop:    IntendStopped,
	RequestDelete:  IntendDestroyed,
	RequestMigrate: 0,
}

// checkD16 asserts D16 and the Decision's own consistency: a rejection has a
// non-200 status, a message and no intent; an acceptance has status 200, no
// message and exactly the intent of its request.
func checkD16(t testing.TB, what string, r Request, d Decision) {
	t.Helper()
	if !d.Action.IsValid() {
		t.Fatalf("%s: invalid action %v", what, d.Action)
	}
	if d.Action == ActionReject {
		if d.Accepted() || d.Status == 200 || d.Status == 0 || d.Message == "" || d.Intent != 0 {
			t.Fatalf("%s: rejection %+v must have an error status, a message and no intent (D16)", what, d)
		}
		return
	}
	if !d.Accepted() || d.Status != 200 || d.Message != "" || d.Intent != wantIntent[r] {
		t.Fatalf("%s: acceptance %+v, want status 200, no message, intent %v (D16)", what, d, wantIntent[r])
	}
	if (d.Action == ActionSendToSled) != d.SledRequest.IsValid() {
		t.Fatalf("%s: %+v: a sled request comes exactly with send_to_sled", what, d)
	}
	if (d.Action == ActionUpdateRuntime) != (d.Runtime != Runtime{}) {
		t.Fatalf("%s: %+v: a runtime comes exactly with update_runtime", what, d)
	}
}

// corpus is a spread of valid snapshots over every nexus state, every
// active VMM state, every pair of migration side states with and without a
// linked target, folded migrations, and the reincarnation inputs. Sweeps
// that must hold for every snapshot walk it.
func corpus(t testing.TB) []Snapshot {
	t.Helper()
	var out []Snapshot
	add := func(b builder) { out = append(out, b.valid(t)) }
	for _, n := range []NexusState{NexusCreating, NexusNoVMM, NexusFailed, NexusDestroyed} {
		for _, i := range AllIntendedStates() {
			add(snap().nexus(n).intent(i))
			add(snap().nexus(n).intent(i).startFailure(failure.CauseInsufficientCapacity, true))
			add(snap().nexus(n).intent(i).startFailure(failure.CauseAffinityUnsatisfiable, false).locked(upd1))
			add(snap().nexus(n).intent(i).lastAutoRestart(t0))
			add(snap().nexus(n).intent(i).startFailure(failure.CauseVMMGone, true).lastAutoRestart(t0))
		}
	}
	for _, st := range allVMMStates {
		for _, i := range AllIntendedStates() {
			add(snap().vmm(st).intent(i))
			add(snap().vmm(st).intent(i).locked(upd1).unreachableSince(t0))
			add(snap().vmm(st).intent(i).lastAutoRestart(t0))
		}
		for _, src := range allSideStates {
			for _, tgt := range allSideStates {
				add(snap().vmm(st).migration(src, tgt))
				for _, tst := range []vmmstate.State{vmmstate.Creating, vmmstate.Migrating, vmmstate.Running, vmmstate.Destroyed, vmmstate.Failed(failure.FromSledAgent), vmmstate.SagaUnwound} {
					add(snap().vmm(st).migration(src, tgt).target(tst))
					add(snap().vmm(vmmstate.Running).migration(src, tgt).target(tst).intent(IntendStopped))
				}
			}
		}
		for _, src := range allSideStates {
			for _, tgt := range allSideStates {
				add(snap().vmm(vmmstate.Stopping).migration(src, tgt).target(st).folded())
			}
		}
		// D32, D34: the same records under deadlines they are past.
		for _, i := range AllIntendedStates() {
			add(snap().vmm(st).intent(i).liveness(tight))
		}
		add(snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(st).liveness(tight))
		add(snap().vmm(vmmstate.Migrating).migration(migration.Pending, migration.InProgress).target(st).liveness(tight))
	}
	add(snap().nexus(NexusCreating).liveness(tight))
	return out
}

// restartFailures sets the count of failed restarts (D33).
func (b builder) restartFailures(n int) builder {
	b.s.Instance.RestartFailures = n
	return b
}

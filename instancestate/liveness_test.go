package instancestate

import (
	"github.com/google/uuid"

	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// sameAnswers reports the first decision on which a and b differ, apart
// from conditions and Next: what D32 says a deadline may never change.
func sameAnswers(a, b Snapshot, now time.Time) string {
	ea, _ := EffectiveState(a)
	eb, _ := EffectiveState(b)
	if ea != eb {
		return fmt.Sprintf("effective state %v / %v", ea, eb)
	}
	pa, ra, _ := PlanUpdate(a, now)
	pb, rb, _ := PlanUpdate(b, now)
	if pa != pb || ra != rb {
		return fmt.Sprintf("plan %+v / %+v", pa, pb)
	}
	for _, r := range AllRequests() {
		da, _ := Decide(a, r, now)
		db, _ := Decide(b, r, now)
		if da != db {
			return fmt.Sprintf("%v: %+v / %+v", r, da, db)
		}
	}
	if x, y := mustReinc(a, now), mustReinc(b, now); x != y {
		return fmt.Sprintf("reincarnation %+v / %+v", x, y)
	}
	return ""
}

func mustReinc(s Snapshot, now time.Time) Reincarnation {
	r, _ := Reincarnate(s, now)
	return r
}

// TestDeadlineRows walks D32's table: every VMM state as the active VMM,
// and as a target, the instance's creating, each just before its default
// deadline, at it, with the deadline off and with a custom one. Past it,
// NotProgressing names the record and since when, and Next asks to
// inspect it unless something comes first; every other answer is that of
// the same snapshot with every deadline off (D30).
func TestDeadlineRows(t *testing.T) {
	off := Policy{Deadlines: Deadlines{InstanceCreating: DeadlineOff, VMMCreating: DeadlineOff, Starting: DeadlineOff,
		Stopping: DeadlineOff, Rebooting: DeadlineOff, Migrating: DeadlineOff, Saga: DeadlineOff}}
	defaults := map[vmmstate.Kind]time.Duration{
		vmmstate.KindCreating: DefaultVMMCreatingDeadline, vmmstate.KindStarting: DefaultStartingDeadline,
		vmmstate.KindStopping: DefaultStoppingDeadline, vmmstate.KindRebooting: DefaultRebootingDeadline,
		vmmstate.KindMigrating: DefaultMigratingDeadline,
	}
	type row struct {
		name   string
		s      Snapshot
		record RecordRef
		state  string
		limit  time.Duration // zero: not transient, never stuck
		sled   vmmstate.SledID
	}
	var rows []row
	for _, st := range allVMMStates {
		k := st.Kind()
		rows = append(rows, row{"active " + st.String(), snap().vmm(st).valid(t), RecordRef{RecordActiveVMM, vmmA.UUID()}, k.String(), defaults[k], sled1})
		rows = append(rows, row{"target " + st.String(), snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(st).valid(t),
			RecordRef{RecordTargetVMM, vmmB.UUID()}, k.String(), defaults[k], sled2})
	}
	rows = append(rows, row{"instance creating", snap().nexus(NexusCreating).valid(t), RecordRef{RecordInstance, instID.UUID()}, "creating", DefaultInstanceCreatingDeadline, vmmstate.SledID{}})
	rows = append(rows, row{"instance no_vmm", snap().valid(t), RecordRef{}, "", 0, vmmstate.SledID{}})
	// D30: a saga working on the instance that stopped moving is named,
	// before any record it left in a transient state.
	stalled := SagaProgress{ID: uuid.MustParse("67000000-0000-4000-8000-000000000001"), Name: "start", Node: "alloc_server", Since: t0}
	withSaga := func(s Snapshot) Snapshot { s.Saga = stalled; return s }
	rows = append(rows, row{"saga stalled, instance no_vmm", withSaga(snap().valid(t)), RecordRef{RecordSaga, stalled.ID}, "alloc_server", DefaultSagaDeadline, vmmstate.SledID{}})
	rows = append(rows, row{"saga stalled, VMM starting", withSaga(snap().vmm(vmmstate.Starting).valid(t)), RecordRef{RecordSaga, stalled.ID}, "alloc_server", DefaultSagaDeadline, vmmstate.SledID{}})

	walked := 0
	for _, r := range rows {
		for _, c := range []struct {
			name   string
			policy Policy
			after  time.Duration // now - t0
			stuck  bool
		}{
			{"before the default", Policy{}, r.limit - time.Second, false},
			{"at the default", Policy{}, r.limit, r.limit > 0},
			{"long past the default", Policy{}, 100 * time.Hour, r.limit > 0},
			{"off", off, 100 * time.Hour, false},
			{"custom 1s", Policy{Deadlines: Deadlines{InstanceCreating: time.Second, VMMCreating: time.Second, Starting: time.Second,
				Stopping: time.Second, Rebooting: time.Second, Migrating: time.Second, Saga: time.Second}}, time.Second, r.limit > 0},
		} {
			walked++
			s := r.s
			s.Policy = c.policy
			now := t0.Add(c.after)
			name := r.name + ", " + c.name
			cond, stuck, err := NotProgressing(s, now)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if stuck != c.stuck {
				t.Errorf("%s: stuck %v, want %v", name, stuck, c.stuck)
				continue
			}
			n, _ := Next(s, now)
			conds, _ := Conditions(s, now)
			var shown []Condition
			for _, x := range conds {
				if x.Type == CondNotProgressing {
					shown = append(shown, x)
				}
			}
			if diff := sameAnswers(s, withPolicy(s, off), now); diff != "" {
				t.Errorf("%s: a deadline changed an answer: %s", name, diff)
			}
			if !c.stuck {
				if len(shown) != 0 || n.Action == NextInspect {
					t.Errorf("%s: not stuck, yet conditions %+v and next %v", name, shown, n.Action)
				}
				continue
			}
			if cond.Record != r.record || cond.Reason != r.state || !cond.Since.Equal(t0) || len(shown) != 1 || shown[0] != cond {
				t.Errorf("%s: condition %+v (shown %+v), want %v %s since %v", name, cond, shown, r.record, r.state, t0)
			}
			if msg := cond.Message(); !strings.Contains(msg, r.state) || !strings.Contains(msg, "nothing is assumed failed") {
				t.Errorf("%s: message %q", name, msg)
			}
			base, _ := Next(withPolicy(s, off), now)
			switch {
			case base.Action == NextNone && (n.Action != NextInspect || n.Record != r.record || n.Sled != r.sled):
				t.Errorf("%s: next %+v, want inspect %v on %v", name, n, r.record, r.sled)
			case base.Action != NextNone && n != base:
				t.Errorf("%s: next %+v, want %+v as without deadlines: looking comes last", name, n, base)
			}
		}
	}
	if want := (2*len(allVMMStates) + 4) * 5; walked != want {
		t.Fatalf("walked %d rows, want %d", walked, want)
	}
}

func withPolicy(s Snapshot, p Policy) Snapshot {
	s.Policy = p
	return s
}

// TestDeadlineMigratingSideProgress: a migrating VMM's deadline runs from
// its migration side's last report when that is later (D32).
func TestDeadlineMigratingSideProgress(t *testing.T) {
	s := snap().vmm(vmmstate.Migrating).migration(migration.InProgress, migration.InProgress).target(vmmstate.Running).valid(t)
	s.Migration.Source.TimeUpdated = t0.Add(20 * time.Minute)
	s.Target.Runtime.State = vmmstate.Running
	if _, stuck, _ := NotProgressing(s, t0.Add(DefaultMigratingDeadline)); stuck {
		t.Fatal("stuck although its side reported 20 minutes in")
	}
	c, stuck, _ := NotProgressing(s, t0.Add(50*time.Minute))
	if !stuck || !c.Since.Equal(s.Migration.Source.TimeUpdated) || c.Record.Kind != RecordActiveVMM {
		t.Fatalf("50 minutes in: %+v, %v; want stuck since the side's report", c, stuck)
	}
}

// TestBackoffWaitRows walks D33's wait: KubeVirt's 10 s × n², at most
// 300 s, for every count the table names; off, nothing.
func TestBackoffWaitRows(t *testing.T) {
	kv := KubeVirtBackoff()
	for _, r := range []struct {
		b    Backoff
		n    int
		want time.Duration
	}{
		{kv, -1, 0}, {kv, 0, 0}, {kv, 1, 10 * time.Second}, {kv, 2, 40 * time.Second}, {kv, 3, 90 * time.Second},
		{kv, 4, 160 * time.Second}, {kv, 5, 250 * time.Second}, {kv, 6, 300 * time.Second}, {kv, 100, 300 * time.Second},
		{kv, MaxRestartFailures, 300 * time.Second}, {kv, int(^uint(0) >> 1), 300 * time.Second},
		{Backoff{}, 3, 0},
		{Backoff{Base: time.Second}, 3, 9 * time.Second},                     // the default cap
		{Backoff{Base: time.Hour, Cap: time.Minute}, 1, time.Minute},         // a base past the cap
		{Backoff{Base: time.Second, Cap: 2 * time.Hour}, 60, time.Hour},      // 60² s
		{Backoff{Base: time.Second, Cap: 2 * time.Hour}, 100, 2 * time.Hour}, // 100² s capped
	} {
		if got := r.b.Wait(r.n); got != r.want {
			t.Errorf("%+v.Wait(%d) = %v, want %v", r.b, r.n, got, r.want)
		}
	}
}

// TestBackoffReincarnatabilityRows: D33's verdict beside D15's. Off, the fixed
// cooldown; on, the wait grows with the count from the last automatic
// restart; a start that found no room is retried PlacementRetry after it
// failed, whatever the count; never stays never.
func TestBackoffReincarnatabilityRows(t *testing.T) {
	kv := KubeVirtBackoff()
	last := t0
	failed := snap().nexus(NexusFailed).lastAutoRestart(last)
	for _, r := range []struct {
		name   string
		b      builder
		policy Policy
		now    time.Time
		want   Reincarnatability
		until  time.Time
		reason string
	}{
		{"off: the cooldown", failed, Policy{}, last.Add(time.Minute), CoolingDown, last.Add(DefaultCooldown), "cooldown"},
		{"off: the cooldown over", failed, Policy{}, last.Add(DefaultCooldown), WillReincarnate, time.Time{}, ""},
		{"on, no count: one failure's wait", failed, Policy{Backoff: kv}, last.Add(5 * time.Second), CoolingDown, last.Add(10 * time.Second), "backoff"},
		{"on, 3 failures", failed.restartFailures(3), Policy{Backoff: kv}, last.Add(time.Minute), CoolingDown, last.Add(90 * time.Second), "backoff"},
		{"on, 3 failures, waited", failed.restartFailures(3), Policy{Backoff: kv}, last.Add(90 * time.Second), WillReincarnate, time.Time{}, ""},
		{"on, 50 failures: capped", failed.restartFailures(50), Policy{Backoff: kv}, last.Add(time.Minute), CoolingDown, last.Add(300 * time.Second), "backoff"},
		{"on, never restarted automatically", snap().nexus(NexusFailed).restartFailures(2), Policy{Backoff: kv}, t1, WillReincarnate, time.Time{}, ""},
		{"on, no room", snap().startFailure(failure.CauseInsufficientCapacity, true).restartFailures(9).lastAutoRestart(t0), Policy{Backoff: kv},
			t0.Add(30 * time.Second), CoolingDown, t0.Add(DefaultPlacementRetry), "placement_retry"},
		{"on, no room, retried", snap().startFailure(failure.CauseLocalStorageUnavailable, true).restartFailures(9).lastAutoRestart(t0), Policy{Backoff: kv},
			t0.Add(DefaultPlacementRetry), WillReincarnate, time.Time{}, ""},
		{"on, a sled-agent error backs off", snap().startFailure(failure.CauseSledAgentError, true).restartFailures(2).lastAutoRestart(t0), Policy{Backoff: kv},
			t0.Add(30 * time.Second), CoolingDown, t0.Add(40 * time.Second), "backoff"},
		{"on, never", failed.policy(PolicyNever), Policy{Backoff: kv}, t1, Nirvana, time.Time{}, ""},
	} {
		s := r.b.liveness(r.policy).valid(t)
		re, err := Reincarnate(s, r.now)
		if err != nil {
			t.Fatal(err)
		}
		if re.Status != r.want || !re.Until.Equal(r.until) {
			t.Errorf("%s: %v until %v, want %v until %v", r.name, re.Status, re.Until, r.want, r.until)
		}
		conds, _ := Conditions(s, r.now)
		reason := ""
		for _, c := range conds {
			if c.Type == CondAutoRestartCoolingDown {
				reason = c.Reason
			}
		}
		if reason != r.reason {
			t.Errorf("%s: AutoRestartCoolingDown reason %q, want %q", r.name, reason, r.reason)
		}
	}
}

// TestRestartCountRows: what the update plan counts when it takes an
// instance down (D33): one more within StableAfter of the last automatic
// restart, one after a stable run or with none, nothing for a start that
// found no room or an instance not meant to run.
func TestRestartCountRows(t *testing.T) {
	failedVMM := vmmstate.Failed(failure.NoSuchInstance)
	for _, r := range []struct {
		name string
		b    builder
		want int
	}{
		{"first failure, never restarted", snap().vmm(failedVMM), 1},
		{"failed soon after a restart", snap().vmm(failedVMM).lastAutoRestart(t0.Add(-time.Minute)).restartFailures(2), 3},
		{"failed after a stable run", snap().vmm(failedVMM).lastAutoRestart(t0.Add(-DefaultStableAfter)).restartFailures(7), 1},
		{"failed just before a stable run", snap().vmm(failedVMM).lastAutoRestart(t0.Add(-DefaultStableAfter + time.Second)).restartFailures(7), 8},
		{"at the largest count", snap().vmm(failedVMM).lastAutoRestart(t0).restartFailures(MaxRestartFailures), MaxRestartFailures},
		{"lost mid-migration", snap().vmm(vmmstate.Destroyed).migration(migration.InProgress, migration.InProgress).target(vmmstate.Destroyed), 1},
		{"start unwound", snap().vmm(vmmstate.SagaUnwound).lastAutoRestart(t0).restartFailures(1), 2},
		{"start unwound for want of room", snap().vmm(vmmstate.SagaUnwound).startFailure(failure.CauseInsufficientCapacity, true).restartFailures(4), 0},
		{"guest shut down", snap().vmm(vmmstate.Destroyed), 0},
		{"failed under a stop", snap().vmm(failedVMM).intent(IntendStopped), 0},
		{"running", snap().vmm(vmmstate.Running), 0},
	} {
		s := r.b.valid(t)
		p, _, err := PlanUpdate(s, t1)
		if err != nil {
			t.Fatal(err)
		}
		if p.RestartFailures != r.want {
			t.Errorf("%s: plan counts %d, want %d", r.name, p.RestartFailures, r.want)
		}
		if p.RestartFailures > 0 {
			after, err := s.Apply(p)
			if err != nil || after.Instance.RestartFailures != r.want {
				t.Errorf("%s: after the commit %d failed restarts (%v), want %d", r.name, after.Instance.RestartFailures, err, r.want)
			}
		}
	}
}

// TestStalledMigrationRows walks D34's table.
func TestStalledMigrationRows(t *testing.T) {
	progress := Policy{Migration: MigrationPolicy{ProgressDeadline: 150 * time.Second}}
	budget := Policy{Migration: MigrationPolicy{BudgetPerGiB: 150 * time.Second}}
	inFlight := snap().vmm(vmmstate.Migrating).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating)
	for _, r := range []struct {
		name   string
		b      builder
		policy Policy
		gib    int
		now    time.Time
		want   StallReason // zero: not stalled
		since  time.Time
	}{
		{"no bounds", inFlight, Policy{}, 4, t0.Add(100 * time.Hour), 0, time.Time{}},
		{"before the progress deadline", inFlight, progress, 0, t0.Add(149 * time.Second), 0, time.Time{}},
		{"at the progress deadline", inFlight, progress, 0, t0.Add(150 * time.Second), StallNoProgress, t0},
		{"pending sides stall too", snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating), progress, 0, t0.Add(time.Hour), StallNoProgress, t0},
		{"within the budget", inFlight, budget, 4, t0.Add(599 * time.Second), 0, time.Time{}},
		{"over the budget", inFlight, budget, 4, t0.Add(600 * time.Second), StallOverBudget, t0},
		{"budget without a memory size", inFlight, budget, 0, t0.Add(100 * time.Hour), 0, time.Time{}},
		{"a side completed: the guest may be on the target", snap().vmm(vmmstate.Migrating).migration(migration.Completed, migration.InProgress).target(vmmstate.Running), progress, 0, t0.Add(time.Hour), 0, time.Time{}},
		{"a side failed: the plan ends it", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Failed).target(vmmstate.Migrating), progress, 0, t0.Add(time.Hour), 0, time.Time{}},
		{"target gone: the plan ends it", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(vmmstate.Destroyed), progress, 0, t0.Add(time.Hour), 0, time.Time{}},
		{"folded onto the target", snap().vmm(vmmstate.Destroyed).migration(migration.InProgress, migration.InProgress).target(vmmstate.Running).folded(), progress, 0, t0.Add(time.Hour), 0, time.Time{}},
	} {
		s := r.b.liveness(r.policy).valid(t)
		s.MemoryGiB = r.gib
		a, stalled, err := StalledMigration(s, r.now)
		if err != nil {
			t.Fatal(err)
		}
		if stalled != (r.want != 0) || a.Reason != r.want || !a.Since.Equal(r.since) {
			t.Errorf("%s: %+v, %v; want %v since %v", r.name, a, stalled, r.want, r.since)
			continue
		}
		n, _ := Next(s, r.now)
		if !stalled {
			if n.Action == NextAbortMigration {
				t.Errorf("%s: next %+v", r.name, n)
			}
			continue
		}
		if a.Migration != migM || a.StopVMM != vmmB || a.Sled != sled2 {
			t.Errorf("%s: abort %+v, want migration %v, stop %v on %v", r.name, a, migM, vmmB, sled2)
		}
		if n.Action != NextAbortMigration || n.Migration != migM || n.StopVMM != vmmB || n.Sled != sled2 {
			t.Errorf("%s: next %+v, want abort_migration", r.name, n)
		}
		// Carried out: the target stops and reports destroyed; the plan
		// unlinks it and its migration and keeps the source running.
		s.Target.Runtime = vmmstate.Runtime{State: vmmstate.Destroyed, Generation: gen(targetGen + 2), TimeUpdated: r.now}
		p, required, err := PlanUpdate(s, r.now)
		if err != nil || !required {
			t.Fatalf("%s: after the abort, no plan (%v)", r.name, err)
		}
		after, err := s.Apply(p)
		if err != nil {
			t.Fatal(err)
		}
		if after.Instance.Runtime.ActiveVMM != vmmA || after.HasTarget() || after.HasMigration() || p.DestroyTargetVMM != vmmB ||
			p.DestroyActiveVMM != (vmmstate.ID{}) || p.Network != (Network{Action: NetworkUpdate, VMM: vmmA, Sled: sled1}) {
			t.Errorf("%s: after the abort the plan %+v leaves %+v", r.name, p, after.Instance.Runtime)
		}
	}
}

// TestMigrationLimitRows walks D35's table: 503 while a limit is reached,
// the refusals of §10.5 first.
func TestMigrationLimitRows(t *testing.T) {
	limits := Policy{Migration: MigrationPolicy{FleetLimit: 5, SledLimit: 2}}
	running := snap().vmm(vmmstate.Running)
	for _, r := range []struct {
		name   string
		b      builder
		policy Policy
		load   MigrationLoad
		status int
		word   string
	}{
		{"no limits", running, Policy{}, MigrationLoad{Fleet: 100, Sled: 100}, 200, ""},
		{"under both", running, limits, MigrationLoad{Fleet: 4, Sled: 1}, 200, ""},
		{"fleet full", running, limits, MigrationLoad{Fleet: 5, Sled: 0}, 503, "fleet"},
		{"sled full", running, limits, MigrationLoad{Fleet: 0, Sled: 2}, 503, "sled"},
		{"both full: the fleet named", running, limits, MigrationLoad{Fleet: 9, Sled: 9}, 503, "fleet"},
		{"not running: §10.5 first", snap().vmm(vmmstate.Stopping), limits, MigrationLoad{Fleet: 9}, 400, "running"},
		{"already migrating: §10.5 first", snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating), limits, MigrationLoad{Fleet: 9}, 409, "already"},
	} {
		s := r.b.liveness(r.policy).valid(t)
		s.MigrationsInFlight = r.load
		for _, d := range []func() (Decision, error){
			func() (Decision, error) { return Decide(s, RequestMigrate, t1) },
			func() (Decision, error) { return DecideMigrate(s, sled3) },
		} {
			dec, err := d()
			if err != nil {
				t.Fatal(err)
			}
			if dec.Status != r.status || !strings.Contains(dec.Message, r.word) || dec.Intent != IntentUnchanged {
				t.Errorf("%s: %d %q, want %d naming %q", r.name, dec.Status, dec.Message, r.status, r.word)
			}
		}
	}
}

// TestGoneWhileStoppingRows walks D36: a failed active VMM, for every
// reason, under every intent. Under stopped the instance ends stopped,
// not failed, and is not restarted; under running it fails as before.
func TestGoneWhileStoppingRows(t *testing.T) {
	for _, reason := range failure.AllReasons() {
		for _, i := range AllIntendedStates() {
			s := snap().vmm(vmmstate.Failed(reason)).intent(i).valid(t)
			p, _, err := PlanUpdate(s, t1)
			if err != nil {
				t.Fatal(err)
			}
			after, err := s.Apply(p)
			if err != nil {
				t.Fatal(err)
			}
			e, _ := EffectiveState(after)
			r, _ := Reincarnate(after, t1)
			want := Failed
			if i == IntendStopped {
				want = Stopped
			}
			if e != want || (i == IntendStopped && (r.Needs || after.Instance.RestartFailures != 0)) {
				t.Errorf("%v under intent %v: reads %v (restart %+v, %d failures), want %v", reason, i, e, r, after.Instance.RestartFailures, want)
			}
		}
	}
}

// TestStopTargetRows spells D37's rows out: a target the plan unlinks
// alive is stopped; one it destroys, makes active or keeps is not.
func TestStopTargetRows(t *testing.T) {
	for _, r := range []struct {
		name string
		b    builder
		stop bool
	}{
		{"target side failed, target alive", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Failed).target(vmmstate.Migrating), true},
		{"source stopped the migration, target alive", snap().vmm(vmmstate.Stopping).intent(IntendStopped).migration(migration.Failed, migration.InProgress).target(vmmstate.Migrating), true},
		{"source destroyed mid-migration, target alive", snap().vmm(vmmstate.Destroyed).intent(IntendStopped).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating), true},
		{"target still creating when the source failed", snap().vmm(vmmstate.Failed(failure.SledOff)).migration(migration.Pending, migration.Pending).target(vmmstate.Creating), true},
		{"target already stopping", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Failed).target(vmmstate.Stopping), false},
		{"target destroyed: destroyed, not stopped", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Failed).target(vmmstate.Destroyed), false},
		{"handed over: the target becomes active", snap().vmm(vmmstate.Destroyed).migration(migration.Completed, migration.Completed).target(vmmstate.Running), false},
		{"in flight: kept", snap().vmm(vmmstate.Migrating).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating), false},
	} {
		s := r.b.valid(t)
		p, _, err := PlanUpdate(s, t1)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.StopTargetVMM == vmmB; got != r.stop || (!got && !p.StopTargetVMM.IsZero()) {
			t.Errorf("%s: plan stops %v, want stop %v", r.name, p.StopTargetVMM, r.stop)
		}
	}
}

// TestPolicyValidation: bad inputs are refused naming the field (D3).
func TestPolicyValidation(t *testing.T) {
	for _, r := range []struct {
		field string
		edit  func(*Snapshot)
	}{
		{"policy.restart_backoff.base", func(s *Snapshot) { s.Policy.Backoff.Base = -time.Second }},
		{"policy.restart_backoff.cap", func(s *Snapshot) { s.Policy.Backoff.Cap = -time.Second }},
		{"policy.migration.budget_per_gib", func(s *Snapshot) { s.Policy.Migration.BudgetPerGiB = -1 }},
		{"policy.migration.fleet_limit", func(s *Snapshot) { s.Policy.Migration.FleetLimit = -1 }},
		{"migrations_in_flight.sled", func(s *Snapshot) { s.MigrationsInFlight.Sled = -1 }},
		{"memory_gib", func(s *Snapshot) { s.MemoryGiB = MaxMemoryGiB + 1 }},
		{"restart_failures", func(s *Snapshot) { s.Instance.RestartFailures = -1 }},
	} {
		s := snap().build()
		r.edit(&s)
		checkRuleErr(t, r.field, s.Validate(), RuleValidFields, r.field)
	}
}

package instancestate

import (
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestNextRulesInOrder walks the rules of Next's doc comment (D19) in
// order. Each rule has rows where it alone applies, and rows where a later
// rule would also apply, to show the earlier one wins.
func TestNextRulesInOrder(t *testing.T) {
	cooling := t1.Add(-time.Minute) // a restart a minute ago: cooling down for four more
	rows := []struct {
		rule string
		b    builder
		want NextKind
	}{
		// 1. Locked: none, whatever else holds.
		{"1 locked, update needed", snap().vmm(vmmstate.Destroyed).locked(upd1), NextNone},
		{"1 locked, reincarnation due", snap().nexus(NexusFailed).locked(upd1), NextNone},
		{"1 locked, start due", snap().locked(upd1), NextNone},
		{"1 locked, stop due", snap().vmm(vmmstate.Running).intent(IntendStopped).locked(upd1), NextNone},

		// 2. The update plan has work.
		{"2 destroyed VMM", snap().vmm(vmmstate.Destroyed), NextRunUpdate},
		{"2 failed VMM", snap().vmm(vmmstate.Failed(failure.SledOff)), NextRunUpdate},
		{"2 migration completed", snap().vmm(vmmstate.Migrating).migration(migration.Completed, migration.Completed).target(vmmstate.Running), NextRunUpdate},
		{"2 before 3: unwound VMM, reincarnation due", snap().vmm(vmmstate.SagaUnwound), NextRunUpdate},
		{"2 before 5: destroyed VMM, intent stopped", snap().vmm(vmmstate.Destroyed).intent(IntendStopped), NextRunUpdate},

		// 3. An automatic restart is due, or waits for its cooldown.
		{"3 failed", snap().nexus(NexusFailed), NextReincarnate},
		{"3 failed, cooldown over", snap().nexus(NexusFailed).lastAutoRestart(t1.Add(-time.Hour)), NextReincarnate},
		{"3 failed, cooling down", snap().nexus(NexusFailed).lastAutoRestart(cooling), NextWait},
		{"3 before 4: transient start failure", snap().startFailure(failure.CauseInsufficientCapacity, true), NextReincarnate},
		{"3 before 4: transient start failure, cooling down", snap().startFailure(failure.CauseInsufficientCapacity, true).lastAutoRestart(cooling), NextWait},

		// 4. Intended to run, stopped with no VMM, no start failure.
		{"4 no_vmm", snap(), NextStart},
		{"4 no_vmm, policy never", snap().policy(PolicyNever), NextStart},
		{"4 no_vmm, cooling down (no restart needed)", snap().lastAutoRestart(cooling), NextStart},

		// 5. Intended stopped but running.
		{"5 starting", snap().vmm(vmmstate.Starting).intent(IntendStopped), NextStop},
		{"5 running", snap().vmm(vmmstate.Running).intent(IntendStopped), NextStop},
		{"5 rebooting", snap().vmm(vmmstate.Rebooting).intent(IntendStopped), NextStop},
		{"5 migrating", snap().vmm(vmmstate.Migrating).intent(IntendStopped), NextStop},
		{"5 migrating by its migration", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Pending).target(vmmstate.Migrating).intent(IntendStopped), NextStop},
		{"5 creating VMM (reads starting)", snap().vmm(vmmstate.Creating).intent(IntendStopped), NextStop},

		// 6. Otherwise none.
		{"6 permanent start failure waits for a user", snap().startFailure(failure.CauseAffinityUnsatisfiable, false), NextNone},
		{"6 failed, policy never", snap().nexus(NexusFailed).policy(PolicyNever), NextNone},
		{"6 failed, intent stopped", snap().nexus(NexusFailed).intent(IntendStopped), NextNone},
		{"6 running as intended", snap().vmm(vmmstate.Running), NextNone},
		{"6 stopping", snap().vmm(vmmstate.Stopping).intent(IntendStopped), NextNone},
		{"6 stopped as intended", snap().intent(IntendStopped), NextNone},
		{"6 guest shut down", snap().intent(IntendGuestShutdown), NextNone},
		{"6 creating", snap().nexus(NexusCreating), NextNone},
		{"6 destroyed", snap().nexus(NexusDestroyed).intent(IntendDestroyed), NextNone},
		{"6 running, intent guest_shutdown", snap().vmm(vmmstate.Running).intent(IntendGuestShutdown), NextNone},
		{"6 migration in flight", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating), NextNone},
	}
	for _, r := range rows {
		s := r.b.valid(t)
		got, err := Next(s, t1)
		if err != nil {
			t.Fatalf("%s: %v", r.rule, err)
		}
		if got.Action != r.want {
			t.Errorf("rule %s: got %v (%s), want %v", r.rule, got.Action, got.Why, r.want)
		}
		if got.Why == "" {
			t.Errorf("rule %s: no reason given", r.rule)
		}
		if (got.Action == NextWait) != !got.Until.IsZero() {
			t.Errorf("rule %s: until %v with %v", r.rule, got.Until, got.Action)
		}
		if got.Action == NextWait && !got.Until.Equal(cooling.Add(DefaultCooldown)) {
			t.Errorf("rule %s: wait until %v, want the end of the cooldown %v", r.rule, got.Until, cooling.Add(DefaultCooldown))
		}
	}
}

// TestNextAgreesAndIsIdempotent sweeps the corpus: asking twice gives the
// same answer (D19), and each answer agrees with the function it stands
// for — run_update with PlanUpdate, reincarnate with Reincarnate.Should,
// wait with a running cooldown, stop with an accepted stop, start with an
// accepted start.
func TestNextAgreesAndIsIdempotent(t *testing.T) {
	kinds := map[NextKind]int{}
	for _, s := range corpus(t) {
		n, err := Next(s, t1)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := Next(s, t1); again != n {
			t.Fatalf("Next is not idempotent: %+v then %+v", n, again)
		}
		kinds[n.Action]++
		_, planned, _ := PlanUpdate(s, t1)
		r, _ := Reincarnate(s, t1)
		switch n.Action {
		case NextRunUpdate:
			if !planned || s.Instance.IsLocked() {
				t.Errorf("run_update without a plan, or while locked: %+v", s.Instance)
			}
		case NextReincarnate:
			if !r.Should || planned {
				t.Errorf("reincarnate while Reincarnate says %+v (plan needed %v)", r, planned)
			}
		case NextWait:
			if !r.Needs || r.Status != CoolingDown || !n.Until.Equal(r.Until) || !n.Until.After(t1) {
				t.Errorf("wait until %v while Reincarnate says %+v", n.Until, r)
			}
		case NextStop:
			if d, _ := Decide(s, RequestStop, t1); d.Action != ActionSendToSled {
				t.Errorf("stop, but a stop would be %v", d.Action)
			}
		case NextStart:
			if d, _ := Decide(s, RequestStart, t1); d.Action != ActionStartSaga {
				t.Errorf("start, but a start would be %v", d.Action)
			}
		case NextInspect:
			// D30, D32: look at a record past its deadline, nothing more.
			c, stuck, _ := NotProgressing(s, t1)
			if !stuck || c.Record != n.Record || planned || r.Should {
				t.Errorf("inspect %+v while NotProgressing says %+v, %v (plan %v, reincarnate %v)", n.Record, c, stuck, planned, r.Should)
			}
		case NextAbortMigration:
			a, stalled, _ := StalledMigration(s, t1)
			if !stalled || a.Migration != n.Migration || a.StopVMM != n.StopVMM || a.StopVMM == s.Active.ID || planned {
				t.Errorf("abort_migration %+v while StalledMigration says %+v, %v (plan %v)", n, a, stalled, planned)
			}
		case NextNone:
		default:
			t.Fatalf("invalid next action %v", n.Action)
		}
		if n.Action != NextNone && s.Instance.IsLocked() {
			t.Errorf("%v while an updater holds the lock", n.Action)
		}
	}
	for _, k := range AllNextKinds() {
		if kinds[k] == 0 {
			t.Errorf("the sweep never produced %v", k)
		}
	}
}

// TestNextSaysWhyNothing: none explains itself with the reincarnation
// verdict (a permanent failure waits for a user).
func TestNextSaysWhyNothing(t *testing.T) {
	n, _ := Next(snap().startFailure(failure.CauseAffinityUnsatisfiable, false).valid(t), t1)
	if n.Action != NextNone || !strings.Contains(n.Why, "permanently") {
		t.Fatalf("%+v", n)
	}
	_, err := Next(snap().nexus(NexusVMM).build(), t1)
	checkRuleErr(t, "invalid snapshot", err, RuleVMMIffActive, "active_propolis_id")
}

package instancestate

import (
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"

	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// afterPlan applies the update plan the snapshot needs, as the update saga
// would, and fails the test if there is none.
func afterPlan(t *testing.T, s Snapshot) Snapshot {
	t.Helper()
	p, ok, err := PlanUpdate(s, t1)
	if err != nil || !ok {
		t.Fatalf("no plan: %v, %v", ok, err)
	}
	out, err := s.Apply(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestD22LostInstancesRestartOnlyByThePolicy walks the two ordinary ways an
// instance meant to run ends with no VMM and nothing recorded in Omicron —
// a start that unwound (its saga_unwound VMM unlinked, D11) and a VMM
// destroyed mid-migration — under every policy and around the cooldown:
// the plan records the loss; Next answers reincarnate under best_effort
// (or no policy) once the cooldown is over, wait before, and none under
// never, where the VMMLost condition says why; never a plain start.
func TestD22LostInstancesRestartOnlyByThePolicy(t *testing.T) {
	lostWays := map[LostCause]builder{
		LostStartUnwound: snap().vmm(vmmstate.SagaUnwound),
		LostMidMigration: snap().vmm(vmmstate.Destroyed).migration(migration.InProgress, migration.Pending).target(vmmstate.Migrating),
	}
	for cause, b := range lostWays {
		for _, policy := range []AutoRestartPolicy{0, PolicyBestEffort, PolicyNever} {
			for _, lastRestart := range []time.Time{{}, t1.Add(-time.Minute), t1.Add(-time.Hour)} {
				name := cause.String() + "/" + policy.String() + "/last restart " + lastRestart.String()
				s := afterPlan(t, b.policy(policy).lastAutoRestart(lastRestart).valid(t))
				if got := s.Instance.VMMLost; got != (VMMLost{Cause: cause, Time: t1}) {
					t.Fatalf("%s: recorded %+v", name, got)
				}
				n, err := Next(s, t1)
				if err != nil {
					t.Fatal(err)
				}
				coolingDown := !lastRestart.IsZero() && t1.Sub(lastRestart) < DefaultCooldown
				switch {
				case policy == PolicyNever:
					if n.Action != NextNone {
						t.Errorf("%s: next %v; want none", name, n.Action)
					}
				case coolingDown:
					if n.Action != NextWait || !n.Until.Equal(lastRestart.Add(DefaultCooldown)) {
						t.Errorf("%s: next %v until %v; want wait until the cooldown ends", name, n.Action, n.Until)
					}
				default:
					if n.Action != NextReincarnate {
						t.Errorf("%s: next %v; want reincarnate", name, n.Action)
					}
				}
				conds, _ := Conditions(s, t1)
				found := false
				for _, c := range conds {
					found = found || c.Type == CondVMMLost && c.Reason == cause.String() && c.Since.Equal(t1)
				}
				if !found {
					t.Errorf("%s: conditions %+v have no VMMLost", name, conds)
				}
			}
		}
	}
}

// TestD22UsersOwnStartStaysAStart: an instance the user asked to run that
// never started (no VMM, nothing lost, nothing failed) is rolled forward
// with a plain start, whatever the policy — it is not a restart.
func TestD22UsersOwnStartStaysAStart(t *testing.T) {
	for _, policy := range []AutoRestartPolicy{0, PolicyBestEffort, PolicyNever} {
		s := snap().policy(policy).lastAutoRestart(t1.Add(-time.Second)).valid(t)
		if n, _ := Next(s, t1); n.Action != NextStart {
			t.Errorf("policy %v: next %v; want start", policy, n.Action)
		}
	}
}

// TestD22GuestShutdownIsNotALoss: a guest that shut itself down leaves the
// intent guest_shutdown and nothing lost; a VMM that failed leaves the
// instance failed (its own sign); neither records a loss.
func TestD22GuestShutdownIsNotALoss(t *testing.T) {
	for _, b := range []builder{snap().vmm(vmmstate.Destroyed), snap().vmm(vmmstate.Destroyed).intent(IntendStopped)} {
		if s := afterPlan(t, b.valid(t)); s.Instance.VMMLost.IsSet() {
			t.Errorf("recorded %+v", s.Instance.VMMLost)
		}
	}
}

// TestD22AStartClearsTheLoss: the start that links a VMM again clears the
// record, so the next loss is judged afresh.
func TestD22AStartClearsTheLoss(t *testing.T) {
	s := afterPlan(t, snap().vmm(vmmstate.SagaUnwound).valid(t))
	in, err := MarkAsStarting(s, newVMM(vmmD), failure.StartReasonAutoRestart, t1)
	if err != nil || in.VMMLost.IsSet() {
		t.Fatalf("after the restart: %+v, %v", in.VMMLost, err)
	}
}

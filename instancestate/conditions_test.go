package instancestate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestConditionsEachAppearsExactlyWhenItShould walks a cross product of
// every input a condition depends on and checks each of D14's conditions
// is present exactly when its rule says, with its fields, in the order of
// the ConditionType constants:
//
//   - StartFailed: a start failure is recorded (D13); reason = its cause,
//     since = when it failed;
//   - SledUnreachable: the watcher found the active VMM's sled unreachable
//     (D18) and there is an active VMM; since = the first failed check;
//   - AutoRestartCoolingDown: an automatic restart is needed but the
//     cooldown has not ended (D15); until = when it ends.
func TestConditionsEachAppearsExactlyWhenItShould(t *testing.T) {
	now := t1
	failures := map[string]*failure.StartFailure{"no failure": nil}
	for _, c := range []struct {
		cause     failure.Cause
		transient bool
	}{{failure.CauseInsufficientCapacity, true}, {failure.CauseAntiAffinityUnsatisfiable, false}} {
		f := failure.NewStartFailure(c.cause, failure.StartReasonAutoRestart, t0)
		f.Transient = c.transient
		failures[fmt.Sprintf("%v failure", c.cause)] = &f
	}
	downs := map[string]builder{
		"no_vmm":   snap(),
		"failed":   snap().nexus(NexusFailed),
		"running":  snap().vmm(vmmstate.Running),
		"unwound":  snap().vmm(vmmstate.SagaUnwound),
		"stopping": snap().vmm(vmmstate.Stopping),
	}
	lasts := map[string]time.Time{"never restarted": {}, "cooling": now.Add(-time.Minute), "cooled": now.Add(-time.Hour)}
	seen := map[ConditionType]int{}
	for fname, f := range failures {
		for dname, down := range downs {
			for lname, last := range lasts {
				for _, since := range []time.Time{{}, t0.Add(-time.Hour)} {
					for _, intent := range []IntendedState{IntendRunning, IntendStopped} {
						for _, policy := range []AutoRestartPolicy{0, PolicyNever} {
							b := down.lastAutoRestart(last).unreachableSince(since).intent(intent).policy(policy)
							if f != nil {
								b.s.Instance.StartFailure = *f
							}
							s := b.valid(t)
							name := fmt.Sprintf("%s, %s, %s, unreachable since %v, intent %v, policy %v", fname, dname, lname, since, intent, policy)

							var want []ConditionType
							if f != nil {
								want = append(want, CondStartFailed)
							}
							if !since.IsZero() && s.HasActive() {
								want = append(want, CondSledUnreachable)
							}
							isDown := dname == "failed" || dname == "unwound" || (dname == "no_vmm" && f != nil && f.Transient)
							permanent := f != nil && !f.Transient
							cooling := lname == "cooling" && policy != PolicyNever
							if intent == IntendRunning && isDown && !permanent && cooling {
								want = append(want, CondAutoRestartCoolingDown)
							}

							got, err := Conditions(s, now)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							if len(got) != len(want) {
								t.Errorf("%s: got %v, want %v", name, got, want)
								continue
							}
							for i, c := range got {
								if c.Type != want[i] {
									t.Errorf("%s: condition %d is %v, want %v", name, i, c.Type, want[i])
									continue
								}
								seen[c.Type]++
								checkCondition(t, name, s, c, last)
							}
						}
					}
				}
			}
		}
	}
	for _, ct := range []ConditionType{CondStartFailed, CondSledUnreachable, CondAutoRestartCoolingDown} {
		if seen[ct] == 0 {
			t.Errorf("the walk never produced %v", ct)
		}
	}
}

// checkCondition checks one condition's fields against its rule.
func checkCondition(t *testing.T, name string, s Snapshot, c Condition, last time.Time) {
	t.Helper()
	if c.Message() == "" || c.Reason == "" {
		t.Errorf("%s: %v has no reason or message", name, c.Type)
	}
	switch c.Type {
	case CondStartFailed:
		f := s.Instance.StartFailure
		if c.Reason != f.Cause.String() || !c.Since.Equal(f.Time) || !c.Until.IsZero() || c.Message() != f.Message() {
			t.Errorf("%s: %+v does not carry the start failure %+v", name, c, f)
		}
	case CondSledUnreachable:
		if !c.Since.Equal(s.SledUnreachableSince) || !c.Until.IsZero() || !strings.Contains(c.Message(), s.Active.SledID.String()) {
			t.Errorf("%s: %+v, want since %v naming sled %v", name, c, s.SledUnreachableSince, s.Active.SledID)
		}
	case CondAutoRestartCoolingDown:
		until := last.Add(s.Instance.AutoRestart.EffectiveCooldown())
		if !c.Until.Equal(until) || !c.Since.IsZero() || !strings.Contains(c.Message(), until.Format(time.RFC3339)) {
			t.Errorf("%s: %+v, want until %v", name, c, until)
		}
	}
}

// TestConditionsAreNotStates: D14 — a condition never changes the
// effective state: the sled being unreachable leaves a running instance
// running, and a start failure leaves a stopped one stopped.
func TestConditionsAreNotStates(t *testing.T) {
	for _, b := range []builder{snap(), snap().vmm(vmmstate.Running), snap().vmm(vmmstate.Migrating), snap().nexus(NexusFailed)} {
		plain, _ := EffectiveState(b.valid(t))
		troubled, _ := EffectiveState(b.unreachableSince(t0).startFailure(failure.CauseSledAgentError, true).lastAutoRestart(t1).valid(t))
		if plain != troubled {
			t.Errorf("conditions moved %v to %v", plain, troubled)
		}
	}
}

// TestConditionsNone: a healthy instance has no conditions, as a nil
// slice (nothing allocated), and an invalid snapshot has none either.
func TestConditionsNone(t *testing.T) {
	got, err := Conditions(snap().vmm(vmmstate.Running).valid(t), t1)
	if err != nil || got != nil {
		t.Fatalf("healthy: %v, %v", got, err)
	}
	got, err = Conditions(snap().nexus(NexusVMM).build(), t1)
	checkRuleErr(t, "invalid snapshot", err, RuleVMMIffActive, "active_propolis_id")
	if got != nil {
		t.Fatalf("conditions came with the error: %v", got)
	}
}

package instancestate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/vmmstate"
)

// The axes of D15's cross product. Each value says how to build its part
// of the snapshot; the expectation is computed from D15's text in
// wantReincarnation, not from reincarnate.go.
var (
	reincPolicies = []AutoRestartPolicy{0, PolicyNever, PolicyBestEffort} // 0: unset
	reincCooldown = []time.Duration{0, time.Hour}                         // 0: unset (5 minutes)
	reincTimings  = []string{"never restarted", "before the end", "exactly at the end", "after the end"}
	reincDowns    = []string{"failed", "unwound active", "no_vmm, transient failure", "no_vmm, permanent failure", "no_vmm, no failure", "running"}
	reincLocks    = []bool{false, true}
)

func downBuilder(down string) builder {
	switch down {
	case "failed":
		return snap().nexus(NexusFailed)
	case "unwound active":
		return snap().vmm(vmmstate.SagaUnwound)
	case "no_vmm, transient failure":
		return snap().startFailure(failure.CauseInsufficientCapacity, true)
	case "no_vmm, permanent failure":
		return snap().startFailure(failure.CauseAffinityUnsatisfiable, false)
	case "no_vmm, no failure":
		return snap()
	case "running":
		return snap().vmm(vmmstate.Running)
	}
	panic(down)
}

// lastRestart returns time_last_auto_restarted for a timing, given now and
// the cooldown that applies.
func lastRestart(timing string, now time.Time, cooldown time.Duration) time.Time {
	switch timing {
	case "before the end":
		return now.Add(-cooldown + time.Second)
	case "exactly at the end":
		return now.Add(-cooldown)
	case "after the end":
		return now.Add(-cooldown - time.Second)
	}
	return time.Time{}
}

// wantReincarnation is D15 (with §17.1) written out:
//
//   - the policy is never → nirvana; best_effort or unset may restart;
//   - a last automatic restart less than the cooldown (configured, else 5
//     minutes) ago → cooling down until it ends; at or after the end, or
//     with no restart recorded → will reincarnate;
//   - the instance needs a restart when it intends to run and is failed,
//     or has an active saga_unwound VMM, or is no_vmm with a transient start
//     failure; a permanent start failure waits for a user;
//   - it should restart when it needs to, will reincarnate, and the
//     updater lock is free.
func wantReincarnation(policy AutoRestartPolicy, cooldown time.Duration, last, now time.Time, intent IntendedState, down string, locked bool) Reincarnation {
	var r Reincarnation
	if cooldown == 0 {
		cooldown = 5 * time.Minute
	}
	switch {
	case policy == PolicyNever:
		r.Status = Nirvana
	case !last.IsZero() && now.Before(last.Add(cooldown)):
		r.Status, r.Until = CoolingDown, last.Add(cooldown)
	default:
		r.Status = WillReincarnate
	}
	isDown := down == "failed" || down == "unwound active" || down == "no_vmm, transient failure"
	r.Needs = intent == IntendRunning && isDown
	r.Should = r.Needs && r.Status == WillReincarnate && !locked
	return r
}

// TestReincarnateCrossProduct walks every policy × cooldown × timing ×
// intended state × down-ness × lock, each row against D15's text.
func TestReincarnateCrossProduct(t *testing.T) {
	now := t1
	rows := 0
	for _, policy := range reincPolicies {
		for _, cd := range reincCooldown {
			applied := cd
			if applied == 0 {
				applied = 5 * time.Minute
			}
			for _, timing := range reincTimings {
				last := lastRestart(timing, now, applied)
				for _, intent := range AllIntendedStates() {
					for _, down := range reincDowns {
						for _, locked := range reincLocks {
							b := downBuilder(down).policy(policy).cooldown(cd).lastAutoRestart(last).intent(intent)
							if locked {
								b = b.locked(upd1)
							}
							name := fmt.Sprintf("policy %v, cooldown %v, %s, intent %v, %s, locked %v", policy, cd, timing, intent, down, locked)
							want := wantReincarnation(policy, cd, last, now, intent, down, locked)
							got, err := Reincarnate(b.valid(t), now)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							if got.Needs != want.Needs || got.Status != want.Status || !got.Until.Equal(want.Until) || got.Should != want.Should {
								t.Errorf("%s: got {needs %v %v until %v should %v}, want {needs %v %v until %v should %v}",
									name, got.Needs, got.Status, got.Until, got.Should, want.Needs, want.Status, want.Until, want.Should)
							}
							if got.Why == "" {
								t.Errorf("%s: no reason given", name)
							}
							// When the cooldown ends is Until's to say (and the
							// AutoRestartCoolingDown condition's); Why is a
							// constant sentence, so deciding allocates nothing.
							if got.Status == CoolingDown && got.Needs && !strings.Contains(got.Why, "cooldown") {
								t.Errorf("%s: %q does not say it waits for the cooldown", name, got.Why)
							}
							// Reincarnatability is the policy-and-cooldown half alone.
							if k, until := b.build().Instance.Reincarnatability(now); k != want.Status || !until.Equal(want.Until) {
								t.Errorf("%s: Reincarnatability = %v, %v", name, k, until)
							}
							rows++
						}
					}
				}
			}
		}
	}
	if want := 3 * 2 * 4 * 4 * 6 * 2; rows != want {
		t.Fatalf("walked %d rows, want %d", rows, want)
	}
}

// TestReincarnateDefaults: §6.9's defaults — an unset policy is
// best_effort and an unset cooldown is five minutes.
func TestReincarnateDefaults(t *testing.T) {
	if DefaultCooldown != 5*time.Minute || DefaultPolicy != PolicyBestEffort {
		t.Fatalf("defaults %v, %v", DefaultCooldown, DefaultPolicy)
	}
	var a AutoRestart
	if a.EffectivePolicy() != PolicyBestEffort || a.EffectiveCooldown() != 5*time.Minute {
		t.Fatalf("unset: %v, %v", a.EffectivePolicy(), a.EffectiveCooldown())
	}
	a = AutoRestart{Policy: PolicyNever, Cooldown: time.Second}
	if a.EffectivePolicy() != PolicyNever || a.EffectiveCooldown() != time.Second {
		t.Fatalf("configured: %v, %v", a.EffectivePolicy(), a.EffectiveCooldown())
	}
}

// TestReincarnateInvalidSnapshot: D17 — no verdict without a valid snapshot.
func TestReincarnateInvalidSnapshot(t *testing.T) {
	s := snap().nexus(NexusFailed).build()
	s.Instance.AutoRestart.Cooldown = -time.Second
	r, err := Reincarnate(s, t1)
	checkRuleErr(t, "negative cooldown", err, RuleValidFields, "auto_restart_cooldown")
	if r != (Reincarnation{}) {
		t.Fatalf("a verdict came with the error: %+v", r)
	}
}

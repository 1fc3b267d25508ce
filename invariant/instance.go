package invariant

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// ErrInvariant is matched by errors.Is for every error the checkers return.
// When a library function's own error is the cause, it is wrapped too.
var ErrInvariant = errors.New("invariant broken")

// ErrUnexplained is matched by errors.Is for the error of CheckExplained: an
// instance meant to run is not running and nothing says why (D13, D19). It
// also matches ErrInvariant.
var ErrUnexplained = fmt.Errorf("%w: not running and not explained", ErrInvariant)

func broken(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvariant}, args...)...)
}

// atLargest reports whether err is the overflow of a snapshot whose instance
// generation cannot be bumped: the only error an operation that writes the
// instance may return on a valid snapshot.
func atLargest(s instancestate.Snapshot, err error) bool {
	return s.Instance.Runtime.Generation.Uint64() == generation.Max && errors.Is(err, generation.ErrOverflow)
}

// CheckSnapshot is CheckSnapshotAt at the latest time the snapshot records
// and, when the instance is in an auto-restart cooldown, also at the
// instant the cooldown ends.
func CheckSnapshot(s instancestate.Snapshot) error {
	if err := CheckSnapshotAt(s, Latest(s)); err != nil {
		return err
	}
	if last := s.Instance.Runtime.TimeLastAutoRestarted; !last.IsZero() {
		return CheckSnapshotAt(s, last.Add(s.Instance.AutoRestart.EffectiveCooldown()))
	}
	return nil
}

// CheckSnapshotAt reports the first invariant the snapshot breaks at now.
// The snapshot must validate (D17), and then every function of
// instancestate that derives something from it must be total on it and
// agree with itself:
//
//   - EffectiveState returns a valid state, never repairing (§2.1), and
//     stopped whenever the active VMM is saga_unwound (D10), even beside a
//     migration still in flight: D10 wins over §7 rule 1;
//   - Decide answers every request without error, with a valid action; a
//     request is accepted exactly when its status is 200; a refusal carries
//     a message and status 400, 409 or 500 and never an intent (D16); an
//     accepted request carries the intent §10.1 writes (start and reboot:
//     running, stop: stopped, delete: destroyed, migrate: none); send_to_sled
//     has a VMM to send to and a requested state; update_runtime writes the
//     next generation along a CanMove edge;
//   - PlanUpdate returns a zero plan when nothing is required, and
//     otherwise a plan at the next generation that Snapshot.Apply commits
//     to a valid snapshot, as a step CheckSnapshotStep accepts, on which PlanUpdate
//     then requires nothing (the plan is a fixpoint);
//   - Reincarnate: Should only when Needs, WillReincarnate and unlocked
//     (D15); a cooldown has an end after now, and only a cooldown has one;
//   - Conditions: valid types, in type order, each at most once;
//     StartFailed exactly when a start failure is recorded (D13), and
//     AutoRestartCoolingDown only while a needed restart cools down (D14);
//   - Next returns a valid action, wait has an end after now, and asking
//     twice gives the same answer (D19).
//
// The only error a valid snapshot may get from these is
// generation.ErrOverflow from an operation that writes the instance record
// when its generation is already the largest.
func CheckSnapshotAt(s instancestate.Snapshot, now time.Time) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvariant, err)
	}
	e, err := instancestate.EffectiveState(s)
	switch {
	case err != nil:
		return broken("EffectiveState: %w", err)
	case !e.IsValid() || e == instancestate.Repairing:
		return broken("EffectiveState derived %v", e)
	case s.HasActive() && s.Active.Runtime.State == vmmstate.SagaUnwound && e != instancestate.Stopped:
		return broken("D10: an instance whose active VMM is saga_unwound reads %v, not stopped", e)
	}
	for _, r := range instancestate.AllRequests() {
		d, err := instancestate.Decide(s, r, now)
		if err != nil {
			if atLargest(s, err) {
				continue
			}
			return broken("Decide(%v): %w", r, err)
		}
		if err := checkDecision(s, r, d); err != nil {
			return err
		}
	}
	if err := checkPlan(s, now); err != nil {
		return err
	}

	re, err := instancestate.Reincarnate(s, now)
	switch {
	case err != nil:
		return broken("Reincarnate: %w", err)
	case !re.Status.IsValid():
		return broken("Reincarnate: status %v", re.Status)
	case re.Should && (!re.Needs || re.Status != instancestate.WillReincarnate || s.Instance.IsLocked()):
		return broken("Reincarnate: should, yet needs=%v status=%v locked=%v", re.Needs, re.Status, s.Instance.IsLocked())
	case (re.Status == instancestate.CoolingDown) != !re.Until.IsZero():
		return broken("Reincarnate: status %v with until %v", re.Status, re.Until)
	case re.Status == instancestate.CoolingDown && !re.Until.After(now):
		return broken("Reincarnate: cooling down until %v, not after now %v", re.Until, now)
	case re.Why == "":
		return broken("Reincarnate: no reason given (%+v)", re)
	}

	conds, err := instancestate.Conditions(s, now)
	if err != nil {
		return broken("Conditions: %w", err)
	}
	var prev instancestate.ConditionType
	has := map[instancestate.ConditionType]bool{}
	for _, c := range conds {
		if !c.Type.IsValid() || c.Type <= prev {
			return broken("Conditions: %v out of order or invalid in %+v", c.Type, conds)
		}
		prev, has[c.Type] = c.Type, true
	}
	if has[instancestate.CondStartFailed] != s.Instance.HasStartFailure() {
		return broken("D13: StartFailed condition %v, start failure recorded %v", has[instancestate.CondStartFailed], s.Instance.HasStartFailure())
	}
	if has[instancestate.CondAutoRestartCoolingDown] && !(re.Needs && re.Status == instancestate.CoolingDown) {
		return broken("D14: AutoRestartCoolingDown shown, yet reincarnation is %+v", re)
	}

	n, err := instancestate.Next(s, now)
	switch {
	case err != nil:
		return broken("Next: %w", err)
	case !n.Action.IsValid():
		return broken("Next: action %v", n.Action)
	case (n.Action == instancestate.NextWait) != !n.Until.IsZero():
		return broken("Next: %v with until %v", n.Action, n.Until)
	case n.Action == instancestate.NextWait && !n.Until.After(now):
		return broken("Next: wait until %v, not after now %v", n.Until, now)
	}
	if again, err := instancestate.Next(s, now); err != nil || again != n {
		return broken("D19: Next is not idempotent: %+v, then %+v (%v)", n, again, err)
	}
	return checkLiveness(s, now, n, has)
}

// checkLiveness checks what D30, D32 and D34 promise: Next inspects only
// the record NotProgressing names, and aborts only the migration
// StalledMigration names, stopping its target and never the active VMM.
func checkLiveness(s instancestate.Snapshot, now time.Time, n instancestate.NextAction, has map[instancestate.ConditionType]bool) error {
	c, stuck, err := instancestate.NotProgressing(s, now)
	switch {
	case err != nil:
		return broken("NotProgressing: %w", err)
	case stuck != has[instancestate.CondNotProgressing]:
		return broken("D32: NotProgressing %v, condition shown %v", stuck, has[instancestate.CondNotProgressing])
	case n.Action == instancestate.NextInspect && (!stuck || n.Record != c.Record):
		return broken("D32: Next inspects %+v, NotProgressing says %+v (%v)", n.Record, c.Record, stuck)
	}
	a, stalled, err := instancestate.StalledMigration(s, now)
	switch {
	case err != nil:
		return broken("StalledMigration: %w", err)
	case stalled != has[instancestate.CondMigrationStalled]:
		return broken("D34: StalledMigration %v, condition shown %v", stalled, has[instancestate.CondMigrationStalled])
	case n.Action == instancestate.NextAbortMigration && (!stalled || n.Migration != a.Migration || n.StopVMM != a.StopVMM || n.StopVMM == s.Active.ID):
		return broken("D34: Next aborts %+v, StalledMigration says %+v (%v)", n, a, stalled)
	}
	return nil
}

// intentOf is the intent §10.1 writes for an accepted request (0: none).
var intentOf = map[instancestate.Request]instancestate.IntendedState{
	instancestate.RequestStart:  instancestate.IntendRunning,
	instancestate.RequestReboot: instancestate.IntendRunning,
	instancestate.RequestStop:   instancestate.IntendStopped,
	instancestate.RequestDelete: instancestate.IntendDestroyed,
}

func checkDecision(s instancestate.Snapshot, r instancestate.Request, d instancestate.Decision) error {
	rt := s.Instance.Runtime
	switch {
	case !d.Action.IsValid():
		return broken("Decide(%v): action %v", r, d.Action)
	case d.Accepted() != (d.Status == 200):
		return broken("Decide(%v): %v with status %d", r, d.Action, d.Status)
	case !d.Accepted() && d.Intent != 0:
		return broken("D16: Decide(%v) rejected (%d %q) yet writes intent %v", r, d.Status, d.Message, d.Intent)
	case (d.Status == 404) != (rt.State == instancestate.NexusDestroyed):
		return broken("D23: Decide(%v) on a %v instance answers %d", r, rt.State, d.Status)
	case !d.Accepted() && (d.Message == "" || d.Status != 400 && d.Status != 404 && d.Status != 409 && d.Status != 500 &&
		!(d.Status == 503 && r == instancestate.RequestMigrate)):
		return broken("Decide(%v): rejected with status %d and message %q", r, d.Status, d.Message)
	case d.Accepted() && d.Intent != intentOf[r]:
		return broken("§10.1: Decide(%v) accepted with intent %v, want %v", r, d.Intent, intentOf[r])
	}
	switch d.Action {
	case instancestate.ActionSendToSled:
		if !s.HasActive() || s.Active.Runtime.State == vmmstate.SagaUnwound || !d.SledRequest.IsValid() {
			return broken("Decide(%v): send %v to the sled of active VMM %v", r, d.SledRequest, s.Active)
		}
	case instancestate.ActionUpdateRuntime:
		if !d.Runtime.Generation.After(rt.Generation) {
			return broken("Decide(%v): update_runtime at generation %v, stored %v", r, d.Runtime.Generation, rt.Generation)
		}
		if d.Runtime.State != rt.State && !instancestate.CanMove(rt.State, d.Runtime.State) {
			return broken("Decide(%v): update_runtime moves %v → %v, no such edge", r, rt.State, d.Runtime.State)
		}
	case instancestate.ActionStartSaga:
		if s.HasActive() && s.Active.Runtime.State != vmmstate.SagaUnwound {
			return broken("Decide(%v): a start saga while VMM %v is active", r, s.Active)
		}
	}
	return nil
}

func checkPlan(s instancestate.Snapshot, now time.Time) error {
	p, required, err := instancestate.PlanUpdate(s, now)
	switch {
	case err != nil && atLargest(s, err):
		return nil
	case err != nil:
		return broken("PlanUpdate: %w", err)
	case !required && p != (instancestate.Plan{}):
		return broken("PlanUpdate: nothing required, yet plan %+v", p)
	case !required:
		return nil
	}
	if want, _ := s.Instance.Runtime.Generation.Next(); p.Runtime.Generation != want {
		return broken("PlanUpdate: plan at generation %v, want %v", p.Runtime.Generation, want)
	}
	after, err := s.Apply(p)
	if err != nil {
		return broken("Apply(PlanUpdate): %w\nplan %+v", err, p)
	}
	if err := CheckSnapshotStep(s, after); err != nil {
		return fmt.Errorf("Apply(PlanUpdate): %w", err)
	}
	if again, required, err := instancestate.PlanUpdate(after, now); err != nil || required {
		return broken("PlanUpdate is not a fixpoint: after applying %+v it plans %+v (%v)", p, again, err)
	}
	return nil
}

// CheckSnapshotStep reports the first invariant broken by one change of a snapshot,
// from before to after, whatever made it — a report, a plan, a request, a
// saga step or a simulator:
//
//   - the instance keeps its id; its state_generation never decreases, and
//     its runtime changes only with a newer one (§8.1); its nexus state stays
//     or moves along an edge of instancestate.CanMove;
//   - updater_gen never decreases, and the lock changes hands only with a
//     newer one (§9);
//   - a VMM present in both (as active or target, matched by id) keeps its
//     instance and sled, and its runtime changes as CheckVMMStep
//     allows: only with a newer generation, along an edge of its table or
//     to a newer report of the same reportable state, and never once
//     terminal (D5–D7);
//   - a migration present in both (matched by id) changes as
//     CheckMigrationStep allows — same id, instance, VMMs and creation
//     time; no side's generation decreases; a side changes only with a
//     newer one and never once terminal (D5, D6) — and each side moves
//     along migration.CanTransition;
//   - a snapshot that validated still validates (D17).
func CheckSnapshotStep(before, after instancestate.Snapshot) error {
	bi, ai := before.Instance, after.Instance
	br, ar := bi.Runtime, ai.Runtime
	switch {
	case ai.ID != bi.ID:
		return broken("the instance id changed: %v → %v", bi.ID, ai.ID)
	case ar.Generation.Before(br.Generation):
		return broken("state_generation went back: %v → %v", br.Generation, ar.Generation)
	case ar != br && !ar.Generation.After(br.Generation):
		return broken("the instance runtime changed at generation %v: %+v → %+v", ar.Generation, br, ar)
	case ar.State != br.State && !instancestate.CanMove(br.State, ar.State):
		return broken("the nexus state moved %v → %v, which is no edge", br.State, ar.State)
	case ai.UpdaterGen.Before(bi.UpdaterGen):
		return broken("updater_gen went back: %v → %v", bi.UpdaterGen, ai.UpdaterGen)
	case ai.UpdaterID != bi.UpdaterID && !ai.UpdaterGen.After(bi.UpdaterGen):
		return broken("the updater lock changed hands (%v → %v) at updater_gen %v", bi.UpdaterID, ai.UpdaterID, ai.UpdaterGen)
	}
	for _, b := range [...]vmmstate.VMM{before.Active, before.Target} {
		for _, a := range [...]vmmstate.VMM{after.Active, after.Target} {
			if !b.ID.IsZero() && a.ID == b.ID {
				if err := checkVMMStep(b, a); err != nil {
					return err
				}
			}
		}
	}
	if before.HasMigration() && after.Migration.ID == before.Migration.ID {
		if err := checkMigrationStep(before.Migration, after.Migration); err != nil {
			return err
		}
	}
	if before.Validate() == nil {
		if err := after.Validate(); err != nil {
			return fmt.Errorf("%w: a valid snapshot became invalid: %w", ErrInvariant, err)
		}
	}
	return nil
}

func checkVMMStep(b, a vmmstate.VMM) error {
	if a.InstanceID != b.InstanceID || a.SledID != b.SledID {
		return broken("VMM %v moved: %v → %v", b.ID, b, a)
	}
	rb, ra := b.Runtime, a.Runtime
	outcome := vmmstate.Applied
	if ra.State == rb.State && ra.Generation == rb.Generation && ra.TimeUpdated.Equal(rb.TimeUpdated) {
		outcome = vmmstate.Unchanged
	}
	if err := CheckVMMStep(rb, ra, outcome, nil); err != nil {
		return fmt.Errorf("%w: VMM %v: %w", ErrInvariant, b.ID, err)
	}
	return nil
}

func checkMigrationStep(b, a migration.Record) error {
	outcome := vmmstate.Applied
	if a == b {
		outcome = vmmstate.Unchanged
	}
	if err := CheckMigrationStep(b, a, outcome, nil); err != nil {
		return fmt.Errorf("%w: migration %v: %w", ErrInvariant, b.ID, err)
	}
	// CheckMigrationStep leaves the edges to Apply; a step made by
	// anything else must follow them too.
	for _, role := range migration.AllRoles() {
		sb, sa := b.Side(role), a.Side(role)
		if sa.State != sb.State && !migration.CanTransition(sb.State, sa.State) {
			return broken("migration %v %v side moved %v → %v, which is no edge", b.ID, role, sb.State, sa.State)
		}
	}
	return nil
}

// CheckExplained reports an instance that is meant to run, is not running,
// and does not say why (D13, D19). With intended state running
// and an effective state other than running, one of these must hold:
//
//   - a condition says why: StartFailed (the last start failed, D13),
//     AutoRestartCoolingDown (a restart waits for the cooldown, D14) or
//     VMMLost (the control plane lost its VMM, D22).
//     SledUnreachable alone does not count: it says the VMM's state is
//     unknown, not why the instance is not running;
//   - Next converges: start, reincarnate, run_update or wait (D19);
//   - the instance is in transition: its effective state is creating,
//     starting, stopping, rebooting or migrating, and the VMM or saga in
//     charge will report the outcome;
//   - an instance updater holds the lock: it is converging the instance,
//     and Next says none until it lets go;
//   - it is failed and its auto-restart policy is never: the user chose
//     that nothing restarts it;
//   - it is destroyed: nothing can converge a deleted instance, and its
//     state is the whole story (the create saga's unwinding deletes an
//     instance created to run, §16, without changing its intent).
//
// Anything else is an error matching ErrUnexplained, which names the
// effective state, Next's answer and the conditions. A snapshot that does
// not validate is an ErrInvariant error.
//
// Every snapshot Snapshot draws passes. One valid snapshot the library
// leaves unexplained is known: at the largest state_generation the update
// plan cannot be written, so Next does not ask for it (it offers no
// action for a plan it cannot make), and an instance whose active VMM is
// saga_unwound, with auto-restart never, then reads stopped with nothing
// saying why.
func CheckExplained(s instancestate.Snapshot, now time.Time) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvariant, err)
	}
	if s.Instance.IntendedState != instancestate.IntendRunning {
		return nil
	}
	e, err := instancestate.EffectiveState(s)
	if err != nil {
		return broken("EffectiveState: %w", err)
	}
	switch e {
	case instancestate.Running,
		instancestate.Creating, instancestate.Starting, instancestate.Stopping,
		instancestate.Rebooting, instancestate.Migrating,
		instancestate.Destroyed:
		return nil
	case instancestate.Failed:
		if s.Instance.AutoRestart.EffectivePolicy() == instancestate.PolicyNever {
			return nil
		}
	}
	if s.Instance.IsLocked() {
		return nil
	}
	conds, err := instancestate.Conditions(s, now)
	if err != nil {
		return broken("Conditions: %w", err)
	}
	for _, c := range conds {
		switch c.Type {
		case instancestate.CondStartFailed, instancestate.CondAutoRestartCoolingDown, instancestate.CondVMMLost:
			return nil
		}
	}
	n, err := instancestate.Next(s, now)
	if err != nil {
		return broken("Next: %w", err)
	}
	switch n.Action {
	case instancestate.NextStart, instancestate.NextReincarnate, instancestate.NextRunUpdate, instancestate.NextWait:
		return nil
	}
	return fmt.Errorf("%w: intended running, effective %v, next %v (%s), conditions %+v",
		ErrUnexplained, e, n.Action, n.Why, conds)
}

// Reference is the time Latest answers for a snapshot that records none,
// and the time instancetest's generators draw around.
var Reference = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// Latest returns the latest time the snapshot records, or Reference when it
// records none: the "now" at which its checkers read a snapshot that comes
// with no time of its own.
func Latest(s instancestate.Snapshot) time.Time {
	in := s.Instance
	var out time.Time
	for _, t := range [...]time.Time{
		in.Runtime.TimeUpdated, in.Runtime.TimeLastAutoRestarted, in.StartFailure.Time, in.VMMLost.Time,
		s.Active.Runtime.TimeUpdated, s.Target.Runtime.TimeUpdated,
		s.Migration.TimeCreated, s.Migration.Source.TimeUpdated, s.Migration.Target.TimeUpdated,
		s.SledUnreachableSince,
	} {
		if t.After(out) {
			out = t
		}
	}
	if out.IsZero() {
		return Reference
	}
	return out
}

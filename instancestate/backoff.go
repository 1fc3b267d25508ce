package instancestate

import (
	"math"
	"time"

	"github.com/vmlife/vmlife/failure"
)

// The defaults of a Backoff that sets Base but leaves a field zero (D33).
const (
	DefaultBackoffBase    = 10 * time.Second  // KubeVirt's step
	DefaultBackoffCap     = 300 * time.Second // KubeVirt's cap, and Omicron's default cooldown
	DefaultStableAfter    = 10 * time.Minute
	DefaultPlacementRetry = time.Minute
)

// MaxRestartFailures is the largest count of failed restarts an instance
// record holds; the count stops there.
const MaxRestartFailures = 1 << 20

// Backoff is the restart backoff policy (D33). With it on, an automatic
// restart waits Base × n² after the last one, at most Cap, where n is the
// instance's count of failed restarts in a row (Instance.RestartFailures),
// instead of Omicron's fixed cooldown; a failure that comes StableAfter or
// more after the last automatic restart starts the count again; and a
// start that failed for want of room or placement (a transient placement
// cause of D13) is retried PlacementRetry after it failed and does not
// count.
//
// Its zero value is off: the fixed cooldown of D15 applies. A zero field
// beside a positive Base takes its default.
type Backoff struct {
	Base           time.Duration // zero: off
	Cap            time.Duration // zero: DefaultBackoffCap
	StableAfter    time.Duration // zero: DefaultStableAfter
	PlacementRetry time.Duration // zero: DefaultPlacementRetry
}

// KubeVirtBackoff returns the backoff KubeVirt applies to a VM that keeps
// failing: 10 s × failures², at most 300 s.
func KubeVirtBackoff() Backoff { return Backoff{Base: DefaultBackoffBase, Cap: DefaultBackoffCap} }

// Enabled reports whether the backoff is on (Base is positive).
func (b Backoff) Enabled() bool { return b.Base > 0 }

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Wait returns how long an automatic restart waits after the last one when
// the instance has failed n restarts in a row: Base × n², at most Cap; zero
// for n ≤ 0 or a backoff that is off. It never decreases as n grows.
func (b Backoff) Wait(n int) time.Duration {
	if !b.Enabled() || n <= 0 {
		return 0
	}
	limit := orDefault(b.Cap, DefaultBackoffCap)
	if n > math.MaxInt32 {
		return limit
	}
	sq := int64(n) * int64(n) // below 2^62: no overflow
	if int64(b.Base) > int64(limit)/sq {
		return limit
	}
	return b.Base * time.Duration(sq)
}

// stableAfter and placementRetry are the fields or their defaults.
func (b Backoff) stableAfter() time.Duration { return orDefault(b.StableAfter, DefaultStableAfter) }
func (b Backoff) placementRetry() time.Duration {
	return orDefault(b.PlacementRetry, DefaultPlacementRetry)
}

// placementFailure reports whether f is a start that failed for want of
// room or placement and may succeed later: a transient failure whose cause
// is capacity, affinity or local storage (D13). It is retried on its own
// schedule and does not count as the instance failing (D33).
func placementFailure(f failure.StartFailure) bool {
	if !f.Transient {
		return false
	}
	switch f.Cause {
	case failure.CauseInsufficientCapacity, failure.CauseAffinityUnsatisfiable,
		failure.CauseAntiAffinityUnsatisfiable, failure.CauseLocalStorageUnavailable:
		return true
	}
	return false
}

// failureCount is the count of failed restarts the update plan records
// when it leaves the instance down at time at (D33): one more than the
// stored count, or one when the instance was never restarted
// automatically or ran StableAfter or longer since its last automatic
// restart. The count is kept whether or not the backoff is on, so that a
// policy turned on later reads a true count.
func (s *Snapshot) failureCount(at time.Time) int {
	in := &s.Instance
	last := in.Runtime.TimeLastAutoRestarted
	if last.IsZero() || !at.Before(last.Add(s.Policy.Backoff.stableAfter())) {
		return 1
	}
	return min(in.RestartFailures+1, MaxRestartFailures)
}

// Why a restart waits, as the AutoRestartCoolingDown condition's reason.
const (
	waitCooldown       = "cooldown"        // D15's fixed cooldown
	waitBackoff        = "backoff"         // D33: the wait grows with the failures
	waitPlacementRetry = "placement_retry" // D33: no room yet; retried on its own schedule
)

// reincarnatability is Instance.reincarnatability under the snapshot's backoff policy (D33): with
// the backoff off it is the fixed cooldown of D15; with it on, a start
// that failed for want of room is retried PlacementRetry after it failed,
// and any other restart waits Backoff.Wait of the failure count after the
// last automatic restart. It returns the reason for a wait too.
func (s *Snapshot) reincarnatability(now time.Time) (Reincarnatability, time.Time, string) {
	in := &s.Instance
	b := s.Policy.Backoff
	if !b.Enabled() {
		k, until := in.reincarnatability(now)
		return k, until, waitCooldown
	}
	if in.AutoRestart.EffectivePolicy() == PolicyNever {
		return Nirvana, time.Time{}, ""
	}
	var until time.Time
	why := waitBackoff
	if in.Runtime.State == NexusNoVMM && in.hasStartFailure() && placementFailure(in.StartFailure) {
		until, why = in.StartFailure.Time.Add(b.placementRetry()), waitPlacementRetry
	} else if last := in.Runtime.TimeLastAutoRestarted; !last.IsZero() {
		until = last.Add(b.Wait(max(in.RestartFailures, 1)))
	}
	if until.IsZero() || !now.Before(until) {
		return WillReincarnate, time.Time{}, ""
	}
	return CoolingDown, until, why
}

package instancestate

import (
	"time"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/vmmstate"
)

// Reincarnatability says whether the auto-restart policy and cooldown let an instance be
// restarted now (§17.1's Reincarnatability). The zero value is invalid.
type Reincarnatability uint8

// The reincarnatabilities.
const (
	WillReincarnate Reincarnatability = iota + 1 // the policy allows it and no cooldown is running
	CoolingDown                                  // the policy allows it after Reincarnation.Until
	Nirvana                                      // the policy is never: no automatic restart
)

var reincarnatabilities = enum.New[Reincarnatability]("instancestate.Reincarnatability", false, "will_reincarnate", "cooling_down", "nirvana")

// AllReincarnatabilities returns the three reincarnatabilities in declaration order.
func AllReincarnatabilities() []Reincarnatability { return reincarnatabilities.All() }

// IsValid reports whether k is one of the three reincarnatabilities.
func (k Reincarnatability) IsValid() bool { return reincarnatabilities.Valid(k) }

// String returns the wire string, or "instancestate.Reincarnatability(n)".
func (k Reincarnatability) String() string { return reincarnatabilities.String(k) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (k Reincarnatability) GoString() string { return reincarnatabilities.GoString(k) }

// MarshalText implements encoding.TextMarshaler.
func (k Reincarnatability) MarshalText() ([]byte, error) { return reincarnatabilities.Append(nil, k) }

// UnmarshalText implements encoding.TextUnmarshaler; on error k is unchanged.
func (k *Reincarnatability) UnmarshalText(b []byte) error {
	return unmarshal(reincarnatabilities, k, b)
}

// AppendText implements encoding.TextAppender.
func (k Reincarnatability) AppendText(b []byte) ([]byte, error) {
	return reincarnatabilities.Append(b, k)
}

// Reincarnation is the auto-restart verdict for an instance (§17.1 as
// amended by D15).
type Reincarnation struct {
	// Needs: the instance intends to run but is down in a way an automatic
	// restart may fix — failed, holding a saga_unwound active VMM, or
	// stopped after a transient start failure — and no permanent start
	// failure waits for a user (D15).
	Needs bool
	// Status: what the policy and cooldown allow now; Until is when a
	// running cooldown ends (CoolingDown only).
	Status Reincarnatability
	Until  time.Time
	// Should: Needs, WillReincarnate, and the updater lock is free (§17.2).
	Should bool
	// Why says, in a sentence, which rule decided.
	Why string

	wait string // why it cools down: "" (the cooldown) or a reason of D33
}

// Reincarnatability returns what the policy and cooldown allow at now (§17.1): never →
// Nirvana; a last automatic restart whose cooldown (configured or 5 minutes)
// has not yet passed → CoolingDown until it does; otherwise WillReincarnate.
func (i Instance) Reincarnatability(now time.Time) (Reincarnatability, time.Time) {
	return i.reincarnatability(now)
}

// reincarnatability is Reincarnatability through a pointer (see hasActive).
func (i *Instance) reincarnatability(now time.Time) (Reincarnatability, time.Time) {
	if i.AutoRestart.EffectivePolicy() == PolicyNever {
		return Nirvana, time.Time{}
	}
	last := i.Runtime.TimeLastAutoRestarted
	if last.IsZero() {
		return WillReincarnate, time.Time{}
	}
	until := last.Add(i.AutoRestart.EffectiveCooldown())
	if !now.Before(until) {
		return WillReincarnate, time.Time{}
	}
	return CoolingDown, until
}

// Reincarnate decides whether the instance should be restarted automatically
// at now (§17.1 as amended by D15). It validates the snapshot first (D17).
func Reincarnate(s Snapshot, now time.Time) (Reincarnation, error) {
	if err := s.validate(); err != nil {
		return Reincarnation{}, err
	}
	return s.reincarnation(now), nil
}

// The ways an instance meant to run can be down so that a restart may
// help (D15, D22), and what each says in Reincarnation.Why with each
// verdict: constant strings, built once, so that deciding allocates
// nothing (the details are in the record and in Conditions).
const (
	downFailed = iota
	downUnwound
	downTransient
	downLost
	numDown
)

var downPhrases = [numDown]string{
	downFailed:    "the instance failed",
	downUnwound:   "its start saga unwound",
	downTransient: "the last start failed transiently",
	downLost:      "its VMM was lost",
}

// whys[down][verdict]: nirvana, cooling down, locked, restart.
var whys = func() (w [numDown][4]string) {
	for d, p := range downPhrases {
		w[d] = [4]string{
			p + ", but its auto-restart policy is never",
			p + "; waiting for the auto-restart cooldown to end",
			p + "; waiting for the instance updater to release its lock",
			p + " and intends to run: restart it",
		}
	}
	return w
}()

func (s *Snapshot) reincarnation(now time.Time) Reincarnation {
	in := &s.Instance
	var r Reincarnation
	var wait string
	r.Status, r.Until, wait = s.reincarnatability(now) // D15, or D33's backoff
	down := -1                                         // why the instance needs a restart, if it does
	switch {
	case in.IntendedState != IntendRunning:
		r.Why = "the intended state is not running"
	case in.hasStartFailure() && !in.StartFailure.Transient:
		r.Why = "the last start failed permanently: waiting for a user"
	case in.Runtime.State == NexusFailed:
		down = downFailed
	case s.hasActive() && s.Active.Runtime.State == vmmstate.SagaUnwound:
		down = downUnwound
	case in.Runtime.State == NexusNoVMM && in.hasStartFailure():
		down = downTransient
	case in.Runtime.State == NexusNoVMM && in.VMMLost.IsSet():
		// D22: left without a VMM by the control plane, not by the user or
		// the guest: eligible like a failed instance.
		down = downLost
	default:
		r.Why = "the instance is not down"
	}
	if down < 0 {
		return r
	}
	r.Needs = true
	switch r.Status {
	case Nirvana:
		r.Why = whys[down][0]
	case CoolingDown:
		r.Why = whys[down][1]
		if wait != waitCooldown {
			r.wait = wait
		}
	case WillReincarnate:
		if in.isLocked() {
			r.Why = whys[down][2]
		} else {
			r.Should = true
			r.Why = whys[down][3]
		}
	}
	return r
}

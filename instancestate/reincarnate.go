package instancestate

import (
	"fmt"
	"time"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/vmmstate"
)

// Karma says whether the auto-restart policy and cooldown let an instance be
// restarted now (§17.1's Reincarnatability). The zero value is invalid.
type Karma uint8

// The karmas.
const (
	WillReincarnate Karma = iota + 1 // the policy allows it and no cooldown is running
	CoolingDown                      // the policy allows it after Reincarnation.Until
	Nirvana                          // the policy is never: no automatic restart
)

var karmas = enum.New[Karma]("instancestate.Karma", false, "will_reincarnate", "cooling_down", "nirvana")

// AllKarmas returns the three karmas in declaration order.
func AllKarmas() []Karma { return karmas.All() }

// IsValid reports whether k is one of the three karmas.
func (k Karma) IsValid() bool { return karmas.Valid(k) }

// String returns the wire string, or "instancestate.Karma(n)".
func (k Karma) String() string { return karmas.String(k) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (k Karma) GoString() string { return karmas.GoString(k) }

// MarshalText implements encoding.TextMarshaler.
func (k Karma) MarshalText() ([]byte, error) { return karmas.Append(nil, k) }

// UnmarshalText implements encoding.TextUnmarshaler; on error k is unchanged.
func (k *Karma) UnmarshalText(b []byte) error { return unmarshal(karmas, k, b) }

// AppendText implements encoding.TextAppender.
func (k Karma) AppendText(b []byte) ([]byte, error) { return karmas.Append(b, k) }

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
	Status Karma
	Until  time.Time
	// Should: Needs, WillReincarnate, and the updater lock is free (§17.2).
	Should bool
	// Why says, in a sentence, which rule decided.
	Why string
}

// Karma returns what the policy and cooldown allow at now (§17.1): never →
// Nirvana; a last automatic restart whose cooldown (configured or 5 minutes)
// has not yet passed → CoolingDown until it does; otherwise WillReincarnate.
func (i Instance) Karma(now time.Time) (Karma, time.Time) {
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
	if err := s.Validate(); err != nil {
		return Reincarnation{}, err
	}
	return s.reincarnation(now), nil
}

func (s Snapshot) reincarnation(now time.Time) Reincarnation {
	in := s.Instance
	var r Reincarnation
	r.Status, r.Until = in.Karma(now)
	var down string // why the instance needs a restart, if it does
	switch {
	case in.IntendedState != IntendRunning:
		r.Why = fmt.Sprintf("intended state is %v, not running", in.IntendedState)
	case in.HasStartFailure() && !in.StartFailure.Transient:
		r.Why = fmt.Sprintf("the last start failed permanently (%v): waiting for a user", in.StartFailure.Cause)
	case in.Runtime.State == NexusFailed:
		down = "the instance failed"
	case s.HasActive() && s.Active.Runtime.State == vmmstate.SagaUnwound:
		down = "its start saga unwound"
	case in.Runtime.State == NexusNoVMM && in.HasStartFailure():
		down = fmt.Sprintf("the last start failed transiently (%v)", in.StartFailure.Cause)
	case in.Runtime.State == NexusNoVMM && in.VMMLost.IsSet():
		// D22: left without a VMM by the control plane, not by the user or
		// the guest: eligible like a failed instance.
		down = fmt.Sprintf("its VMM was lost (%v)", in.VMMLost.Cause)
	default:
		r.Why = "the instance is not down"
	}
	if down == "" {
		return r
	}
	r.Needs = true
	switch r.Status {
	case Nirvana:
		r.Why = down + ", but its auto-restart policy is never"
	case CoolingDown:
		r.Why = fmt.Sprintf("%s; the auto-restart cooldown ends at %s", down, r.Until.UTC().Format(time.RFC3339))
	case WillReincarnate:
		if in.IsLocked() {
			r.Why = down + "; waiting for the instance updater to release its lock"
		} else {
			r.Should = true
			r.Why = down + " and intends to run: restart it"
		}
	}
	return r
}

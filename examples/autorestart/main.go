// Command autorestart loses a VMM with its sled and lets vmlife bring the
// instance back: the instance watcher proves the VMM dead (the sled is
// powered off, D18), the update plan marks the instance failed (§13.3), the
// reincarnation rules restart it (D15) — the first restart fails, and the
// user sees why and when the next attempt is due (D13, D14) — and after the
// cooldown the second restart succeeds.
//
// At every step it prints what `vmlife explain` would: the effective state,
// the conditions, and the next action (D19).
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vmlife/vmlife/examples/internal/demo"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "autorestart:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	c := demo.NewClock()
	a, b, cc := demo.VMM(1), demo.VMM(2), demo.VMM(3)
	p := demo.Printer{W: w, Names: map[vmmstate.ID]string{a: "A", b: "B", cc: "C"}}
	explain := func(s instancestate.Snapshot) error { return explainLine(w, s, c.T) }

	s, err := start(c, instancestate.Snapshot{Instance: instancestate.New(demo.Instance(1), true, instancestate.AutoRestart{}, c.Tick())}, a, demo.Sled(1), failure.StartReasonAutoStart)
	if err != nil {
		return err
	}
	if s, _, err = instancestate.ApplyReport(s, a, demo.VMMReport(vmmstate.SledAgentRunning, 3, c.Tick())); err != nil {
		return err
	}
	p.Show("running on A (sled 1)", s)

	// Sled 1 stops answering. In A0 (powered on) that proves nothing (D18)…
	c.Advance(time.Minute)
	v, err := failure.CheckHealth(failure.Check{Err: &failure.Outcome{Communication: failure.CommTimeout}, Power: failure.PowerA0})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%-36s %s: state left alone\n", "watcher: timeout, sled in A0", v.Label())
	s.SledUnreachableSince = c.T
	if err := explain(s); err != nil {
		return err
	}
	// …but the management network then reports the sled powered off: proof.
	c.Advance(time.Minute)
	if v, err = failure.CheckHealth(failure.Check{Err: &failure.Outcome{Communication: failure.CommTimeout}, Power: failure.PowerA2}); err != nil {
		return err
	}
	fmt.Fprintf(w, "%-36s %s\n", "watcher: timeout, sled in A2", v.Label())
	if s.Active.Runtime, _, err = s.Active.Runtime.Transition(vmmstate.Failed(v.Reason), c.Tick()); err != nil {
		return err
	}
	s.SledUnreachableSince = time.Time{}
	p.Show("A marked failed", s)
	if s, err = p.Update(s, c.Tick()); err != nil {
		return err
	}
	if err := explain(s); err != nil {
		return err
	}

	// First restart: MarkAsStarting stamps the restart time, then the
	// sled-agent refuses to register B. The saga unwinds and records why.
	started, err := start(c, s, b, demo.Sled(2), failure.StartReasonAutoRestart)
	if err != nil {
		return err
	}
	p.Show("auto-restart linked B", started)
	s.Instance, _, err = instancestate.UnwindStart(started.Instance, started.Instance, c.Tick())
	if err != nil {
		return err
	}
	if s.Instance, err = s.Instance.RecordStartFailure(failure.NewStartFailure(failure.CauseSledAgentError, failure.StartReasonAutoRestart, c.T)); err != nil {
		return err
	}
	p.Show("registering B failed; saga unwound", s)
	if err := explain(s); err != nil {
		return err
	}

	// Asking again before anything changed gives the same answer (D19)…
	c.Advance(time.Minute)
	if err := explain(s); err != nil {
		return err
	}
	// …and after the cooldown the restart is due.
	c.Advance(5 * time.Minute)
	if err := explain(s); err != nil {
		return err
	}
	if s, err = start(c, s, cc, demo.Sled(3), failure.StartReasonAutoRestart); err != nil {
		return err
	}
	if s, _, err = instancestate.ApplyReport(s, cc, demo.VMMReport(vmmstate.SledAgentRunning, 3, c.Tick())); err != nil {
		return err
	}
	s.Instance = s.Instance.ClearStartFailure() // D13: a successful start clears it
	p.Show("running on C (sled 3)", s)
	return explain(s)
}

// start is the start saga's happy part (§14): link a new VMM and register it
// on its sled as starting.
func start(c *demo.Clock, s instancestate.Snapshot, vmm vmmstate.ID, sled vmmstate.SledID, why failure.StartReason) (instancestate.Snapshot, error) {
	var err error
	if s.Instance.Runtime.State == instancestate.NexusCreating {
		if s.Instance, _, err = instancestate.FinishCreate(s.Instance, c.Tick()); err != nil {
			return s, err
		}
	}
	rec := vmmstate.New(vmm, s.Instance.ID, sled, c.Tick())
	if s.Instance, err = instancestate.MarkAsStarting(s, rec, why, c.T); err != nil {
		return s, err
	}
	s.Active = rec
	s.Active.Runtime, _, err = s.Active.Runtime.Transition(vmmstate.Starting, c.Tick())
	return s, err
}

// explainLine prints what `vmlife explain` says about s at now.
func explainLine(w io.Writer, s instancestate.Snapshot, now time.Time) error {
	e, err := instancestate.EffectiveState(s)
	if err != nil {
		return err
	}
	conds, err := instancestate.Conditions(s, now)
	if err != nil {
		return err
	}
	next, err := instancestate.Next(s, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   explain at %s: %v; next %v", now.Format("15:04:05"), e, next.Action)
	if !next.Until.IsZero() {
		fmt.Fprintf(w, " until %s", next.Until.Format("15:04:05"))
	}
	fmt.Fprintln(w)
	for _, c := range conds {
		fmt.Fprintf(w, "     condition %v (%s): %s\n", c.Type, c.Reason, c.Message())
	}
	return nil
}

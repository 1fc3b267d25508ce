// Package demo holds what the example programs share: a simulated clock,
// readable fixed ids, and printing a snapshot or a report's effect on one
// line. It is scaffolding for the examples, not part of vmlife's API.
package demo

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// Clock is simulated time: vmlife never reads a clock (D1), so the examples
// pass it in.
type Clock struct{ T time.Time }

// NewClock starts a clock at 2026-11-21T10:00:00Z.
func NewClock() *Clock { return &Clock{T: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)} }

// Tick advances the clock by a second and returns the new time.
func (c *Clock) Tick() time.Time { return c.Advance(time.Second) }

// Advance moves the clock by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time { c.T = c.T.Add(d); return c.T }

func fixed(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012x", n)) }

// Instance, VMM and Sled return readable fixed ids numbered n.
func Instance(n int) instancestate.ID { return vmmstate.InstanceIDFromUUID(fixed(n)) }

// VMM returns the VMM id numbered n.
func VMM(n int) vmmstate.ID { return vmmstate.IDFromUUID(fixed(0xa00 + n)) }

// Sled returns the sled id numbered n.
func Sled(n int) vmmstate.SledID { return vmmstate.SledIDFromUUID(fixed(0xf00 + n)) }

// Printer writes one line per step.
type Printer struct {
	W     io.Writer
	Names map[vmmstate.ID]string // short names for VMMs ("A", "B", …)
}

func (p Printer) name(id vmmstate.ID) string {
	if n, ok := p.Names[id]; ok {
		return n
	}
	return id.String()[:8]
}

// Show prints the snapshot: the instance record, its VMMs and what the API
// shows for it.
func (p Printer) Show(step string, s instancestate.Snapshot) {
	e, err := instancestate.EffectiveState(s)
	if err != nil {
		fmt.Fprintf(p.W, "%-36s invalid snapshot: %v\n", step, err)
		return
	}
	line := fmt.Sprintf("%-36s instance %-12s", step, fmt.Sprintf("%v@%v", s.Instance.Runtime.State, s.Instance.Runtime.Generation))
	if s.HasActive() {
		line += fmt.Sprintf(" active %s %v@%v", p.name(s.Active.ID), s.Active.Runtime.State, s.Active.Runtime.Generation)
	}
	if s.HasTarget() && s.Target.ID != s.Active.ID {
		line += fmt.Sprintf(" target %s %v@%v", p.name(s.Target.ID), s.Target.Runtime.State, s.Target.Runtime.Generation)
	}
	if s.HasMigration() {
		m := s.Migration
		line += fmt.Sprintf(" migration %v@%v→%v@%v", m.Source.State, m.Source.Generation, m.Target.State, m.Target.Generation)
	}
	fmt.Fprintf(p.W, "%s  shows %v, intent %v\n", line, e, s.Instance.IntendedState)
}

// Request asks vmlife whether to accept r, prints the decision, and writes
// the intended state only when the request is accepted (D16).
func (p Printer) Request(s instancestate.Snapshot, r instancestate.Request, now time.Time) (instancestate.Snapshot, instancestate.Decision, error) {
	d, err := instancestate.Decide(s, r, now)
	if err != nil {
		return s, d, err
	}
	msg := ""
	if d.Message != "" {
		msg = ": " + d.Message
	}
	fmt.Fprintf(p.W, "%-36s %v (HTTP %d)%s\n", "request "+r.String(), d.Action, d.Status, msg)
	if d.Intent != 0 {
		s.Instance.IntendedState = d.Intent
	}
	return s, d, nil
}

// VMMReport builds a sled-agent report of state st at generation gen.
func VMMReport(st vmmstate.SledAgentState, gen uint32, now time.Time) instancestate.Report {
	return instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: st, Generation: generation.Of(gen), TimeUpdated: now}}
}

// Apply applies a sled-agent report from vmm and prints what it changed. A
// refused report is printed and the snapshot returned unchanged.
func (p Printer) Apply(s instancestate.Snapshot, vmm vmmstate.ID, r instancestate.Report) instancestate.Snapshot {
	out, res, err := instancestate.ApplyReport(s, vmm, r)
	step := fmt.Sprintf("%s reports %v@%v", p.name(vmm), r.VMM.State, r.VMM.Generation)
	if err != nil {
		fmt.Fprintf(p.W, "%-36s refused: %v\n", step, err)
		return s
	}
	fmt.Fprintf(p.W, "%-36s vmm %v", step, res.VMMOutcome)
	if r.MigrationIn != nil || r.MigrationOut != nil {
		fmt.Fprintf(p.W, ", migration in/out written: %v/%v", res.MigrationInUpdated, res.MigrationOutUpdated)
	}
	fmt.Fprintf(p.W, ", update needed: %v\n", res.UpdateSagaNeeded)
	return out
}

// Update runs the instance-update plan if one is required and prints it.
func (p Printer) Update(s instancestate.Snapshot, now time.Time) (instancestate.Snapshot, error) {
	plan, required, err := instancestate.PlanUpdate(s, now)
	if err != nil {
		return s, err
	}
	if !required {
		fmt.Fprintf(p.W, "%-36s no update needed\n", "update plan")
		return s, nil
	}
	out, err := s.Apply(plan)
	if err != nil {
		return s, err
	}
	p.Show("update plan committed", out)
	return out, nil
}

// Squash collapses every run of spaces in s to one, so tests of the
// examples' column-aligned output can state lines plainly.
func Squash(s string) string { return strings.Join(strings.Fields(s), " ") }

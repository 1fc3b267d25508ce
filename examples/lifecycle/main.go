// Command lifecycle walks one instance through its whole life — create,
// start, run, stop, delete — using only vmlife's decisions, and prints the
// instance's and its VMM's state and generation after every step.
//
// Watch the generations: every change bumps exactly one of them by one
// (D5) — the instance's when the control plane changes the instance record,
// the VMM's when its sled-agent reports (§3.5, §13.1).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/vmlife/vmlife/examples/internal/demo"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycle:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	c := demo.NewClock()
	vmm := demo.VMM(1)
	p := demo.Printer{W: w, Names: map[vmmstate.ID]string{vmm: "VMM"}}

	// Create: the record is inserted creating; the create saga moves it to
	// no_vmm (§16).
	s := instancestate.Snapshot{Instance: instancestate.New(demo.Instance(1), false, instancestate.AutoRestart{}, c.Tick())}
	p.Show("created", s)
	var err error
	if s.Instance, _, err = instancestate.FinishCreate(s.Instance, c.Tick()); err != nil {
		return err
	}
	p.Show("create saga finished", s)

	// Start: the request is accepted; the start saga inserts a VMM, links it
	// (§14) and registers it on its sled as starting.
	if s, _, err = p.Request(s, instancestate.RequestStart, c.Tick()); err != nil {
		return err
	}
	rec := vmmstate.New(vmm, s.Instance.ID, demo.Sled(1), c.Tick())
	if s.Instance, err = instancestate.MarkAsStarting(s, rec, failure.StartReasonUser, c.T); err != nil {
		return err
	}
	s.Active = rec
	p.Show("start saga linked its VMM", s)
	if s.Active.Runtime, _, err = s.Active.Runtime.Transition(vmmstate.Starting, c.Tick()); err != nil {
		return err
	}
	p.Show("registered on the sled", s)

	// The sled-agent reports the VMM running; then, after a stop request,
	// stopping and destroyed. Only the terminal report needs an update (§12).
	s = p.Apply(s, vmm, demo.VMMReport(vmmstate.SledAgentRunning, 3, c.Tick()))
	p.Show("running", s)
	if s, _, err = p.Request(s, instancestate.RequestStop, c.Tick()); err != nil {
		return err
	}
	s = p.Apply(s, vmm, demo.VMMReport(vmmstate.SledAgentStopping, 4, c.Tick()))
	s = p.Apply(s, vmm, demo.VMMReport(vmmstate.SledAgentDestroyed, 5, c.Tick()))
	p.Show("VMM destroyed, not yet unlinked", s)
	// The update plan unlinks the destroyed VMM: the instance is stopped.
	if s, err = p.Update(s, c.Tick()); err != nil {
		return err
	}

	// Delete.
	if s, _, err = p.Request(s, instancestate.RequestDelete, c.Tick()); err != nil {
		return err
	}
	if s.Instance, err = instancestate.Delete(s, c.Tick()); err != nil {
		return err
	}
	p.Show("delete saga finished", s)
	return nil
}

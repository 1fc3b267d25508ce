// Command outoforder delivers one VMM's sled-agent reports late,
// duplicated and shuffled, and shows that the VMM record never moves
// backward: a report applies only when its generation is newer than the
// stored one (D5), so however the reports arrive, the record ends at the
// newest one — and an illegal report is refused without changing anything
// (D7).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vmlife/vmlife/examples/internal/demo"
	"github.com/vmlife/vmlife/vmmstate"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "outoforder:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	c := demo.NewClock()
	// What the sled-agent observed, in order: each observation bumps the
	// generation (§3.5).
	sent := []vmmstate.SledAgentRuntime{}
	for i, st := range []vmmstate.SledAgentState{
		vmmstate.SledAgentStarting, vmmstate.SledAgentRunning, vmmstate.SledAgentRebooting,
		vmmstate.SledAgentRunning, vmmstate.SledAgentStopping, vmmstate.SledAgentDestroyed,
	} {
		r := demo.VMMReport(st, uint32(i+2), c.Tick()).VMM
		sent = append(sent, r)
	}
	fmt.Fprintf(w, "sent:      ")
	for _, r := range sent {
		fmt.Fprintf(w, "%v@%v ", r.State, r.Generation)
	}
	fmt.Fprintln(w)

	// How they arrive: shuffled, with duplicates and a straggler.
	order := []int{1, 0, 3, 1, 2, 5, 4, 3, 0}
	rt := vmmstate.NewRuntime(c.T)
	fmt.Fprintf(w, "stored:    %v@%v\n", rt.State, rt.Generation)
	for _, i := range order {
		next, outcome, err := rt.Observe(sent[i].Runtime())
		if err != nil {
			return err
		}
		if next.Generation.Before(rt.Generation) {
			return fmt.Errorf("generation went back from %v to %v", rt.Generation, next.Generation)
		}
		fmt.Fprintf(w, "arrives %-14s %-9v stored %v@%v\n", fmt.Sprintf("%v@%v", sent[i].State, sent[i].Generation), outcome, next.State, next.Generation)
		rt = next
	}

	// A report that would resurrect the destroyed VMM is refused, and the
	// error carries it so it can be logged; nothing changes (D6, D7).
	late := demo.VMMReport(vmmstate.SledAgentRunning, 99, c.Tick()).VMM
	_, _, err := rt.Observe(late.Runtime())
	var te *vmmstate.TransitionError
	if !errors.As(err, &te) {
		return fmt.Errorf("want a refusal, got %v", err)
	}
	fmt.Fprintf(w, "arrives %-14s refused: terminal=%v, report kept: %v@%v, stored %v@%v\n",
		"running@99", errors.Is(err, vmmstate.ErrTerminal), te.Report.State, te.Report.Generation, rt.State, rt.Generation)
	return nil
}

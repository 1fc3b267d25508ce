// Package peers measures one VMM lifecycle transition done four ways, each
// checking the edge table of D7: a hand-written switch (the floor), vmlife's
// vmmstate.Runtime, github.com/looplab/fsm and github.com/qmuntal/stateless.
//
// It is a separate module (github.com/vmlife/vmlife/bench/peers) so that the
// two peer libraries are never required by vmlife itself: importing vmlife
// must not pull in a benchmark's dependencies (the README's dependency rule).
//
// The peers are configured from vmmstate.AllKinds and vmmstate.Successors,
// never from a hand-copied table, and a test checks every implementation here
// against vmmstate.CanTransition for every pair of kinds. Each peer gets its
// library's idiomatic way of saying "already there, nothing to do": a
// self-loop answered by NoTransitionError for looplab/fsm, Ignore for
// stateless. Like vmlife, every implementation keeps a generation and bumps
// it only when the state changes (D5).
package peers

import (
	"context"
	"errors"
	"math"
	"slices"

	"github.com/looplab/fsm"
	"github.com/qmuntal/stateless"

	"github.com/vmlife/vmlife/vmmstate"
)

// Sentinel errors of the switch baseline and the peer wrappers.
var (
	// ErrIllegal: no edge of D7 leads from the current kind to the one asked
	// for, or the generation would pass 2^63−1.
	ErrIllegal = errors.New("peers: illegal VMM transition")
	// ErrInvalidKind: the kind asked for is not one of vmmstate.AllKinds.
	ErrInvalidKind = errors.New("peers: invalid VMM kind")
)

// Switch is the hand-written baseline: a kind, a generation, the D7 edge
// check as one switch, and a generation bump with an overflow check. It has
// no failure reason, no time stamp and no error detail: it is the floor
// vmlife is measured against, not a competitor.
type Switch struct {
	Kind       vmmstate.Kind
	Generation uint64
}

// switchEdge is D7 written out by hand; TestSwitchMatchesEdgeTable holds it
// to vmmstate.CanTransition for every pair.
func switchEdge(from, to vmmstate.Kind) bool {
	if from == to {
		return false
	}
	switch from {
	case vmmstate.KindCreating, vmmstate.KindStarting, vmmstate.KindRunning,
		vmmstate.KindRebooting, vmmstate.KindMigrating:
		return to > vmmstate.KindCreating && to <= vmmstate.KindSagaUnwound
	case vmmstate.KindStopping:
		return to == vmmstate.KindStopped || to == vmmstate.KindFailed ||
			to == vmmstate.KindDestroyed || to == vmmstate.KindSagaUnwound
	case vmmstate.KindStopped:
		return to == vmmstate.KindFailed || to == vmmstate.KindDestroyed || to == vmmstate.KindSagaUnwound
	case vmmstate.KindSagaUnwound:
		return to == vmmstate.KindFailed || to == vmmstate.KindDestroyed
	}
	return false
}

// Transition moves s to kind to as the control plane would: the same kind is
// a no-op (changed false, nil error), an edge of D7 bumps the generation, and
// anything else returns s unchanged with ErrIllegal.
func (s Switch) Transition(to vmmstate.Kind) (next Switch, changed bool, err error) {
	if to == s.Kind && to.IsValid() {
		return s, false, nil
	}
	if !switchEdge(s.Kind, to) || s.Generation >= math.MaxInt64 {
		return s, false, ErrIllegal
	}
	return Switch{Kind: to, Generation: s.Generation + 1}, true, nil
}

// Observe applies a sled-agent report as vmmstate.Runtime.Observe does (D5,
// D7): an invalid kind is refused, a report not newer than s is dropped,
// creating and saga_unwound cannot be reported, a terminal kind absorbs a
// report of itself, and a newer report of the same kind or along an edge
// replaces s.
func (s Switch) Observe(report Switch) (next Switch, changed bool, err error) {
	if !report.Kind.IsValid() || !s.Kind.IsValid() {
		return s, false, ErrInvalidKind // refused before staleness, as vmlife does
	}
	if report.Generation <= s.Generation {
		return s, false, nil // stale (D5)
	}
	to := report.Kind
	switch {
	case to == vmmstate.KindCreating || to == vmmstate.KindSagaUnwound:
		return s, false, ErrIllegal
	case to == s.Kind && (to == vmmstate.KindFailed || to == vmmstate.KindDestroyed):
		return s, false, nil // D6: terminal absorbs
	case to == s.Kind, switchEdge(s.Kind, to):
		return report, true, nil
	}
	return s, false, ErrIllegal
}

// Looplab is a VMM's kind held by a looplab/fsm machine: states are the
// kinds' database strings, and there is one event per destination,
// "to_<kind>", whose sources are every kind with an edge into it (D7).
type Looplab struct {
	FSM        *fsm.FSM
	Generation uint64
}

// looplabEventNames[k] is the event that moves to kind k, built once so that
// a transition does not build a string.
var looplabEventNames = func() []string {
	kinds := vmmstate.AllKinds()
	names := make([]string, int(slices.Max(kinds))+1)
	for _, k := range kinds {
		names[k] = "to_" + k.String()
	}
	return names
}()

// LooplabEvents is the event list generated from vmmstate.AllKinds and
// vmmstate.Successors. Each event also lists its own destination as a
// source: looplab/fsm then answers a move to the current state with
// NoTransitionError, its documented "nothing happened", instead of
// InvalidEventError, which is what vmlife's Unchanged means.
func LooplabEvents() []fsm.EventDesc {
	kinds := vmmstate.AllKinds()
	events := make([]fsm.EventDesc, 0, len(kinds))
	for _, to := range kinds {
		src := []string{to.String()}
		for _, from := range kinds {
			if slices.Contains(vmmstate.Successors(from), to) {
				src = append(src, from.String())
			}
		}
		events = append(events, fsm.EventDesc{Name: looplabEventNames[to], Src: src, Dst: to.String()})
	}
	return events
}

// NewLooplab returns a machine in kind initial at generation 1, with no
// callbacks.
func NewLooplab(initial vmmstate.Kind) *Looplab {
	return &Looplab{FSM: fsm.NewFSM(initial.String(), LooplabEvents(), nil), Generation: 1}
}

// Transition fires the event that moves to kind to. It reports changed true
// and bumps the generation when the state moved, false with a nil error for a
// move to the current kind, and looplab's own error for an illegal edge.
func (l *Looplab) Transition(ctx context.Context, to vmmstate.Kind) (changed bool, err error) {
	if !to.IsValid() {
		return false, ErrInvalidKind
	}
	err = l.FSM.Event(ctx, looplabEventNames[to])
	switch err.(type) {
	case nil:
		l.Generation++
		return true, nil
	case fsm.NoTransitionError:
		return false, nil
	}
	return false, err
}

// Kind returns the machine's current kind.
func (l *Looplab) Kind() vmmstate.Kind {
	k, err := vmmstate.ParseKind(l.FSM.Current())
	if err != nil {
		return 0
	}
	return k
}

// StatelessTrigger is the stateless trigger "move to this kind".
type StatelessTrigger vmmstate.Kind

// Stateless is a VMM's kind held by a qmuntal/stateless machine: states are
// vmmstate.Kind values, triggers StatelessTrigger values, one Permit per edge
// of D7 and an Ignore of the trigger naming the current kind.
type Stateless struct {
	Machine    *stateless.StateMachine
	Generation uint64
	changed    bool // set by the OnTransitioned callback during one Transition
}

// NewStateless returns a machine in kind initial at generation 1, in the
// given firing mode (stateless.NewStateMachine uses FiringQueued), configured
// from vmmstate.AllKinds and vmmstate.Successors.
func NewStateless(initial vmmstate.Kind, mode stateless.FiringMode) *Stateless {
	s := &Stateless{Machine: stateless.NewStateMachineWithMode(initial, mode), Generation: 1}
	for _, from := range vmmstate.AllKinds() {
		c := s.Machine.Configure(from)
		c.Ignore(StatelessTrigger(from)) // already there: stateless's no-op
		for _, to := range vmmstate.Successors(from) {
			c.Permit(StatelessTrigger(to), to)
		}
	}
	// OnTransitioned runs only when the state moved, never for an ignored
	// trigger: the place to bump the generation.
	s.Machine.OnTransitioned(func(context.Context, stateless.Transition) {
		s.Generation++
		s.changed = true
	})
	return s
}

// Transition fires the trigger that moves to kind to. It reports changed true
// and bumps the generation when the state moved, false with a nil error for a
// move to the current kind, and stateless's own error for an illegal edge.
func (s *Stateless) Transition(ctx context.Context, to vmmstate.Kind) (changed bool, err error) {
	if !to.IsValid() {
		return false, ErrInvalidKind
	}
	s.changed = false
	err = s.Machine.FireCtx(ctx, StatelessTrigger(to))
	return s.changed, err
}

// Kind returns the machine's current kind.
func (s *Stateless) Kind() vmmstate.Kind {
	k, _ := s.Machine.MustState().(vmmstate.Kind)
	return k
}

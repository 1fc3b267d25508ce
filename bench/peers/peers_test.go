package peers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/looplab/fsm"
	"github.com/qmuntal/stateless"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// stateOf is the vmlife state of kind k; failed gets one fixed reason, so that
// two states of the same kind are equal and a move between them is Unchanged.
func stateOf(k vmmstate.Kind) vmmstate.State {
	if k == vmmstate.KindFailed {
		return vmmstate.Failed(failure.AllReasons()[0])
	}
	return vmmstate.State(k)
}

// invalidKinds are kinds outside AllKinds that every implementation must refuse.
var invalidKinds = []vmmstate.Kind{0, vmmstate.KindSagaUnwound + 1, 255}

// result is what one transition did, in a form every implementation can give.
type result struct {
	kind    vmmstate.Kind
	gen     uint64
	changed bool
	failed  bool
}

// implementations are the four ways of making a transition, each started in
// kind from at generation 1 and asked to move to kind to.
var implementations = []struct {
	name string
	move func(t *testing.T, from, to vmmstate.Kind) result
}{
	{"switch", func(t *testing.T, from, to vmmstate.Kind) result {
		s, changed, err := Switch{Kind: from, Generation: 1}.Transition(to)
		if err != nil && !errors.Is(err, ErrIllegal) {
			t.Errorf("switch %v → %v: error %v is not ErrIllegal", from, to, err)
		}
		return result{s.Kind, s.Generation, changed, err != nil}
	}},
	{"vmlife", func(t *testing.T, from, to vmmstate.Kind) result {
		r := vmmstate.Runtime{State: stateOf(from), Generation: generation.Initial(), TimeUpdated: t0}
		next, o, err := r.Transition(stateOf(to), t0)
		var te *vmmstate.TransitionError
		if err != nil && !errors.As(err, &te) {
			t.Errorf("vmlife %v → %v: error %v is not a *TransitionError", from, to, err)
		}
		if err != nil && next != r {
			t.Errorf("vmlife %v → %v: refused, but runtime changed to %+v", from, to, next)
		}
		return result{next.State.Kind(), uint64(next.Generation.Int64()), o == vmmstate.Applied, err != nil}
	}},
	{"looplab", func(t *testing.T, from, to vmmstate.Kind) result {
		l := NewLooplab(from)
		changed, err := l.Transition(context.Background(), to)
		var ie fsm.InvalidEventError
		if err != nil && !errors.As(err, &ie) && !errors.Is(err, ErrInvalidKind) {
			t.Errorf("looplab %v → %v: error %v is neither InvalidEventError nor ErrInvalidKind", from, to, err)
		}
		return result{l.Kind(), l.Generation, changed, err != nil}
	}},
	{"stateless", func(t *testing.T, from, to vmmstate.Kind) result {
		s := NewStateless(from, stateless.FiringQueued)
		changed, err := s.Transition(context.Background(), to)
		return result{s.Kind(), s.Generation, changed, err != nil}
	}},
	{"stateless-immediate", func(t *testing.T, from, to vmmstate.Kind) result {
		s := NewStateless(from, stateless.FiringImmediate)
		changed, err := s.Transition(context.Background(), to)
		return result{s.Kind(), s.Generation, changed, err != nil}
	}},
}

// TestEdgeTable walks every pair of kinds (and kinds outside the table) through
// every implementation and holds each to D7 as vmmstate.CanTransition states
// it: the same kind is a no-op, an edge moves and bumps the generation once,
// anything else is refused and changes nothing. A peer configured from a
// wrong table, or a hand-written switch that drifted, fails here.
func TestEdgeTable(t *testing.T) {
	kinds := vmmstate.AllKinds()
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) {
			for _, from := range kinds {
				for _, to := range append(kinds[:len(kinds):len(kinds)], invalidKinds...) {
					var want result
					switch {
					case from == to:
						want = result{kind: from, gen: 1}
					case vmmstate.CanTransition(from, to):
						want = result{kind: to, gen: 2, changed: true}
					default:
						want = result{kind: from, gen: 1, failed: true}
					}
					if got := impl.move(t, from, to); got != want {
						t.Errorf("%v → %v: got %+v, want %+v", from, to, got, want)
					}
				}
			}
		})
	}
}

// TestSwitchObserve holds Switch.Observe to vmmstate.Runtime.Observe for every
// pair of kinds, with a newer and with a stale report.
func TestSwitchObserve(t *testing.T) {
	kinds := vmmstate.AllKinds()
	for _, from := range kinds {
		for _, to := range append(kinds[:len(kinds):len(kinds)], invalidKinds...) {
			for _, gen := range []uint32{4, 5, 6} {
				stored := vmmstate.Runtime{State: stateOf(from), Generation: generation.Of(5), TimeUpdated: t0}
				report := vmmstate.Runtime{State: stateOf(to), Generation: generation.Of(gen), TimeUpdated: t0}
				_, o, err := stored.Observe(report)
				wantChanged, wantErr := o == vmmstate.Applied, err != nil

				s, changed, err := Switch{Kind: from, Generation: 5}.Observe(Switch{Kind: to, Generation: uint64(gen)})
				if changed != wantChanged || (err != nil) != wantErr {
					t.Errorf("%v → %v at generation %d: switch changed=%v err=%v, vmlife %v, %v",
						from, to, gen, changed, err, o, wantErr)
				}
				if changed && (s.Kind != to || s.Generation != uint64(gen)) {
					t.Errorf("%v → %v at generation %d: switch gave %+v, want the report", from, to, gen, s)
				}
			}
		}
	}
}

// TestLooplabEventsFromTable checks the generated event list edge by edge:
// every D7 edge appears exactly once, plus one self-loop per kind, and nothing
// else.
func TestLooplabEventsFromTable(t *testing.T) {
	type edge struct{ from, to string }
	got := map[edge]int{}
	for _, e := range LooplabEvents() {
		for _, src := range e.Src {
			got[edge{src, e.Dst}]++
		}
	}
	want := map[edge]int{}
	for _, from := range vmmstate.AllKinds() {
		want[edge{from.String(), from.String()}] = 1
		for _, to := range vmmstate.Successors(from) {
			want[edge{from.String(), to.String()}] = 1
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct edges, want %d", len(got), len(want))
	}
	for e, n := range want {
		if got[e] != n {
			t.Errorf("edge %s → %s listed %d times, want %d", e.from, e.to, got[e], n)
		}
	}
}

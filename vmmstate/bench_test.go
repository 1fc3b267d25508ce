package vmmstate_test

import (
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// Benchmarks for the hot operations. Every one must report 0 allocs/op, and
// Transition and Observe are read against BenchmarkBaselineSwitch: the
// smallest honest transition function, a switch over plain uint8 states with
// a generation bump. Run
//
//	go test -run '^$' -bench . -benchmem ./vmmstate/
//
// and divide. STYLE.md promises "within a small factor of the switch"; the
// BaselineSwitchCall and BaselineRuntimeCall benchmarks at the end show how
// much of the factor is the call and the Runtime's size rather than the
// work. On a shared machine take the minimum of several runs (-count).

// Package-level sinks keep the compiler from discarding the results.
var (
	sinkRuntime  vmmstate.Runtime
	sinkInt      int
	sinkErr      error
	sinkBool     bool
	sinkKind     vmmstate.Kind
	sinkState    vmmstate.State
	sinkSled     vmmstate.SledAgentState
	sinkSledRT   vmmstate.SledAgentRuntime
	sinkExternal vmmstate.External
	sinkRow      vmmstate.Row
	sinkBase     baseRuntime
)

var benchNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// benchStates is the cycle the transition benchmarks walk: every step is a
// legal edge that changes the state, so each iteration does the full work
// (validate, edge lookup, generation bump, stamp).
var benchStates = [...]vmmstate.State{vmmstate.Running, vmmstate.Rebooting, vmmstate.Migrating, vmmstate.Starting}

func BenchmarkTransition(b *testing.B) {
	b.Run("applied", func(b *testing.B) {
		b.ReportAllocs()
		r := vmmstate.Runtime{State: vmmstate.Starting, Generation: generation.Initial(), TimeUpdated: benchNow}
		for i := 0; b.Loop(); i++ {
			r, _, _ = r.Transition(benchStates[i&3], benchNow)
		}
		sinkRuntime = r
	})
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		r := vmmstate.Runtime{State: vmmstate.Failed(failure.SledOff), Generation: generation.Of(9), TimeUpdated: benchNow}
		var n int
		for b.Loop() {
			_, o, _ := r.Transition(vmmstate.Failed(failure.SledExpunged), benchNow)
			n += int(o)
		}
		sinkInt = n
	})
}

func BenchmarkObserve(b *testing.B) {
	reports := make([]vmmstate.Runtime, 1024)
	for i := range reports {
		g, _ := generation.FromInt64(int64(i + 2))
		reports[i] = vmmstate.Runtime{State: benchStates[i&3], Generation: g, TimeUpdated: benchNow}
	}
	b.Run("applied", func(b *testing.B) {
		b.ReportAllocs()
		r := vmmstate.Runtime{State: vmmstate.Starting, Generation: generation.Initial(), TimeUpdated: benchNow}
		start := r
		for i := 0; b.Loop(); i++ {
			if i&1023 == 0 {
				r = start // generations must keep rising
			}
			r, _, _ = r.Observe(reports[i&1023])
		}
		sinkRuntime = r
	})
	b.Run("stale", func(b *testing.B) {
		b.ReportAllocs()
		r := vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(5000), TimeUpdated: benchNow}
		var n int
		for i := 0; b.Loop(); i++ {
			_, o, _ := r.Observe(reports[i&1023])
			n += int(o)
		}
		sinkInt = n
	})
}

// BenchmarkPredicates covers each predicate of §4.2 and the edge lookup.
func BenchmarkPredicates(b *testing.B) {
	states := vmmstate.AllStates()
	kinds := vmmstate.AllKinds()
	preds := []struct {
		name string
		f    func(vmmstate.State) bool
	}{
		{"IsValid", vmmstate.State.IsValid},
		{"IsTerminal", vmmstate.State.IsTerminal},
		{"IsFailed", vmmstate.State.IsFailed},
		{"IsDestroyable", vmmstate.State.IsDestroyable},
		{"ExistsOnSled", vmmstate.State.ExistsOnSled},
	}
	for _, p := range preds {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sinkBool = p.f(states[i%len(states)])
			}
		})
	}
	b.Run("Kind.IsReportable", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkBool = kinds[i%len(kinds)].IsReportable()
		}
	})
	b.Run("CanTransition", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkBool = vmmstate.CanTransition(kinds[i%len(kinds)], kinds[(i/len(kinds))%len(kinds)])
		}
	})
	b.Run("State.Kind", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkKind = states[i%len(states)].Kind()
		}
	})
}

// BenchmarkConversions covers every conversion of D8, in both directions.
func BenchmarkConversions(b *testing.B) {
	states := vmmstate.AllStates()
	sled := vmmstate.AllSledAgentStates()
	runtimes := make([]vmmstate.Runtime, len(states))
	rows := make([]vmmstate.Row, len(states))
	sledRTs := make([]vmmstate.SledAgentRuntime, len(sled))
	for i, s := range states {
		runtimes[i] = vmmstate.Runtime{State: s, Generation: generation.Of(uint32(i)), TimeUpdated: benchNow}
		rows[i] = runtimes[i].Row()
	}
	for i, s := range sled {
		sledRTs[i] = vmmstate.SledAgentRuntime{State: s, Generation: generation.Of(uint32(i)), TimeUpdated: benchNow}
	}
	b.Run("State.SledAgent", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkSled = states[i%len(states)].SledAgent()
		}
	})
	b.Run("SledAgentState.State", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkState = sled[i%len(sled)].State()
		}
	})
	b.Run("State.External", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkExternal = states[i%len(states)].External()
		}
	})
	b.Run("Runtime.SledAgent", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkSledRT = runtimes[i%len(runtimes)].SledAgent()
		}
	})
	b.Run("SledAgentRuntime.Runtime", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkRuntime = sledRTs[i%len(sledRTs)].Runtime()
		}
	})
	b.Run("Runtime.Row", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkRow = runtimes[i%len(runtimes)].Row()
		}
	})
	b.Run("Row.Runtime", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkRuntime, sinkErr = rows[i%len(rows)].Runtime()
		}
	})
	b.Run("Row.LenientRuntime", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkRuntime, sinkErr = rows[i%len(rows)].LenientRuntime()
		}
	})
}

// The baseline: what a hand-written state machine costs. States are plain
// uint8 values with the same numbering as vmmstate.Kind, the edge check is
// one switch over the same D7 table, and a change bumps a uint64 generation
// with an overflow check. It has no failure reasons, no time stamp and no
// typed errors: it is the floor, not a competitor.
type baseRuntime struct {
	state uint8
	gen   uint64
}

const (
	bCreating = iota + 1
	bStarting
	bRunning
	bStopping
	bStopped
	bRebooting
	bMigrating
	bFailed
	bDestroyed
	bSagaUnwound
)

func baseCanTransition(from, to uint8) bool {
	if from == to {
		return false
	}
	switch from {
	case bCreating, bStarting, bRunning, bRebooting, bMigrating:
		return to != bCreating && to <= bSagaUnwound && to != 0
	case bStopping:
		return to == bStopped || to == bFailed || to == bDestroyed || to == bSagaUnwound
	case bStopped:
		return to == bFailed || to == bDestroyed || to == bSagaUnwound
	case bSagaUnwound:
		return to == bFailed || to == bDestroyed
	}
	return false
}

var errBase = &vmmstate.TransitionError{Err: vmmstate.ErrIllegalTransition}

func baseTransition(r baseRuntime, to uint8) (baseRuntime, error) {
	if to == r.state {
		return r, nil
	}
	if !baseCanTransition(r.state, to) || r.gen == 1<<63-1 {
		return r, errBase
	}
	return baseRuntime{state: to, gen: r.gen + 1}, nil
}

var baseStates = [...]uint8{bRunning, bRebooting, bMigrating, bStarting}

// BenchmarkBaselineSwitch is the floor: the switch above, which the
// compiler inlines into the loop.
func BenchmarkBaselineSwitch(b *testing.B) {
	b.ReportAllocs()
	r := baseRuntime{state: bStarting, gen: 1}
	for i := 0; b.Loop(); i++ {
		r, _ = baseTransition(r, baseStates[i&3])
	}
	sinkBase = r
}

// The two benchmarks below split the distance between the baseline and
// Transition into its causes. Transition is too large to inline (its
// refusals build a *TransitionError; an inlinable fast path that calls out
// for the rest cannot fit the inliner's budget either, since the call alone
// costs most of it). And a Runtime is five words — state, generation and a
// three-word time.Time, 40 bytes — while the compiler keeps a struct in
// registers (SSA) only up to four words, 32 bytes: a larger one is built in
// a stack temporary and reloaded around every call. Measured on this
// machine, a no-op call taking and returning a 2-word struct costs ~2 ns and
// any 5-word struct ~11 ns, with or without a pointer in it. That floor is
// the price of Runtime being a plain value with a time.Time; Transition
// costs about 1.5× it.

//go:noinline
func baseTransitionCall(r baseRuntime, to uint8) (baseRuntime, error) { return baseTransition(r, to) }

// BenchmarkBaselineSwitchCall is the same switch behind a function call:
// the cost of not inlining.
func BenchmarkBaselineSwitchCall(b *testing.B) {
	b.ReportAllocs()
	r := baseRuntime{state: bStarting, gen: 1}
	for i := 0; b.Loop(); i++ {
		r, _ = baseTransitionCall(r, baseStates[i&3])
	}
	sinkBase = r
}

//go:noinline
func runtimeCall(r vmmstate.Runtime, to vmmstate.State, now time.Time) (vmmstate.Runtime, vmmstate.Outcome, error) {
	return vmmstate.Runtime{State: to, Generation: r.Generation, TimeUpdated: now}, vmmstate.Applied, nil
}

// BenchmarkBaselineRuntimeCall does no work at all but takes and returns a
// Runtime through a call with Transition's signature: the cost of the data
// shape, which any transition function over a Runtime pays.
func BenchmarkBaselineRuntimeCall(b *testing.B) {
	b.ReportAllocs()
	r := vmmstate.Runtime{State: vmmstate.Starting, Generation: generation.Initial(), TimeUpdated: benchNow}
	for i := 0; b.Loop(); i++ {
		r, _, _ = runtimeCall(r, benchStates[i&3], benchNow)
	}
	sinkRuntime = r
}

package peers

import (
	"context"
	"testing"

	"github.com/qmuntal/stateless"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// The benchmarks: one VMM transition, done four ways, in three situations —
// an applied move along an edge, a refused move along no edge, and a move to
// the current state, which must be a no-op. Run
//
//	go test -run '^$' -bench . -benchmem
//
// and compare the sub-benchmarks of each. Every loop checks the result it
// expects, so a benchmark cannot silently measure a different path.

var (
	sinkSwitch  Switch
	sinkRuntime vmmstate.Runtime
	sinkErr     error
	sinkGen     uint64
)

// cycle is the walk the applied benchmarks take, starting in starting: each
// step is a D7 edge between active kinds that changes the state.
var cycle = [...]vmmstate.Kind{vmmstate.KindRunning, vmmstate.KindRebooting, vmmstate.KindMigrating, vmmstate.KindStarting}

func BenchmarkTransition(b *testing.B) {
	ctx := context.Background()
	b.Run("switch", func(b *testing.B) {
		b.ReportAllocs()
		s := Switch{Kind: vmmstate.KindStarting, Generation: 1}
		var changed bool
		var err error
		for i := 0; b.Loop(); i++ {
			if s, changed, err = s.Transition(cycle[i&3]); !changed || err != nil {
				b.Fatal(changed, err)
			}
		}
		sinkSwitch = s
	})
	b.Run("vmlife", func(b *testing.B) {
		b.ReportAllocs()
		var states [len(cycle)]vmmstate.State
		for i, k := range cycle {
			states[i] = stateOf(k)
		}
		r := vmmstate.Runtime{State: vmmstate.Starting, Generation: generation.Initial(), TimeUpdated: t0}
		var o vmmstate.Outcome
		var err error
		for i := 0; b.Loop(); i++ {
			if r, o, err = r.Transition(states[i&3], t0); o != vmmstate.Applied || err != nil {
				b.Fatal(o, err)
			}
		}
		sinkRuntime = r
	})
	b.Run("looplab", func(b *testing.B) {
		b.ReportAllocs()
		l := NewLooplab(vmmstate.KindStarting)
		for i := 0; b.Loop(); i++ {
			if changed, err := l.Transition(ctx, cycle[i&3]); !changed || err != nil {
				b.Fatal(changed, err)
			}
		}
		sinkGen = l.Generation
	})
	for _, m := range statelessModes {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			s := NewStateless(vmmstate.KindStarting, m.mode)
			for i := 0; b.Loop(); i++ {
				if changed, err := s.Transition(ctx, cycle[i&3]); !changed || err != nil {
					b.Fatal(changed, err)
				}
			}
			sinkGen = s.Generation
		})
	}
}

// statelessModes: the default (NewStateMachine queues triggers) and the
// cheaper immediate mode, so stateless is shown at its best as well.
var statelessModes = []struct {
	name string
	mode stateless.FiringMode
}{
	{"stateless", stateless.FiringQueued},
	{"stateless-immediate", stateless.FiringImmediate},
}

// BenchmarkRefused asks a stopped VMM to run again: no D7 edge leads back.
// Each implementation returns its own error and changes nothing.
func BenchmarkRefused(b *testing.B) {
	ctx := context.Background()
	from, to := vmmstate.KindStopped, vmmstate.KindRunning
	b.Run("switch", func(b *testing.B) {
		b.ReportAllocs()
		s := Switch{Kind: from, Generation: 1}
		var err error
		for b.Loop() {
			if _, _, err = s.Transition(to); err == nil {
				b.Fatal("accepted")
			}
		}
		sinkErr = err
	})
	b.Run("vmlife", func(b *testing.B) {
		b.ReportAllocs()
		r := vmmstate.Runtime{State: stateOf(from), Generation: generation.Initial(), TimeUpdated: t0}
		target := stateOf(to)
		var err error
		for b.Loop() {
			if _, _, err = r.Transition(target, t0); err == nil {
				b.Fatal("accepted")
			}
		}
		sinkErr = err
	})
	b.Run("looplab", func(b *testing.B) {
		b.ReportAllocs()
		l := NewLooplab(from)
		var err error
		for b.Loop() {
			if _, err = l.Transition(ctx, to); err == nil {
				b.Fatal("accepted")
			}
		}
		sinkErr = err
	})
	for _, m := range statelessModes {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			s := NewStateless(from, m.mode)
			var err error
			for b.Loop() {
				if _, err = s.Transition(ctx, to); err == nil {
					b.Fatal("accepted")
				}
			}
			sinkErr = err
		})
	}
}

// BenchmarkNoop asks a running VMM to be running: each implementation must
// report "nothing changed" without an error.
func BenchmarkNoop(b *testing.B) {
	ctx := context.Background()
	k := vmmstate.KindRunning
	b.Run("switch", func(b *testing.B) {
		b.ReportAllocs()
		s := Switch{Kind: k, Generation: 1}
		for b.Loop() {
			if _, changed, err := s.Transition(k); changed || err != nil {
				b.Fatal(changed, err)
			}
		}
		sinkSwitch = s
	})
	b.Run("vmlife", func(b *testing.B) {
		b.ReportAllocs()
		r := vmmstate.Runtime{State: stateOf(k), Generation: generation.Initial(), TimeUpdated: t0}
		for b.Loop() {
			if _, o, err := r.Transition(r.State, t0); o != vmmstate.Unchanged || err != nil {
				b.Fatal(o, err)
			}
		}
		sinkRuntime = r
	})
	b.Run("looplab", func(b *testing.B) {
		b.ReportAllocs()
		l := NewLooplab(k)
		for b.Loop() {
			if changed, err := l.Transition(ctx, k); changed || err != nil {
				b.Fatal(changed, err)
			}
		}
		sinkGen = l.Generation
	})
	for _, m := range statelessModes {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			s := NewStateless(k, m.mode)
			for b.Loop() {
				if changed, err := s.Transition(ctx, k); changed || err != nil {
					b.Fatal(changed, err)
				}
			}
			sinkGen = s.Generation
		})
	}
}

// BenchmarkObserve applies a newer sled-agent report along an edge. Neither
// peer has a notion of a generation-guarded report, so only the switch and
// vmlife are compared.
func BenchmarkObserve(b *testing.B) {
	const n = 1024 // reports per round; the stored runtime restarts each round
	b.Run("switch", func(b *testing.B) {
		b.ReportAllocs()
		var reports [n]Switch
		for i := range reports {
			reports[i] = Switch{Kind: cycle[i&3], Generation: uint64(i + 2)}
		}
		start := Switch{Kind: vmmstate.KindStarting, Generation: 1}
		s := start
		var changed bool
		var err error
		for i := 0; b.Loop(); i++ {
			if i%n == 0 {
				s = start // generations must keep rising
			}
			if s, changed, err = s.Observe(reports[i%n]); !changed || err != nil {
				b.Fatal(changed, err)
			}
		}
		sinkSwitch = s
	})
	b.Run("vmlife", func(b *testing.B) {
		b.ReportAllocs()
		var reports [n]vmmstate.Runtime
		for i := range reports {
			reports[i] = vmmstate.Runtime{State: stateOf(cycle[i&3]), Generation: generation.Of(uint32(i + 2)), TimeUpdated: t0}
		}
		start := vmmstate.Runtime{State: vmmstate.Starting, Generation: generation.Initial(), TimeUpdated: t0}
		r := start
		var o vmmstate.Outcome
		var err error
		for i := 0; b.Loop(); i++ {
			if i%n == 0 {
				r = start
			}
			if r, o, err = r.Observe(reports[i%n]); o != vmmstate.Applied || err != nil {
				b.Fatal(o, err)
			}
		}
		sinkRuntime = r
	})
}

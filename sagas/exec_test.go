package sagas_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmlife/vmlife/sagas"
)

// logSaga is a saga of n steps, each logging its action and undo; step
// fail fails, undo stuck fails.
type logSaga struct {
	n           int
	fail, stuck int
	end         int // the step that ends the saga early; 0: none
	log         []string
	// during, when set, is called with each node's log line ("do b",
	// "undo a") once the node has logged it; an error it returns is the
	// node's.
	during func(node string) error
}

func (s *logSaga) Kind() sagas.Kind { return sagas.KindDelete }

func (s *logSaga) Steps(*sagas.Env) []sagas.Step {
	var out []sagas.Step
	for i := range s.n {
		name := string(rune('a' + i))
		out = append(out, sagas.Step{Name: name,
			Do: func(context.Context) error {
				s.log = append(s.log, "do "+name)
				if s.during != nil {
					if err := s.during("do " + name); err != nil {
						return err
					}
				}
				switch {
				case i == s.fail:
					return errors.New("boom")
				case i == s.end && i > 0:
					return sagas.EndForTest("enough")
				}
				return nil
			},
			Undo: func(context.Context) error {
				s.log = append(s.log, "undo "+name)
				if s.during != nil {
					if err := s.during("undo " + name); err != nil {
						return err
					}
				}
				if i == s.stuck {
					return errors.New("stuck")
				}
				return nil
			}})
	}
	return out
}

func TestExecOrder(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		saga        *logSaga
		drive       func(x *sagas.Exec) // one call per node
		outcome     sagas.Outcome
		log         []string
		ran, undone []string
	}{
		{"completes", &logSaga{n: 3, fail: -1, stuck: -1}, nil, sagas.Completed,
			[]string{"do a", "do b", "do c"}, []string{"a", "b", "c"}, nil},
		{"unwinds latest first", &logSaga{n: 3, fail: 2, stuck: -1}, nil, sagas.Unwound,
			[]string{"do a", "do b", "do c", "undo b", "undo a"}, []string{"a", "b", "c"}, []string{"b", "a"}},
		{"an undo that fails stops the unwind", &logSaga{n: 3, fail: 2, stuck: 1}, nil, sagas.Stuck,
			[]string{"do a", "do b", "do c", "undo b"}, []string{"a", "b", "c"}, []string{"b"}},
		{"Fail injects before the action", &logSaga{n: 3, fail: -1, stuck: -1},
			func(x *sagas.Exec) { x.Next(ctx); x.Fail(ctx) }, sagas.Unwound,
			[]string{"do a", "undo a"}, []string{"a", "b"}, []string{"a"}},
		{"Skip passes over an undo", &logSaga{n: 3, fail: 2, stuck: -1},
			func(x *sagas.Exec) { x.Next(ctx); x.Next(ctx); x.Next(ctx); x.Skip(ctx) }, sagas.Unwound,
			[]string{"do a", "do b", "do c", "undo a"}, []string{"a", "b", "c"}, []string{"a"}},
		{"Again replays the node that ran", &logSaga{n: 2, fail: -1, stuck: -1},
			func(x *sagas.Exec) { x.Next(ctx); _ = x.Again(ctx) }, sagas.Completed,
			[]string{"do a", "do a", "do b"}, []string{"a", "b"}, nil},
		{"Again replays an undo", &logSaga{n: 3, fail: 2, stuck: -1},
			func(x *sagas.Exec) { x.Next(ctx); x.Next(ctx); x.Next(ctx); x.Next(ctx); _ = x.Again(ctx) }, sagas.Unwound,
			[]string{"do a", "do b", "do c", "undo b", "undo b", "undo a"}, []string{"a", "b", "c"}, []string{"b", "a"}},
		{"a step ends the saga early", &logSaga{n: 3, fail: -1, stuck: -1, end: 1},
			func(x *sagas.Exec) { x.Next(ctx); x.Next(ctx); _ = x.Again(ctx) }, sagas.Completed,
			[]string{"do a", "do b", "do b"}, []string{"a", "b"}, nil},
		{"no steps", &logSaga{n: 0, fail: -1, stuck: -1}, nil, sagas.Completed, nil, nil, nil},
		{"Skip before the unwind is Next", &logSaga{n: 2, fail: -1, stuck: -1},
			func(x *sagas.Exec) { x.Skip(ctx) }, sagas.Completed,
			[]string{"do a", "do b"}, []string{"a", "b"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := sagas.NewExec(&sagas.Env{}, tc.saga)
			if tc.drive != nil {
				tc.drive(x)
			}
			for i := 0; !x.Done(); i++ {
				if i > 10 {
					t.Fatal("does not end")
				}
				// Next reports whether the saga has ended, the call that
				// ends it included.
				if ended := x.Next(ctx); ended != x.Done() {
					t.Fatalf("Next reported %v, Done %v", ended, x.Done())
				}
			}
			if x.Outcome() != tc.outcome || !cmp.Equal(tc.saga.log, tc.log, emptyIsNil) || !cmp.Equal(x.Ran(), tc.ran, emptyIsNil) || !cmp.Equal(x.Undone(), tc.undone, emptyIsNil) {
				t.Errorf("outcome %v, log %v, ran %v, undone %v", x.Outcome(), tc.saga.log, x.Ran(), x.Undone())
			}
			if x.Next(ctx) != true || len(tc.saga.log) != len(tc.log) {
				t.Error("Next after the end ran something")
			}
			if (x.Err() == nil) != (tc.outcome == sagas.Completed) {
				t.Errorf("Err %v with outcome %v", x.Err(), x.Outcome())
			}
		})
	}
}

func TestExecDescribes(t *testing.T) {
	x := sagas.NewExec(&sagas.Env{}, &logSaga{n: 2, fail: 1, stuck: -1})
	if got := x.String(); got != "delete a" {
		t.Errorf("String %q", got)
	}
	x.Next(context.Background())
	x.Next(context.Background())
	if name, undo := x.NextNode(); name != "a" || !undo || !strings.Contains(x.String(), "undo a") || !x.Unwinding() {
		t.Errorf("next %q %v, %q", name, undo, x.String())
	}
	x.Next(context.Background())
	if name, undo := x.NextNode(); name != "" || undo || x.String() != "delete unwound" {
		t.Errorf("after the end: next %q %v, %q", name, undo, x.String())
	}
	// A saga of no steps has no node to run, forward or back, before its
	// first Next.
	x = sagas.NewExec(&sagas.Env{}, &logSaga{n: 0, fail: -1, stuck: -1})
	if name, undo := x.NextNode(); name != "" || undo || x.Done() {
		t.Errorf("no steps: next %q %v, done %v", name, undo, x.Done())
	}
}

// TestLastRan: a node that ran can be run again; one that failed, or
// none yet, cannot.
func TestLastRan(t *testing.T) {
	ctx := context.Background()
	x := sagas.NewExec(&sagas.Env{}, &logSaga{n: 2, fail: 1, stuck: -1})
	if x.LastRan() {
		t.Error("LastRan before any node")
	}
	x.Next(ctx)
	if !x.LastRan() {
		t.Error("not LastRan after the first step")
	}
	x.Next(ctx)
	if x.LastRan() {
		t.Error("LastRan after a failed step")
	}
}

// TestRunRunsEachNodeOnce: without Replay, Run runs each node once; with
// it, twice.
func TestRunRunsEachNodeOnce(t *testing.T) {
	f := newFixture(t)
	for _, replay := range []bool{false, true} {
		s := &logSaga{n: 2, fail: -1, stuck: -1}
		if _, err := sagas.Run(f.ctx, f.w.Env, s, sagas.Options{Replay: replay}); err != nil {
			t.Fatal(err)
		}
		want := []string{"do a", "do b"}
		if replay {
			want = []string{"do a", "do a", "do b", "do b"}
		}
		if !cmp.Equal(s.log, want) {
			t.Errorf("replay %v: %v", replay, s.log)
		}
	}
}

func TestNames(t *testing.T) {
	for _, k := range sagas.AllKinds() {
		if got, err := sagas.ParseKind(k.String()); err != nil || got != k {
			t.Errorf("%v: %v %v", k, got, err)
		}
	}
	if _, err := sagas.ParseKind("Create"); err == nil || !strings.Contains(err.Error(), "create, start, migrate, update, delete") {
		t.Errorf("ParseKind: %v", err)
	}
	for o, want := range map[sagas.Outcome]string{sagas.Completed: "completed", sagas.Unwound: "unwound", sagas.Stuck: "stuck", 9: "sagas.Outcome(9)"} {
		if o.String() != want {
			t.Errorf("%d: %q", o, o.String())
		}
	}
	for th, want := range map[sagas.Then]string{sagas.ThenNothing: "nothing", sagas.ThenUpdate: "update", sagas.ThenRestart: "restart",
		sagas.ThenUpdateAndRestart: "update_and_restart", sagas.ThenUpdateAndRestart + 1: "sagas.Then(4)", 7: "sagas.Then(7)"} {
		if th.String() != want {
			t.Errorf("%d: %q", th, th.String())
		}
	}
	for k, want := range map[sagas.Kind]string{0: "sagas.Kind(0)", sagas.KindDelete + 1: "sagas.Kind(6)"} {
		if k.String() != want {
			t.Errorf("%d: %q", k, k.String())
		}
	}
	// The first value past the last outcome is no outcome either.
	if got := (sagas.Stuck + 1).String(); got != "sagas.Outcome(4)" {
		t.Errorf("Stuck+1: %q", got)
	}
}

// TestSkipLeavesNothingToReplay: a skipped undo did not run, so Again
// has nothing to run.
func TestSkipLeavesNothingToReplay(t *testing.T) {
	ctx := context.Background()
	s := &logSaga{n: 2, fail: 1, stuck: -1}
	x := sagas.NewExec(&sagas.Env{}, s)
	x.Next(ctx)
	x.Next(ctx)
	x.Skip(ctx)
	if x.LastRan() {
		t.Error("LastRan after Skip")
	}
	if err := x.Again(ctx); err != nil || len(s.log) != 2 {
		t.Errorf("Again after Skip: %v, log %v", err, s.log)
	}
}

// TestCancelIsShutdownInExec: the executor's side of D28 — a cancelled
// context stops it between nodes, an action or an undo that fails because
// the context was cancelled meanwhile halts it as it stands (the saga
// neither fails nor gets stuck), an action that succeeded all the same is
// recorded as done, and a halted executor is left as it is by every call
// that drives it.
func TestCancelIsShutdownInExec(t *testing.T) {
	for _, tc := range []struct {
		name string
		saga *logSaga
		// drive runs nodes with ctx, which cancel cancels; it returns what
		// its last call of Next, Fail or Skip reported.
		drive     func(ctx context.Context, cancel func(), s *logSaga, x *sagas.Exec) bool
		log       []string
		ran, undo []string
		unwinding bool
		err       bool // Err is set: the saga failed before the halt
	}{
		{"cancelled before the first node", &logSaga{n: 2, fail: -1, stuck: -1},
			func(ctx context.Context, cancel func(), _ *logSaga, x *sagas.Exec) bool {
				cancel()
				return x.Next(ctx)
			}, nil, nil, nil, false, false},
		{"an action fails as the context is cancelled", &logSaga{n: 3, fail: -1, stuck: -1},
			func(ctx context.Context, cancel func(), s *logSaga, x *sagas.Exec) bool {
				s.during = func(node string) error {
					if node == "do b" {
						cancel()
						return ctx.Err()
					}
					return nil
				}
				x.Next(ctx)
				return x.Next(ctx)
			}, []string{"do a", "do b"}, []string{"a"}, nil, false, false},
		{"an action succeeds as the context is cancelled", &logSaga{n: 3, fail: -1, stuck: -1},
			func(ctx context.Context, cancel func(), s *logSaga, x *sagas.Exec) bool {
				s.during = func(node string) error {
					if node == "do b" {
						cancel()
					}
					return nil
				}
				x.Next(ctx)
				if x.Next(ctx) {
					return true // b succeeded: the saga goes on
				}
				return x.Next(ctx)
			}, []string{"do a", "do b"}, []string{"a", "b"}, nil, false, false},
		{"an undo fails as the context is cancelled", &logSaga{n: 3, fail: 2, stuck: -1},
			func(ctx context.Context, cancel func(), s *logSaga, x *sagas.Exec) bool {
				s.during = func(node string) error {
					if node == "undo b" {
						cancel()
						return ctx.Err()
					}
					return nil
				}
				for range 3 {
					x.Next(ctx)
				}
				return x.Next(ctx)
			}, []string{"do a", "do b", "do c", "undo b"}, []string{"a", "b", "c"}, []string{"b"}, true, true},
		{"the last undo is cut short", &logSaga{n: 2, fail: 1, stuck: -1},
			func(ctx context.Context, cancel func(), s *logSaga, x *sagas.Exec) bool {
				s.during = func(node string) error {
					if node == "undo a" {
						cancel()
						return ctx.Err()
					}
					return nil
				}
				x.Next(ctx)
				x.Next(ctx)
				return x.Next(ctx)
			}, []string{"do a", "do b", "undo a"}, []string{"a", "b"}, []string{"a"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			x := sagas.NewExec(&sagas.Env{}, tc.saga)
			if ended := tc.drive(ctx, cancel, tc.saga, x); !ended {
				t.Fatal("the call that halted reported the saga going on")
			}
			check := func(when string) {
				t.Helper()
				if !errors.Is(x.Halted(), context.Canceled) || !x.Done() || x.Outcome() != 0 {
					t.Errorf("%s: halted %v, done %v, outcome %v; want halted on the cancellation, no outcome", when, x.Halted(), x.Done(), x.Outcome())
				}
				if !cmp.Equal(tc.saga.log, tc.log, emptyIsNil) || !cmp.Equal(x.Ran(), tc.ran, emptyIsNil) || !cmp.Equal(x.Undone(), tc.undo, emptyIsNil) {
					t.Errorf("%s: log %v, ran %v, undone %v; want %v, %v, %v", when, tc.saga.log, x.Ran(), x.Undone(), tc.log, tc.ran, tc.undo)
				}
				if x.Unwinding() != tc.unwinding || (x.Err() != nil) != tc.err || errors.Is(x.Err(), context.Canceled) {
					t.Errorf("%s: unwinding %v, err %v; want unwinding %v, a failure %v, and never the cancellation", when, x.Unwinding(), x.Err(), tc.unwinding, tc.err)
				}
			}
			check("halted")
			// Whatever drives it next, on any context, a halted executor
			// stays where it stopped: the recovery finishes the saga.
			for _, call := range []func(context.Context) bool{x.Next, x.Fail, x.Skip} {
				if !call(context.Background()) {
					t.Error("a halted executor reported the saga going on")
				}
			}
			check("driven again")
		})
	}
}

package sagas

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The executor's side of the durable log (D26): what it tells its
// journal, in which order, and what it does when a write fails — it stops
// where it is, as a dead process would, and runs no node whose start was
// not made durable.

// recJournal records what the executor tells it, and refuses its failAt-th
// write (counting from 1; 0: none).
type recJournal struct {
	x      *Exec
	writes []string
	failAt int
	stops  int // calls of stopped
}

var errJournal = errors.New("the log cannot be written")

func (j *recJournal) write(w string) error {
	j.writes = append(j.writes, w)
	if len(j.writes) == j.failAt {
		return errJournal
	}
	return nil
}

func (j *recJournal) event(i int, t eventKind, _ error) error {
	return j.write(eventTypeOf[t].String() + " " + j.x.steps[i].Name)
}

func (j *recJournal) unwinding() error { return j.write("unwinding") }

func (j *recJournal) finish(o Outcome) error { return j.write("finish " + o.String()) }

func (j *recJournal) stopped() { j.stops++ }

// nodeSaga is a saga of steps a, b, c…: the action of step fail fails,
// step end's ends the saga, the undo of step stuck fails (-1: none); each
// node logs that it ran.
type nodeSaga struct {
	n, fail, end, stuck int
	log                 []string
}

func (s *nodeSaga) Kind() Kind { return KindDelete }

func (s *nodeSaga) Steps(*Env) []Step {
	var out []Step
	for i := range s.n {
		name := string(rune('a' + i))
		out = append(out, Step{Name: name,
			Do: func(context.Context) error {
				s.log = append(s.log, "do "+name)
				switch i {
				case s.fail:
					return errors.New("boom")
				case s.end:
					return end("enough")
				}
				return nil
			},
			Undo: func(context.Context) error {
				s.log = append(s.log, "undo "+name)
				if i == s.stuck {
					return errors.New("stuck")
				}
				return nil
			}})
	}
	return out
}

func TestExecJournal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		saga    func() *nodeSaga
		writes  []string
		outcome Outcome
	}{
		{"completes", func() *nodeSaga { return &nodeSaga{n: 2, fail: -1, end: -1, stuck: -1} },
			[]string{"started a", "succeeded a", "started b", "succeeded b", "finish completed"}, Completed},
		{"a step ends it early", func() *nodeSaga { return &nodeSaga{n: 3, fail: -1, end: 1, stuck: -1} },
			[]string{"started a", "succeeded a", "started b", "succeeded b", "finish completed"}, Completed},
		{"unwinds", func() *nodeSaga { return &nodeSaga{n: 3, fail: 2, end: -1, stuck: -1} },
			[]string{"started a", "succeeded a", "started b", "succeeded b", "started c", "failed c", "unwinding",
				"undo_started b", "undo_finished b", "undo_started a", "undo_finished a", "finish unwound"}, Unwound},
		{"fails at the first step", func() *nodeSaga { return &nodeSaga{n: 2, fail: 0, end: -1, stuck: -1} },
			[]string{"started a", "failed a", "unwinding", "finish unwound"}, Unwound},
		{"an undo fails", func() *nodeSaga { return &nodeSaga{n: 3, fail: 2, end: -1, stuck: 1} },
			[]string{"started a", "succeeded a", "started b", "succeeded b", "started c", "failed c", "unwinding",
				"undo_started b", "undo_failed b", "finish stuck"}, Stuck},
	} {
		// failAt 0: every write is made; then each write refused in turn.
		for failAt := 0; failAt <= len(tc.writes); failAt++ {
			s := tc.saga()
			x := NewExec(&Env{}, s)
			j := &recJournal{x: x, failAt: failAt}
			x.journal = j
			for n := 0; !x.Done(); n++ {
				if n > 20 {
					t.Fatalf("%s, write %d refused: does not stop", tc.name, failAt)
				}
				if ended := x.Next(context.Background()); ended != x.Done() {
					t.Fatalf("%s, write %d refused: Next reported %v, Done %v", tc.name, failAt, ended, x.Done())
				}
			}
			want := tc.writes
			if failAt > 0 {
				want = want[:failAt]
			}
			if d := cmp.Diff(want, j.writes); d != "" {
				t.Errorf("%s, write %d refused: the journal (-want +got):\n%s", tc.name, failAt, d)
			}
			// A node runs only once its start is durable: the nodes that
			// ran are those whose start was written before the refusal.
			var ran []string
			for k, w := range want {
				if k+1 == failAt {
					break
				}
				if node, ok := strings.CutPrefix(w, "started "); ok {
					ran = append(ran, "do "+node)
				}
				if node, ok := strings.CutPrefix(w, "undo_started "); ok {
					ran = append(ran, "undo "+node)
				}
			}
			if d := cmp.Diff(ran, s.log); d != "" {
				t.Errorf("%s, write %d refused: the nodes run (-want +got):\n%s", tc.name, failAt, d)
			}
			if failAt == 0 {
				if x.Outcome() != tc.outcome || x.Halted() != nil {
					t.Errorf("%s: outcome %v, halted %v; want %v", tc.name, x.Outcome(), x.Halted(), tc.outcome)
				}
				continue
			}
			// Refused: the executor halted where it was, the saga not at
			// rest (its last write is what would have put it there), and
			// nothing drives it further.
			if !errors.Is(x.Halted(), errJournal) || x.Outcome() != 0 {
				t.Errorf("%s, write %d refused: halted %v, outcome %v; want halted on the refusal, no outcome", tc.name, failAt, x.Halted(), x.Outcome())
			}
			for _, call := range []func(context.Context) bool{x.Next, x.Fail, x.Skip} {
				if !call(context.Background()) || len(j.writes) != failAt || len(s.log) != len(ran) {
					t.Errorf("%s, write %d refused: driven again, it wrote %v and ran %v", tc.name, failAt, j.writes, s.log)
				}
			}
		}
	}
}

package sagas

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Step is one node of a saga: an action and the undo that reverses it.
//
// Do must be idempotent: the executor may run it a second time after it
// succeeded, when it cannot tell whether the first run finished (§13.1),
// and the second run must change nothing. Undo is nil when the step has
// nothing to reverse; when set, it too must be idempotent, and it may run
// only after Do succeeded.
type Step struct {
	Name string
	Do   func(ctx context.Context) error
	Undo func(ctx context.Context) error
}

// Saga is a list of steps over an Env. A saga value holds its parameters
// and what its steps produced (the ids they chose, the records they
// wrote): the part of the saga log the steps read back, so that a step
// run again finds what its first run left.
type Saga interface {
	// Kind names the saga.
	Kind() Kind
	// Steps returns the saga's steps, in order, bound to the saga and to
	// env. It is called once, when an Exec is made.
	Steps(env *Env) []Step
}

// Kind names a kind of saga.
type Kind uint8

// The sagas of this package.
const (
	KindCreate  Kind = iota + 1 // §16
	KindStart                   // §14
	KindMigrate                 // §15
	KindUpdate                  // §13
	KindDelete                  // §10.6
)

var kindNames = [...]string{KindCreate: "create", KindStart: "start", KindMigrate: "migrate", KindUpdate: "update", KindDelete: "delete"}

// String returns the saga's name as `vmlife script` spells it.
func (k Kind) String() string {
	if k == 0 || int(k) >= len(kindNames) {
		return "sagas.Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// AllKinds returns every Kind, in declaration order.
func AllKinds() []Kind { return []Kind{KindCreate, KindStart, KindMigrate, KindUpdate, KindDelete} }

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range AllKinds() {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown saga %q (accepted: create, start, migrate, update, delete)", s)
}

// Outcome says how a saga ended.
type Outcome uint8

// The outcomes.
const (
	// Completed: every step ran, or a step ended the saga early with
	// nothing left to do (an update saga that finds the lock held).
	Completed Outcome = iota + 1
	// Unwound: a step failed and the undo of every step that had run
	// succeeded, latest first.
	Unwound
	// Stuck: an undo failed, and the unwind stopped there (§14's "bail on
	// unwinding"); what it leaves is for the fleet queries to find.
	Stuck
)

var outcomeNames = [...]string{Completed: "completed", Unwound: "unwound", Stuck: "stuck"}

// String returns the outcome as `vmlife script` prints it.
func (o Outcome) String() string {
	if o == 0 || int(o) >= len(outcomeNames) {
		return "sagas.Outcome(" + strconv.Itoa(int(o)) + ")"
	}
	return outcomeNames[o]
}

// ErrInjected is the error of a step failed on purpose (Exec.Fail, Run's
// FailAt): a fault injected by a test or the simulator.
var ErrInjected = errors.New("injected failure")

// errEnd is what a step returns to end its saga early, successfully: the
// rest of the steps have nothing to do.
type errEnd struct{ why string }

func (e errEnd) Error() string { return "saga ends: " + e.why }

// end ends the saga after the step that returns it, with why as the
// reason Exec.Ended reports.
func end(why string) error { return errEnd{why} }

// Exec runs one saga a node at a time, as Steno does: forward through the
// steps until one fails, then backward through the undo of every step that
// had completed, latest first. Each call of Next runs one node, so that a
// caller can interleave many sagas and other work between nodes, as a
// control plane does.
//
// An Exec is not safe for concurrent use.
type Exec struct {
	saga  Saga
	steps []Step

	next      int   // the forward step to run next
	done      []int // the forward steps that completed, in order
	unwinding bool
	last      int  // the node that ran last (index into steps), -1 before any
	lastUndo  bool // it ran its undo
	finished  bool
	outcome   Outcome
	err       error  // why the saga unwound or got stuck
	ended     string // why a step ended the saga early

	ran, undone []string

	// journal, when set, records every node before and after it runs (the
	// durable executor's log, D26); halted is why the executor stopped
	// before the saga came to rest: a journal write that failed, or a
	// cancelled context (D28).
	journal journal
	halted  error
}

// journal is where a durable executor records a saga's nodes. Each method
// returns an error when the record could not be made durable; the
// executor then stops where it is, as a dead process would, and the saga is
// finished by whoever recovers it.
type journal interface {
	// event records that node i's action (undo false) or undo began
	// (err nil, begin true), or how it ended.
	event(i int, t eventKind, err error) error
	// unwinding records that the saga turned back; finish that it came
	// to rest.
	unwinding() error
	finish(Outcome) error
	// stopped is told, once, that the executor came to rest or halted.
	stopped()
}

// eventKind is what happened to a node, as the journal records it.
type eventKind uint8

const (
	evStarted eventKind = iota + 1
	evSucceeded
	evFailed
	evUndoStarted
	evUndoFinished
	evUndoFailed
)

// NewExec returns an executor for s over env, before its first step.
func NewExec(env *Env, s Saga) *Exec {
	steps := s.Steps(env)
	return &Exec{saga: s, steps: steps, last: -1,
		done: make([]int, 0, len(steps)), ran: make([]string, 0, len(steps))}
}

// Saga returns the saga the executor runs.
func (x *Exec) Saga() Saga { return x.saga }

// Done reports whether the executor has stopped: the saga ended, or the
// executor halted before it did (Halted).
func (x *Exec) Done() bool { return x.finished || x.halted != nil }

// Halted returns why the executor stopped before the saga came to rest —
// its context was cancelled (D28: shutdown, never failure), or its log
// could not be written — or nil. A halted saga is left as it was, for
// recovery to finish.
func (x *Exec) Halted() error { return x.halted }

// halt stops the executor where it is.
func (x *Exec) halt(err error) bool {
	x.halted = err
	if x.journal != nil {
		x.journal.stopped()
	}
	return true
}

// record writes an event through the journal, if any, and reports whether
// it was made durable; if not, the executor has halted.
func (x *Exec) record(i int, t eventKind, err error) bool {
	if x.journal == nil {
		return true
	}
	if jerr := x.journal.event(i, t, err); jerr != nil {
		x.halt(jerr)
		return false
	}
	return true
}

// Outcome returns how the saga ended; zero while it runs.
func (x *Exec) Outcome() Outcome { return x.outcome }

// Err returns the error of the step that made the saga unwind, joined
// with the undo's when it got stuck; nil when it completed.
func (x *Exec) Err() error { return x.err }

// Ended returns why a step ended the saga early ("" when it ran every
// step, or did not complete).
func (x *Exec) Ended() string { return x.ended }

// Ran returns the names of the steps whose action was tried, in order —
// the one that failed, if any, last; a step run again (Again) is listed
// once.
func (x *Exec) Ran() []string { return x.ran }

// Undone returns the names of the steps whose undo ran, in order.
func (x *Exec) Undone() []string { return x.undone }

// Unwinding reports whether the saga is running undos.
func (x *Exec) Unwinding() bool { return x.unwinding }

// NextNode returns the name of the node Next runs, and whether it is an
// undo; "" once the saga has ended.
func (x *Exec) NextNode() (name string, undo bool) {
	if x.finished {
		return "", false
	}
	if x.unwinding {
		for i := len(x.done) - 1; i >= 0; i-- {
			if s := x.steps[x.done[i]]; s.Undo != nil {
				return s.Name, true
			}
		}
		return "", true
	}
	if x.next < len(x.steps) {
		return x.steps[x.next].Name, false
	}
	return "", false
}

// String describes the executor for traces: the saga and its next node.
func (x *Exec) String() string {
	name, undo := x.NextNode()
	switch {
	case x.finished:
		return x.saga.Kind().String() + " " + x.outcome.String()
	case undo:
		return x.saga.Kind().String() + " undo " + name
	}
	return x.saga.Kind().String() + " " + name
}

// Next runs the next node: the next step's action, or while unwinding the
// next undo. It reports whether the saga has ended. Next on an ended saga
// does nothing.
func (x *Exec) Next(ctx context.Context) bool {
	return x.run(ctx, nil)
}

// Fail makes the next forward step fail with ErrInjected instead of
// running, and the saga unwind; while unwinding it runs the next undo as
// Next does. It reports whether the saga has ended.
func (x *Exec) Fail(ctx context.Context) bool {
	return x.run(ctx, ErrInjected)
}

// Skip passes over the next undo without running it, as if its write had
// lost a race (the fault the simulator calls a lost undo); before the
// unwind it runs the next step as Next does. It reports whether the saga
// has ended. Skip on a halted executor does nothing, as Next does.
func (x *Exec) Skip(ctx context.Context) bool {
	if !x.unwinding || x.Done() {
		return x.run(ctx, nil)
	}
	// A durable executor logs the undo as run: it ran, and its write
	// lost its race, which is what recovery must read.
	if i := x.peekUndo(); i >= 0 && (!x.record(i, evUndoStarted, nil) || !x.record(i, evUndoFinished, nil)) {
		return true
	}
	x.popUndo()
	x.last = -1 // nothing ran: there is nothing to run again
	x.finishUnwindIfDone()
	return x.finished
}

// Again runs the node that ran last once more, as Steno does when it
// cannot tell whether a node finished (§13.1); the node must change
// nothing. A node that failed the first time is not run again (its undo
// does not run either). Again reports the second run's error: an error
// where the first run succeeded means the node is not idempotent. Again
// changes nothing in the executor's course.
func (x *Exec) Again(ctx context.Context) error {
	if x.last < 0 {
		return nil
	}
	s := x.steps[x.last]
	var err error
	if x.lastUndo {
		err = s.Undo(ctx)
	} else {
		err = s.Do(ctx)
		var e errEnd
		if errors.As(err, &e) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("%s run again: %w", s.Name, err)
	}
	return nil
}

// LastRan reports whether the node run last (forward or undo) ran and
// succeeded, so that running it again is a replay Steno could make.
func (x *Exec) LastRan() bool { return x.last >= 0 }

func (x *Exec) run(ctx context.Context, inject error) bool {
	if x.Done() {
		return true
	}
	if err := ctx.Err(); err != nil {
		return x.halt(err) // D28: stop between nodes, undo nothing
	}
	if x.unwinding {
		x.undoNext(ctx)
		return x.Done()
	}
	if x.next >= len(x.steps) {
		x.finish(Completed)
		return true
	}
	i := x.next
	s := x.steps[i]
	if !x.record(i, evStarted, nil) {
		return true
	}
	err := inject
	if err == nil {
		err = s.Do(ctx)
	}
	if err != nil && inject == nil && ctx.Err() != nil {
		// The action failed because the caller went away (D28): that is
		// shutdown, not the saga failing. Its started event stands; the
		// recovery runs it again.
		return x.halt(ctx.Err())
	}
	var e errEnd
	switch {
	case err == nil:
		x.ran = append(x.ran, s.Name)
		x.done = append(x.done, i)
		x.last, x.lastUndo = i, false
		x.next++
		if !x.record(i, evSucceeded, nil) {
			return true
		}
		if x.next == len(x.steps) {
			x.finish(Completed)
		}
	case errors.As(err, &e):
		x.ran = append(x.ran, s.Name)
		x.last, x.lastUndo = i, false
		x.ended = e.why
		if !x.record(i, evSucceeded, err) {
			return true
		}
		x.finish(Completed)
	default:
		// A failed action has nothing to undo (Steno runs the undo only of
		// the actions that completed), and is not run again.
		x.ran = append(x.ran, s.Name)
		x.last = -1
		x.err = fmt.Errorf("%s: %w", s.Name, err)
		x.unwinding = true
		if !x.record(i, evFailed, x.err) {
			return true
		}
		if x.journal != nil {
			if jerr := x.journal.unwinding(); jerr != nil {
				return x.halt(jerr)
			}
		}
		x.finishUnwindIfDone()
	}
	return x.Done()
}

// popUndo removes and returns the latest completed step that has an
// undo; -1 when none is left.
func (x *Exec) popUndo() int {
	for len(x.done) > 0 {
		i := x.done[len(x.done)-1]
		x.done = x.done[:len(x.done)-1]
		if x.steps[i].Undo != nil {
			return i
		}
	}
	return -1
}

func (x *Exec) undoNext(ctx context.Context) {
	i := x.peekUndo()
	if i < 0 {
		x.finish(Unwound)
		return
	}
	s := x.steps[i]
	if !x.record(i, evUndoStarted, nil) {
		return
	}
	x.popUndo()
	x.undone = append(x.undone, s.Name)
	if err := s.Undo(ctx); err != nil {
		if ctx.Err() != nil {
			// D28: an undo cut short by shutdown is run again by the
			// recovery, never taken for an undo that failed.
			x.halt(ctx.Err())
			return
		}
		x.last = -1
		x.err = errors.Join(x.err, fmt.Errorf("undo %s: %w", s.Name, err))
		if !x.record(i, evUndoFailed, err) {
			return
		}
		x.finish(Stuck)
		return
	}
	x.last, x.lastUndo = i, true
	if !x.record(i, evUndoFinished, nil) {
		return
	}
	x.finishUnwindIfDone()
}

// peekUndo returns the latest completed step that has an undo, without
// removing it; -1 when none is left.
func (x *Exec) peekUndo() int {
	for j := len(x.done) - 1; j >= 0; j-- {
		if i := x.done[j]; x.steps[i].Undo != nil {
			return i
		}
	}
	return -1
}

// finishUnwindIfDone ends an unwind with no undo left to run, so that a
// saga whose last undo just ran reads as ended without one more call.
func (x *Exec) finishUnwindIfDone() {
	for _, i := range x.done {
		if x.steps[i].Undo != nil {
			return
		}
	}
	x.finish(Unwound)
}

func (x *Exec) finish(o Outcome) {
	if x.journal != nil {
		if err := x.journal.finish(o); err != nil {
			x.halt(err)
			return
		}
	}
	x.finished, x.outcome, x.done = true, o, nil
	if f, ok := x.saga.(finisher); ok {
		f.finished(o)
	}
	if x.journal != nil {
		x.journal.stopped()
	}
}

// finisher is a saga that records how it ended.
type finisher interface{ finished(Outcome) }

// Result is how Run left a saga.
type Result struct {
	Outcome Outcome
	// Ran names the steps whose action was tried, in order, the failed
	// one last; Undone the steps whose undo ran, in order.
	Ran, Undone []string
	// Err is why the saga unwound or got stuck; nil when it completed.
	Err error
	// Ended is why a step ended the saga early; "" otherwise.
	Ended string
}

// Options are the faults Run injects.
type Options struct {
	// FailAt names a step that fails with ErrInjected instead of running;
	// "" fails none.
	FailAt string
	// Replay runs every node twice (Exec.Again): an error of a second run
	// is returned by Run, as a node that is not idempotent.
	Replay bool
}

// Run runs saga s over env to its end and returns how it ended. Its error
// is for the caller's mistakes — an unknown FailAt, a node that fails when
// replayed — never for the saga's own failure, which is an outcome.
func Run(ctx context.Context, env *Env, s Saga, opt Options) (Result, error) {
	if err := env.check(); err != nil {
		return Result{}, err
	}
	x := NewExec(env, s)
	if opt.FailAt != "" {
		found := false
		var names []string
		for _, st := range x.steps {
			found = found || st.Name == opt.FailAt
			names = append(names, st.Name)
		}
		if !found {
			return Result{}, fmt.Errorf("fail_at: %q is not a step of the %v saga (accepted: %v)", opt.FailAt, s.Kind(), names)
		}
	}
	for !x.Done() {
		if name, undo := x.NextNode(); !undo && name == opt.FailAt {
			x.Fail(ctx)
		} else {
			x.Next(ctx)
		}
		if opt.Replay && x.LastRan() {
			if err := x.Again(ctx); err != nil {
				return x.result(), err
			}
		}
	}
	return x.result(), nil
}

func (x *Exec) result() Result {
	return Result{Outcome: x.outcome, Ran: x.ran, Undone: x.undone, Err: x.err, Ended: x.ended}
}

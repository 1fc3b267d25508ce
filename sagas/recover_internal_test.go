package sagas

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/vmmstate"
)

// logOf builds a start saga's log from "node:event" pairs; an outcome
// carries the saga's state, an error when it failed, and why it ended
// when ended is its node.
func logOf(t *testing.T, ended string, pairs ...string) (params []byte, events []datastore.NodeEvent) {
	t.Helper()
	s := &Start{Instance: vmmstate.InstanceIDFromUUID(uuid.MustParse("11111111-1111-4111-8111-111111111111"))}
	state, err := s.marshalState()
	if err != nil {
		t.Fatal(err)
	}
	params, _ = json.Marshal(sagaParams{State: state})
	for _, p := range pairs {
		node, ev, _ := strings.Cut(p, ":")
		typ, err := datastore.ParseEventType(ev)
		if err != nil {
			t.Fatal(err)
		}
		e := datastore.NodeEvent{Node: node, Type: typ}
		if typ != datastore.EventStarted && typ != datastore.EventUndoStarted {
			d := eventData{State: state}
			if typ == datastore.EventFailed || typ == datastore.EventUndoFailed {
				d.Error = node + " broke"
			}
			if node == ended {
				d.Ended = "nothing"
			}
			e.Data, _ = json.Marshal(d)
		}
		events = append(events, e)
	}
	return params, events
}

// TestRecoveryRows: logs at the edges of Steno's rules — the ones the
// executor writes when an undo fails or a step ends the saga early, which
// no injected failure produces, and the ones no executor writes — each
// accepted or refused with the node named, and resumed where the log
// leaves the saga.
func TestRecoveryRows(t *testing.T) {
	const (
		a, b, c, d = StepChooseVMMID, StepAllocServer, StepCreateVMM, StepMarkAsStarting
	)
	for _, r := range []struct {
		name    string
		ended   string
		pairs   []string
		badNode string  // refused, naming this node; "" accepted
		outcome Outcome // as resumed; 0: still to run
		next    string  // the node to run next when not at rest
		undo    bool
	}{
		{"stuck: an undo failed", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded", c + ":started", c + ":failed",
			b + ":undo_started", b + ":undo_failed"}, "", Stuck, "", false},
		{"an undo started, not finished: run again", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded", c + ":started", c + ":failed",
			b + ":undo_started"}, "", 0, b, true},
		{"the next undo after one finished", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded", c + ":started", c + ":failed",
			b + ":undo_started", b + ":undo_finished"}, "", 0, a, true},
		{"ended early by a step", b, []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded"}, "", Completed, "", false},
		{"a start after the saga ended early", b, []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded", c + ":started"}, c, 0, "", false},
		{"a start after a failure", "", []string{a + ":started", a + ":failed", b + ":started"}, b, 0, "", false},
		{"ended at the first step, then a start", a, []string{a + ":started", a + ":succeeded", b + ":started"}, b, 0, "", false},
		{"failed at the first step: unwinding, nothing to undo", "", []string{a + ":started", a + ":failed"}, "", 0, "", true},
		{"every step succeeded, the state not yet moved", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded",
			c + ":started", c + ":succeeded", d + ":started", d + ":succeeded", StepRegister + ":started", StepRegister + ":succeeded",
			StepClearStartFailure + ":started", StepClearStartFailure + ":succeeded"}, "", Completed, "", false},
		{"stuck at the first step's undo", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded", c + ":started", c + ":failed",
			b + ":undo_started", b + ":undo_finished", a + ":undo_started", a + ":undo_failed"}, "", Stuck, "", false},
		{"undone with no failure", "", []string{a + ":started", a + ":succeeded", a + ":undo_started"}, a, 0, "", false},
		{"undone before a later undo finished", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded", c + ":started", c + ":failed",
			a + ":undo_started"}, a, 0, "", false},
		{"undone after an undo failed", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded", c + ":started", c + ":failed",
			b + ":undo_started", b + ":undo_failed", a + ":undo_started"}, a, 0, "", false},
		{"an outcome without its start", "", []string{a + ":succeeded"}, a, 0, "", false},
		{"both outcomes", "", []string{a + ":started", a + ":succeeded", a + ":failed"}, a, 0, "", false},
		{"an undo's outcome without its start", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":failed", a + ":undo_finished"}, a, 0, "", false},
		{"both undo outcomes", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":failed", a + ":undo_started", a + ":undo_finished", a + ":undo_failed"}, a, 0, "", false},
		{"a node of another saga", "", []string{"lock_instance:started"}, "lock_instance", 0, "", false},
		{"the same event twice", "", []string{a + ":started", a + ":started"}, a, 0, "", false},
		{"undone, though it never succeeded", "", []string{a + ":started", a + ":failed", a + ":undo_started"}, a, 0, "", false},
		{"the undo of a step that has none", "", []string{a + ":started", a + ":succeeded", b + ":started", b + ":succeeded", c + ":started", c + ":succeeded",
			d + ":started", d + ":succeeded", StepRegister + ":started", StepRegister + ":succeeded", StepClearStartFailure + ":started",
			StepClearStartFailure + ":succeeded", StepClearStartFailure + ":undo_started"}, StepClearStartFailure, 0, "", false},
	} {
		params, events := logOf(t, r.ended, r.pairs...)
		env := &Env{}
		err := CheckLog(env, KindStart, params, events)
		x, _, _, rerr := resume(env, KindStart, params, events)
		var le *LogError
		if r.badNode != "" {
			if !errors.As(err, &le) || le.Node != r.badNode || !errors.Is(err, ErrLog) || !errors.As(rerr, &le) ||
				!strings.Contains(err.Error(), "node "+r.badNode+": ") {
				t.Errorf("%s: CheckLog %v, resume %v; want a *LogError naming %s", r.name, err, rerr, r.badNode)
			}
			continue
		}
		if err != nil || rerr != nil {
			t.Errorf("%s: refused (%v, %v); an executor writes this log", r.name, err, rerr)
			continue
		}
		if x.Outcome() != r.outcome || x.Done() != (r.outcome != 0) {
			t.Errorf("%s: resumed %v (done %v); want %v", r.name, x.Outcome(), x.Done(), r.outcome)
		}
		if r.outcome == Stuck && (x.Err() == nil || !strings.Contains(x.Err().Error(), " broke")) {
			t.Errorf("%s: error %v; want the failed undo named", r.name, x.Err())
		}
		var undone []string
		for i := len(r.pairs) - 1; i >= 0; i-- {
			if node, ev, _ := strings.Cut(r.pairs[i], ":"); ev == "undo_started" {
				undone = append([]string{node}, undone...)
			}
		}
		if strings.Join(x.Undone(), ",") != strings.Join(undone, ",") {
			t.Errorf("%s: undone %v; want %v", r.name, x.Undone(), undone)
		}
		if r.outcome == 0 {
			if node, undo := x.NextNode(); node != r.next || undo != r.undo {
				t.Errorf("%s: next %s (undo %v); want %s (undo %v)", r.name, node, undo, r.next, r.undo)
			}
		}
		// A resumed unwind is driven as any other: Skip passes over the
		// undo NextNode names, without running it, and with none left it
		// ends the saga unwound.
		if r.outcome == 0 && r.undo {
			x.Skip(context.Background())
			node, _ := x.NextNode()
			if node == r.next && r.next != "" || r.next == "" && x.Outcome() != Unwound ||
				strings.Join(x.Undone(), ",") != strings.Join(undone, ",") {
				t.Errorf("%s: after Skip, next %q, outcome %v, undone %v", r.name, node, x.Outcome(), x.Undone())
			}
		}
	}
	// An event of no known type is refused, naming its node.
	params, events := logOf(t, "", StepChooseVMMID+":started")
	for _, typ := range []datastore.EventType{0, datastore.EventUndoFailed + 1} {
		events[0].Type = typ
		var le *LogError
		if err := CheckLog(&Env{}, KindStart, params, events); !errors.As(err, &le) || le.Node != StepChooseVMMID {
			t.Errorf("an event of type %d: %v; want a *LogError naming %s", typ, err, StepChooseVMMID)
		}
	}
	if got := (&LogError{Problem: "x"}).Error(); got != "sagas: saga log: x" {
		t.Errorf("a log error with no node: %q", got)
	}
}

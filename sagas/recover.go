package sagas

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmlife/vmlife/datastore"
)

// LogError is a saga log that no executor writes: recovery refuses it,
// naming the node and what is wrong, and the saga is abandoned as
// unrecoverable rather than run from a guess.
type LogError struct {
	Node    string // the node whose events are wrong; "" for the log as a whole
	Problem string
}

func (e *LogError) Error() string {
	if e.Node == "" {
		return "sagas: saga log: " + e.Problem
	}
	return "sagas: saga log: node " + e.Node + ": " + e.Problem
}

// ErrLog is what errors.Is matches for every *LogError.
var ErrLog = errors.New("sagas: invalid saga log")

// Is matches ErrLog.
func (e *LogError) Is(target error) bool { return target == ErrLog }

// nodeEvents is what the log says of one node.
type nodeEvents struct {
	has  [datastore.EventUndoFailed + 1]bool
	data [datastore.EventUndoFailed + 1][]byte
}

func (n *nodeEvents) is(t datastore.EventType) bool { return n.has[t] }

// CheckLog reports whether events are a log an executor of this package
// writes for a saga of kind k — at any point, a crash's included — and
// if not, a *LogError naming the node. Steno's rules: a node is started,
// then succeeded or failed; a succeeded node may later be undone
// (undo_started, then undo_finished or undo_failed); nodes run in order,
// each only after the one before succeeded; undos run only after a node
// failed, latest first, each only after the one after it finished, and
// nothing after an undo failed.
func CheckLog(env *Env, k Kind, params []byte, events []datastore.NodeEvent) error {
	s, _, err := fromParams(k, params)
	if err != nil {
		return err
	}
	_, _, err = check(s.Steps(env), events)
	return err
}

// fromParams rebuilds a saga as it was created from its record's
// parameters, and the step made to fail.
func fromParams(k Kind, params []byte) (durable, string, error) {
	s, err := newSaga(k)
	if err != nil {
		return nil, "", &LogError{Problem: err.Error()}
	}
	var p sagaParams
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, "", &LogError{Problem: "the saga's parameters: " + err.Error()}
	}
	if err := s.restoreState(p.State); err != nil {
		return nil, "", &LogError{Problem: "the saga's parameters: " + err.Error()}
	}
	return s, p.FailAt, nil
}

// check validates events against steps and returns what the log says of
// each step, and the failed node (-1 for none).
func check(steps []Step, events []datastore.NodeEvent) ([]nodeEvents, int, error) {
	index := make(map[string]int, len(steps))
	for i, s := range steps {
		index[s.Name] = i
	}
	nodes := make([]nodeEvents, len(steps))
	for _, e := range events {
		i, ok := index[e.Node]
		if !ok {
			return nil, -1, &LogError{Node: e.Node, Problem: "not a step of this saga"}
		}
		if e.Type < datastore.EventStarted || e.Type > datastore.EventUndoFailed {
			return nil, -1, &LogError{Node: e.Node, Problem: fmt.Sprintf("event type %d", e.Type)}
		}
		if nodes[i].has[e.Type] {
			return nil, -1, &LogError{Node: e.Node, Problem: e.Type.String() + " twice"}
		}
		nodes[i].has[e.Type], nodes[i].data[e.Type] = true, e.Data
	}
	bad := func(i int, problem string) ([]nodeEvents, int, error) {
		return nil, -1, &LogError{Node: steps[i].Name, Problem: problem}
	}
	failed, ended := -1, -1
	for i := range steps {
		n := &nodes[i]
		switch {
		case (n.is(datastore.EventSucceeded) || n.is(datastore.EventFailed)) && !n.is(datastore.EventStarted):
			return bad(i, "an outcome without started")
		case n.is(datastore.EventSucceeded) && n.is(datastore.EventFailed):
			return bad(i, "both succeeded and failed")
		case n.is(datastore.EventUndoStarted) && !n.is(datastore.EventSucceeded):
			return bad(i, "undone without having succeeded")
		case (n.is(datastore.EventUndoFinished) || n.is(datastore.EventUndoFailed)) && !n.is(datastore.EventUndoStarted):
			return bad(i, "an undo's outcome without undo_started")
		case n.is(datastore.EventUndoFinished) && n.is(datastore.EventUndoFailed):
			return bad(i, "both undo_finished and undo_failed")
		case n.is(datastore.EventUndoStarted) && steps[i].Undo == nil:
			return bad(i, "undone, but the step has no undo")
		case n.is(datastore.EventStarted) && i > 0 && !nodes[i-1].is(datastore.EventSucceeded):
			return bad(i, "started before "+steps[i-1].Name+" succeeded")
		case n.is(datastore.EventStarted) && (failed >= 0 || ended >= 0):
			return bad(i, "started after the saga stopped going forward")
		}
		if n.is(datastore.EventFailed) {
			failed = i
		}
		if n.is(datastore.EventSucceeded) {
			var d eventData
			if err := json.Unmarshal(n.data[datastore.EventSucceeded], &d); err != nil {
				return bad(i, "succeeded with unreadable data: "+err.Error())
			}
			if d.Ended != "" {
				ended = i
			}
		}
	}
	// Undos: only after a failure, latest first — each once every later
	// undo finished, so none after one failed.
	for i := range steps {
		n := &nodes[i]
		if !n.is(datastore.EventUndoStarted) {
			continue
		}
		if failed < 0 {
			return bad(i, "undone although no node failed")
		}
		for j := i + 1; j < len(steps); j++ {
			if nodes[j].is(datastore.EventSucceeded) && steps[j].Undo != nil && !nodes[j].is(datastore.EventUndoFinished) {
				return bad(i, "undone before "+steps[j].Name+"'s undo finished")
			}
		}
	}
	return nodes, failed, nil
}

// resume rebuilds, from a saga's parameters and its log, the saga and an
// executor standing where the log leaves it (D26). Steno's replay rules:
// a node started without an outcome runs again; a succeeded node never
// does; a failed saga unwinds, each succeeded node with an undo not yet
// finished undone (an undo started and not finished runs again); an undo
// that failed leaves the saga stuck. The saga's state is the one written
// with the log's latest outcome, in the order the executor runs nodes —
// never by wall time.
func resume(env *Env, k Kind, params []byte, events []datastore.NodeEvent) (*Exec, durable, string, error) {
	s, failAt, err := fromParams(k, params)
	if err != nil {
		return nil, nil, "", err
	}
	x := NewExec(env, s)
	nodes, failed, err := check(x.steps, events)
	if err != nil {
		return nil, nil, "", err
	}
	// The latest outcome: the last undo's, else the failed node's, else
	// the last forward node's.
	var latest []byte
	var ended string
	for i := range x.steps {
		n := &nodes[i]
		if n.is(datastore.EventStarted) {
			x.ran = append(x.ran, x.steps[i].Name)
		}
		for _, t := range [...]datastore.EventType{datastore.EventSucceeded, datastore.EventFailed} {
			if n.is(t) {
				latest = n.data[t]
			}
		}
	}
	for i := len(x.steps) - 1; i >= 0; i-- {
		n := &nodes[i]
		if n.is(datastore.EventUndoStarted) {
			x.undone = append(x.undone, x.steps[i].Name)
		}
		for _, t := range [...]datastore.EventType{datastore.EventUndoFinished, datastore.EventUndoFailed} {
			if n.is(t) {
				latest = n.data[t]
			}
		}
	}
	if latest != nil {
		var d eventData
		if err := json.Unmarshal(latest, &d); err != nil {
			return nil, nil, "", &LogError{Problem: "an outcome's data: " + err.Error()}
		}
		if err := s.restoreState(d.State); err != nil {
			return nil, nil, "", &LogError{Problem: "the saga's state: " + err.Error()}
		}
		ended = d.Ended
	}
	// Forward progress: the nodes that succeeded, in order.
	for i := range x.steps {
		if !nodes[i].is(datastore.EventSucceeded) {
			break
		}
		x.done = append(x.done, i)
		x.next = i + 1
	}
	switch {
	case failed >= 0:
		var d eventData
		_ = json.Unmarshal(nodes[failed].data[datastore.EventFailed], &d)
		x.err = errors.New(d.Error)
		x.unwinding = true
		// Undos already finished are not owed again; an undo that failed
		// left the saga stuck.
		kept := x.done[:0]
		for _, i := range x.done {
			if nodes[i].is(datastore.EventUndoFailed) {
				var u eventData
				_ = json.Unmarshal(nodes[i].data[datastore.EventUndoFailed], &u)
				x.err = errors.Join(x.err, fmt.Errorf("undo %s: %s", x.steps[i].Name, u.Error))
				x.finished, x.outcome, x.done = true, Stuck, nil
				return x, s, failAt, nil
			}
			if !nodes[i].is(datastore.EventUndoFinished) {
				kept = append(kept, i)
			}
		}
		x.done = kept
	case ended != "":
		x.ended = ended
		x.finished, x.outcome = true, Completed
	case x.next == len(x.steps):
		x.finished, x.outcome = true, Completed
	}
	return x, s, failAt, nil
}

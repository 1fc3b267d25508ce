package sagas_test

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/sagas"
)

// runLogs runs saga table tb under every failure point and returns each
// run's log, and the saga's parameters.
func runLogs(t *testing.T, tb table) ([][]datastore.NodeEvent, []byte) {
	var logs [][]datastore.NodeEvent
	var params []byte
	for _, failAt := range failPoints(tb) {
		f := newFixture(t)
		tb.setup(f)
		if _, err := f.sec(secA).Run(f.ctx, sagaID, tb.saga(), sagas.RunOptions{Options: sagas.Options{FailAt: failAt}}); err != nil {
			t.Fatal(err)
		}
		rec, evs, err := f.st.SagaFetch(f.ctx, sagaID)
		if err != nil {
			t.Fatal(err)
		}
		if failAt == "" {
			params = rec.Params
		}
		logs = append(logs, evs)
	}
	return logs, params
}

// key is a log as a set: its sorted node:type pairs.
func key(evs []datastore.NodeEvent) string {
	var parts []string
	for _, e := range evs {
		parts = append(parts, e.Node+":"+e.Type.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// TestRecoveryAcceptsExactlyTheLogsExecutorsWrite: every prefix of every
// log an executor writes (a crash at any event) is accepted by recovery's
// check; a log changed at random — an event dropped, added or retyped — is
// accepted exactly when it is such a prefix too (failures injected with
// their parameters aside), and otherwise refused with a *LogError naming
// the node. Recovery refuses only logs no executor writes.
func TestRecoveryAcceptsExactlyTheLogsExecutorsWrite(t *testing.T) {
	for _, tb := range tables {
		logs, _ := runLogs(t, tb)
		valid := map[string]bool{}
		var nodes []string
		for _, l := range logs {
			for k := 0; k <= len(l); k++ {
				valid[key(l[:k])] = true
			}
			for _, e := range l {
				if !slices.Contains(nodes, e.Node) {
					nodes = append(nodes, e.Node)
				}
			}
		}
		f := newFixture(t)
		tb.setup(f)
		// The check reads the failure point from the parameters only to
		// run it; a log is judged by its events alone.
		_, params := runLogs(t, tb)
		for _, l := range logs {
			for k := 0; k <= len(l); k++ {
				if err := sagas.CheckLog(f.w.Env, tb.saga().Kind(), params, l[:k]); err != nil {
					t.Errorf("%s: a prefix of %d events of a real log refused: %v", tb.name, k, err)
				}
			}
		}
		types := []datastore.EventType{datastore.EventStarted, datastore.EventSucceeded, datastore.EventFailed,
			datastore.EventUndoStarted, datastore.EventUndoFinished}
		rapid.Check(t, func(rt *rapid.T) {
			base := logs[rapid.IntRange(0, len(logs)-1).Draw(rt, "run")]
			l := slices.Clone(base[:rapid.IntRange(0, len(base)).Draw(rt, "prefix")])
			switch rapid.IntRange(0, 2).Draw(rt, "change") {
			case 0:
				if len(l) > 0 {
					i := rapid.IntRange(0, len(l)-1).Draw(rt, "drop")
					l = slices.Delete(l, i, i+1)
				}
			case 1:
				e := datastore.NodeEvent{Saga: sagaID, Node: rapid.SampledFrom(nodes).Draw(rt, "node"),
					Type: rapid.SampledFrom(types).Draw(rt, "type"), Data: []byte(`{"state":{}}`)}
				if slices.ContainsFunc(l, func(x datastore.NodeEvent) bool { return x.Node == e.Node && x.Type == e.Type }) {
					return
				}
				l = append(l, e)
			case 2:
				if len(l) > 0 {
					i := rapid.IntRange(0, len(l)-1).Draw(rt, "retype")
					e := l[i]
					e.Type = rapid.SampledFrom(types).Draw(rt, "type")
					if slices.ContainsFunc(l, func(x datastore.NodeEvent) bool { return x.Node == e.Node && x.Type == e.Type }) {
						return
					}
					if e.Type == datastore.EventSucceeded || e.Type == datastore.EventFailed || e.Type == datastore.EventUndoFinished {
						e.Data = []byte(`{"state":{}}`)
					}
					l[i] = e
				}
			}
			err := sagas.CheckLog(f.w.Env, tb.saga().Kind(), params, l)
			var le *sagas.LogError
			switch {
			case valid[key(l)] && err != nil:
				rt.Fatalf("%s: a log an executor writes refused: %v\n%s", tb.name, err, key(l))
			case !valid[key(l)] && err == nil:
				rt.Fatalf("%s: a log no executor writes accepted:\n%s", tb.name, key(l))
			case err != nil && (!errors.As(err, &le) || le.Node == "" || !errors.Is(err, sagas.ErrLog)):
				rt.Fatalf("%s: refused with %v; want a *LogError naming the node", tb.name, err)
			}
		})
	}
}

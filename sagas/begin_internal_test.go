package sagas

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// TestSkipIsJournaledAsRun: an undo Skip passes over is logged as an undo
// that ran — started, then finished — so that recovery reads an unwind
// with no gap; and the journal hears, once, that the executor stopped.
func TestSkipIsJournaledAsRun(t *testing.T) {
	s := &nodeSaga{n: 3, fail: 2, end: -1, stuck: -1}
	x := NewExec(&Env{}, s)
	j := &recJournal{x: x}
	x.journal = j
	ctx := context.Background()
	x.Next(ctx) // a
	x.Next(ctx) // b
	x.Next(ctx) // c fails: unwinding
	x.Skip(ctx) // b's undo passed over
	x.Next(ctx) // a's undo
	want := []string{"started a", "succeeded a", "started b", "succeeded b", "started c", "failed c", "unwinding",
		"undo_started b", "undo_finished b", "undo_started a", "undo_finished a", "finish unwound"}
	if d := cmp.Diff(want, j.writes); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"do a", "do b", "do c", "undo a"}, s.log); d != "" {
		t.Errorf("nodes run (-want +got):\n%s", d)
	}
	if !x.Done() || x.Outcome() != Unwound || j.stops != 1 {
		t.Errorf("done %v, outcome %v, stops %d; want done, unwound, one stop", x.Done(), x.Outcome(), j.stops)
	}
}

// TestStoppedOnceOnHalt: a refused write halts the executor, and the
// journal hears it once, however often the caller goes on asking.
func TestStoppedOnceOnHalt(t *testing.T) {
	for failAt := 1; failAt <= 5; failAt++ {
		x := NewExec(&Env{}, &nodeSaga{n: 2, fail: -1, end: -1, stuck: -1})
		j := &recJournal{x: x, failAt: failAt}
		x.journal = j
		for range 6 {
			x.Next(context.Background())
		}
		if !x.Done() || j.stops != 1 {
			t.Errorf("write %d refused: done %v, stops %d; want one", failAt, x.Done(), j.stops)
		}
	}
}

// TestPropEventDataIsEncodingJSONs: the event data the journal writes by
// hand is, byte for byte, what encoding/json writes for eventData — so the
// reader (encoding/json) reads back what was meant, whatever an error
// says.
func TestPropEventDataIsEncodingJSONs(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		state, err := json.Marshal(map[string]any{"vmm": rapid.String().Draw(t, "vmm"), "n": rapid.Int().Draw(t, "n")})
		if err != nil {
			t.Fatal(err)
		}
		key := rapid.SampledFrom([]string{"", "error", "ended"}).Draw(t, "key")
		text := rapid.String().Draw(t, "text")
		want := eventData{State: state}
		switch key {
		case "error":
			want.Error = text
		case "ended":
			want.Ended = text
		default:
			text = ""
		}
		wantB, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendEventData(state, key, text)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(wantB) {
			t.Fatalf("appendEventData = %s\nencoding/json    = %s", got, wantB)
		}
	})
}

package sagas

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
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

// TestLoggedStateFollowsTheSaga: the start and update sagas encode the
// instance and the snapshot they log once and keep the bytes; a value that
// changes is encoded again, never logged stale.
func TestLoggedStateFollowsTheSaga(t *testing.T) {
	id := vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000001"))
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	s := &Start{Instance: id, Reason: failure.StartReasonUser, Started: instancestate.New(id, true, instancestate.AutoRestart{}, now)}
	if _, err := s.marshalState(); err != nil {
		t.Fatal(err)
	}
	s.Started.IntendedState = instancestate.IntendStopped
	b, err := s.marshalState()
	if err != nil {
		t.Fatal(err)
	}
	var back Start
	if err := back.restoreState(b); err != nil {
		t.Fatal(err)
	}
	if back.Started.IntendedState != instancestate.IntendStopped {
		t.Errorf("the start saga logged a stale instance: %v", back.Started.IntendedState)
	}

	u := &Update{Instance: id, Snapshot: instancestate.Snapshot{Instance: instancestate.New(id, true, instancestate.AutoRestart{}, now)}, planned: now}
	u.Snapshot.Instance.Runtime.State = instancestate.NexusNoVMM
	if _, err := u.marshalState(); err != nil {
		t.Fatal(err)
	}
	u.planned = now.Add(time.Minute)
	b, err = u.marshalState()
	if err != nil {
		t.Fatal(err)
	}
	var ub Update
	if err := ub.restoreState(b); err != nil {
		t.Fatal(err)
	}
	if !ub.planned.Equal(now.Add(time.Minute)) {
		t.Errorf("the update saga logged a stale snapshot document: planned %v", ub.planned)
	}
}

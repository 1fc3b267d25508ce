package instancestate_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
)

// D17, validate once, decide many: a Checked — made by Check, or by Reset
// on one reused across snapshots — answers every decision exactly as the
// function that validates first does, at any time and in any order.
func TestPropCheckedIsTheDecisions(t *testing.T) {
	var reused instancestate.Checked
	fixed := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	rapid.Check(t, func(t *rapid.T) {
		s, now := drawn(t)
		checked, err := instancestate.Check(&s)
		if err != nil {
			t.Fatalf("Check of a valid snapshot: %v", err)
		}
		if err := reused.Reset(&s); err != nil {
			t.Fatalf("Reset to a valid snapshot: %v", err)
		}
		// The reused Checked is asked at one fixed time in every draw, so
		// that what it worked out for the snapshot before cannot pass for
		// this one's.
		wantP, wantReq, _ := instancestate.PlanUpdate(s, fixed)
		if gotP, gotReq, _ := reused.PlanUpdate(fixed); gotP != wantP || gotReq != wantReq {
			t.Fatalf("PlanUpdate after Reset: %+v %v, want %+v %v", gotP, gotReq, wantP, wantReq)
		}
		wantR, _ := instancestate.Reincarnate(s, fixed)
		if got := reused.Reincarnate(fixed); got != wantR {
			t.Fatalf("Reincarnate after Reset: %+v, want %+v", got, wantR)
		}
		for _, c := range []*instancestate.Checked{&checked, &reused} {
			if c.Snapshot() != s {
				t.Fatalf("Checked holds %+v, want %+v", c.Snapshot(), s)
			}
			// Next first on odd draws, so that it is right without a plan
			// or reincarnation worked out before it.
			if rapid.Bool().Draw(t, "next first") {
				want, _ := instancestate.Next(s, now)
				if got := c.Next(now); got != want {
					t.Fatalf("Next: %+v, want %+v", got, want)
				}
			}
			want, _ := instancestate.EffectiveState(s)
			if got := c.EffectiveState(); got != want {
				t.Fatalf("EffectiveState: %v, want %v", got, want)
			}
			wantP, wantReq, wantErr := instancestate.PlanUpdate(s, now)
			gotP, gotReq, gotErr := c.PlanUpdate(now)
			if gotP != wantP || gotReq != wantReq || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("PlanUpdate: %+v %v %v, want %+v %v %v", gotP, gotReq, gotErr, wantP, wantReq, wantErr)
			}
			wantR, _ := instancestate.Reincarnate(s, now)
			if got := c.Reincarnate(now); got != wantR {
				t.Fatalf("Reincarnate: %+v, want %+v", got, wantR)
			}
			wantC, _ := instancestate.Conditions(s, now)
			if got := c.Conditions(now, nil); !slices.Equal(got, wantC) {
				t.Fatalf("Conditions: %+v, want %+v", got, wantC)
			}
			wantN, _ := instancestate.Next(s, now)
			if got := c.Next(now); got != wantN {
				t.Fatalf("Next: %+v, want %+v", got, wantN)
			}
			// A later time is worked out afresh, not read from the cache.
			later := now.Add(instancestate.DefaultCooldown)
			wantR, _ = instancestate.Reincarnate(s, later)
			if got := c.Reincarnate(later); got != wantR {
				t.Fatalf("Reincarnate later: %+v, want %+v", got, wantR)
			}
			wantN, _ = instancestate.Next(s, later)
			if got := c.Next(later); got != wantN {
				t.Fatalf("Next later: %+v, want %+v", got, wantN)
			}
		}
		// Leave the reused Checked holding this snapshot's answers at the
		// fixed time, for the next draw's Reset to forget.
		reused.PlanUpdate(fixed)
		reused.Reincarnate(fixed)
	})
}

// An invalid snapshot is refused by Check and Reset with Validate's error,
// and a refused Reset leaves nothing of the snapshot before.
func TestCheckedRefusesInvalid(t *testing.T) {
	valid := rapid.Custom(func(t *rapid.T) instancestate.Snapshot { return instancetest.Snapshot().Draw(t, "s") })
	rapid.Check(t, func(t *rapid.T) {
		s := valid.Draw(t, "snapshot")
		bad := s
		bad.Instance.Runtime.State = instancestate.NexusVMM
		bad.Instance.Runtime.ActiveVMM, bad.Active = s.Instance.Runtime.ActiveVMM, s.Active
		if s.HasActive() {
			bad.Instance.Runtime.State = instancestate.NexusNoVMM // active VMM without state vmm
		} else {
			bad.Instance.Runtime.State = instancestate.NexusVMM // state vmm without an active VMM
		}
		want := bad.Validate()
		if want == nil {
			t.Skip("not broken")
		}
		if _, err := instancestate.Check(&bad); err == nil || err.Error() != want.Error() {
			t.Fatalf("Check: %v, want %v", err, want)
		}
		var c instancestate.Checked
		if err := c.Reset(&s); err != nil {
			t.Fatal(err)
		}
		now := instancetest.Now(s).Draw(t, "now")
		c.PlanUpdate(now) // worked out, and kept, for s
		c.Reincarnate(now)
		err := c.Reset(&bad)
		if err == nil || err.Error() != want.Error() || !errors.Is(err, instancestate.ErrInvalidRecord) {
			t.Fatalf("Reset: %v, want %v", err, want)
		}
		if c.Snapshot() != (instancestate.Snapshot{}) {
			t.Fatalf("a refused Reset kept %+v", c.Snapshot())
		}
		// Every decision then answers as on the zero Checked (and neither
		// panics), whatever the refused Reset found worked out before it.
		var zero instancestate.Checked
		gotP, gotReq, gotErr := c.PlanUpdate(now)
		wantP, wantReq, wantErr := zero.PlanUpdate(now)
		if c.EffectiveState() != zero.EffectiveState() || gotP != wantP || gotReq != wantReq || gotErr != wantErr ||
			c.Reincarnate(now) != zero.Reincarnate(now) || c.Next(now) != zero.Next(now) ||
			!slices.Equal(c.Conditions(now, nil), zero.Conditions(now, nil)) {
			t.Fatalf("after a refused Reset the decisions differ from the zero Checked's")
		}
	})
}

package instancestate_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/instancestate"
)

// TestPropDecisionsDoNotAllocate pins what the fleet benchmark measures:
// on every snapshot shape instancetest reaches, each of the six decisions,
// and each of them on a Checked (made by Reset, its plan and reincarnation
// worked out afresh each run), allocates nothing — Conditions through AppendConditions into a buffer
// with room, since a returned slice is an allocation by construction.
// Messages and explanations are built only when asked for.
func TestPropDecisionsDoNotAllocate(t *testing.T) {
	conds := make([]instancestate.Condition, 0, 8)
	var c instancestate.Checked
	rapid.Check(t, func(rt *rapid.T) {
		s, now := drawn(rt)
		for _, d := range []struct {
			name string
			f    func()
		}{
			{"Validate", func() { _ = s.Validate() }},
			{"EffectiveState", func() { _, _ = instancestate.EffectiveState(s) }},
			{"PlanUpdate", func() { _, _, _ = instancestate.PlanUpdate(s, now) }},
			{"Reincarnate", func() { _, _ = instancestate.Reincarnate(s, now) }},
			{"AppendConditions", func() { conds, _ = instancestate.AppendConditions(conds[:0], s, now) }},
			{"Next", func() { _, _ = instancestate.Next(s, now) }},
			{"Checked", func() {
				if err := c.Reset(&s); err != nil {
					rt.Fatal(err)
				}
				_ = c.EffectiveState()
				_, _, _ = c.PlanUpdate(now)
				_ = c.Reincarnate(now)
				conds = c.Conditions(now, conds[:0])
				_ = c.Next(now)
			}},
		} {
			if n := testing.AllocsPerRun(3, d.f); n != 0 {
				rt.Fatalf("%s allocates %v times on %v", d.name, n, s)
			}
		}
	})
}

// TestPropAppendConditionsIsConditions: the appending form answers what
// Conditions answers, after whatever dst held.
func TestPropAppendConditionsIsConditions(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s, now := drawn(rt)
		want, werr := instancestate.Conditions(s, now)
		prefix := []instancestate.Condition{{Type: instancestate.CondStartFailed, Reason: "kept"}}
		got, err := instancestate.AppendConditions(prefix, s, now)
		if (err == nil) != (werr == nil) || len(got) != 1+len(want) || got[0] != prefix[0] {
			rt.Fatalf("AppendConditions: %v, %v; Conditions: %v, %v", got, err, want, werr)
		}
		for i := range want {
			if got[1+i] != want[i] || got[1+i].Message() != want[i].Message() {
				rt.Fatalf("condition %d: %+v, want %+v", i, got[1+i], want[i])
			}
		}
	})
}

package migration_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vmlife/vmlife/vmmstate/vmmtest"

	"github.com/vmlife/vmlife/invariant"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/migration/migrationtest"
	"github.com/vmlife/vmlife/vmmstate"
)

// drawReport draws a report for r's role side: one the side's sled-agent
// would send, or an arbitrary one (stale, newer, illegal, for another
// migration).
func drawReport(t *rapid.T, r migration.Record, role migration.Role) migration.Report {
	if rapid.Bool().Draw(t, "faithful") {
		if reps := migrationtest.SideReports(r, role).Draw(t, "reports"); len(reps) > 0 {
			return rapid.SampledFrom(reps).Draw(t, "report")
		}
	}
	rep := migrationtest.Report().Draw(t, "report")
	if rapid.IntRange(0, 9).Draw(t, "other migration") != 0 {
		rep.MigrationID = r.ID
	}
	if rapid.IntRange(0, 19).Draw(t, "invalid state") == 0 {
		rep.State = migration.State(rapid.SampledFrom([]uint8{0, 5, 255}).Draw(t, "state"))
	}
	return rep
}

// drawSender draws the VMM that sends a report for role: usually that
// side's, sometimes the other side's or a stranger's.
func drawSender(t *rapid.T, r migration.Record, role migration.Role) vmmstate.ID {
	switch rapid.IntRange(0, 5).Draw(t, "sender") {
	case 0:
		return r.Side(role.Other()).VMM
	case 1:
		return vmmtest.ID().Draw(t, "stranger")
	}
	return r.Side(role).VMM
}

// A random walk of side updates and MarkFailed: every step keeps the
// invariants — generations never decrease, terminal sides never change,
// refused and no-op steps return the record as it was, Apply touches only
// its side (§8.2, §8.3, D5, D6).
func TestPropStepsKeepInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := rapid.OneOf(migrationtest.Record(), migrationtest.NewRecord()).Draw(t, "record")
		now := r.TimeCreated
		for range rapid.IntRange(1, 20).Draw(t, "steps") {
			now = now.Add(time.Second)
			var (
				next    migration.Record
				outcome vmmstate.Outcome
				err     error
			)
			if rapid.IntRange(0, 9).Draw(t, "mark failed") == 0 {
				next, outcome, err = r.MarkFailed(now)
				if cerr := invariant.CheckMigrationStep(r, next, outcome, err); cerr != nil {
					t.Fatalf("MarkFailed: %v", cerr)
				}
			} else {
				role := migrationtest.Role().Draw(t, "role")
				vmm := drawSender(t, r, role)
				rep := drawReport(t, r, role)
				next, outcome, err = r.Apply(role, vmm, rep)
				if cerr := invariant.CheckApply(role, r, next, outcome, err); cerr != nil {
					t.Fatalf("Apply(%v, %v, %v): %v", role, vmm, rep, cerr)
				}
				// The guards' verdict, derived independently of Apply.
				s := r.Side(role)
				switch {
				case rep.MigrationID != r.ID || vmm != s.VMM || !rep.State.IsValid():
					if err == nil {
						t.Fatalf("Apply(%v, %v, %v) = %v: want an error", role, vmm, rep, outcome)
					}
				case !rep.Generation.After(s.Generation):
					if outcome != vmmstate.Stale {
						t.Fatalf("Apply(%v, %v) = %v, %v: want stale", role, rep, outcome, err)
					}
				case s.IsTerminal():
					if outcome != vmmstate.Unchanged {
						t.Fatalf("Apply(%v, %v) on terminal %v = %v, %v", role, rep, s, outcome, err)
					}
				case outcome == vmmstate.Applied:
					if got := next.Side(role); got.State != rep.State || got.Generation != rep.Generation || got.TimeUpdated != rep.TimeUpdated {
						t.Fatalf("Apply(%v, %v) wrote %v", role, rep, got)
					}
				}
			}
			r = next
		}
	})
}

// Any delivery of the reports both sled-agents send — late, duplicated,
// out of order, the two sides interleaved — leaves each side exactly where
// its newest report puts it (D5).
func TestPropAnyOrderConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := rapid.OneOf(migrationtest.NewRecord(), migrationtest.Record()).Draw(t, "record")
		type delivery struct {
			role migration.Role
			rep  migration.Report
		}
		var all []delivery
		newest := map[migration.Role]migration.Report{}
		for _, role := range migration.AllRoles() {
			sent := migrationtest.SideReports(r, role).Draw(t, role.String()+" reports")
			if len(sent) > 0 {
				newest[role] = sent[len(sent)-1]
			}
			for _, rep := range vmmtest.Shuffled(sent).Draw(t, role.String()+" delivery") {
				all = append(all, delivery{role, rep})
			}
		}
		all = rapid.Permutation(all).Draw(t, "interleaving")

		got := r
		for _, d := range all {
			next, outcome, err := got.Apply(d.role, got.Side(d.role).VMM, d.rep)
			if err != nil {
				t.Fatalf("a faithful report was refused: %v", err)
			}
			if cerr := invariant.CheckApply(d.role, got, next, outcome, err); cerr != nil {
				t.Fatal(cerr)
			}
			got = next
		}
		for _, role := range migration.AllRoles() {
			want := r.Side(role)
			if n, ok := newest[role]; ok && n.Generation.After(want.Generation) {
				want = migration.Side{VMM: want.VMM, State: n.State, Generation: n.Generation, TimeUpdated: n.TimeUpdated}
			}
			if got.Side(role) != want {
				t.Fatalf("%v side = %v at %v, want %v at %v", role, got.Side(role), got.Side(role).TimeUpdated, want, want.TimeUpdated)
			}
		}
	})
}

// MarkFailed is idempotent (§8.3 as amended by D6): once applied, every side
// is terminal and a second call changes nothing; a side that was terminal
// keeps its outcome.
func TestPropMarkFailedIdempotent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := migrationtest.Record().Draw(t, "record")
		now := vmmtest.Time().Draw(t, "now")
		once, o1, err := r.MarkFailed(now)
		if cerr := invariant.CheckMigrationStep(r, once, o1, err); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil {
			return // overflow: checked by CheckStep to change nothing
		}
		for _, role := range migration.AllRoles() {
			b, a := r.Side(role), once.Side(role)
			if !a.IsTerminal() || (!b.IsTerminal() && a.State != migration.Failed) {
				t.Fatalf("%v side %v after MarkFailed of %v", role, a, b)
			}
		}
		twice, o2, err := once.MarkFailed(now.Add(time.Hour))
		if err != nil || o2 != vmmstate.Unchanged || twice != once {
			t.Fatalf("second MarkFailed = %v, %v, %v", twice, o2, err)
		}
	})
}

// §3.5 folding, for any current side and observation: the generation of a
// migration never decreases; a change always raises it (by one for the same
// migration, to 2 for a new one); a terminal side of the same migration
// never changes; Halt leaves the side terminal and is idempotent.
func TestPropFoldAndHalt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cur := migrationtest.Report().Draw(t, "cur")
		have := rapid.Bool().Draw(t, "have")
		id := rapid.OneOf(rapid.Just(cur.MigrationID), migrationtest.ID()).Draw(t, "id")
		obs := migrationtest.State().Draw(t, "observed")
		now := vmmtest.Time().Draw(t, "now")

		next, changed, err := migration.Fold(cur, have, id, obs, now)
		if err != nil {
			if changed || next != cur {
				t.Fatalf("Fold refused (%v), yet returned %v, %v", err, next, changed)
			}
			// Only moving back to pending, or past the largest generation,
			// is refused: a new migration or an outcome never is.
			if !have || id != cur.MigrationID || cur.State.IsTerminal() || cur.State == obs {
				t.Fatalf("Fold(%v, %v, %v, %v) refused: %v", cur, have, id, obs, err)
			}
		} else {
			if changed == (have && next == cur) {
				t.Fatalf("Fold(%v, %v, %v, %v) = %v, changed %v", cur, have, id, obs, next, changed)
			}
			switch {
			case !changed:
			case !have || id != cur.MigrationID:
				if next.Generation.Uint64() != 2 || next.MigrationID != id || next.State != obs {
					t.Fatalf("a new side is %v", next)
				}
			default:
				if next.Generation.Uint64() != cur.Generation.Uint64()+1 || next.State != obs || next.MigrationID != id {
					t.Fatalf("Fold(%v, %v) = %v", cur, obs, next)
				}
				if cur.State.IsTerminal() {
					t.Fatalf("a terminal side changed: %v → %v", cur, next)
				}
			}
		}

		halted, changed, err := migration.Halt(cur, now)
		if err != nil {
			if changed || halted != cur {
				t.Fatalf("Halt refused (%v), yet returned %v, %v", err, halted, changed)
			}
			return
		}
		if !halted.State.IsTerminal() || changed == cur.State.IsTerminal() || (changed && halted.Generation.Uint64() != cur.Generation.Uint64()+1) {
			t.Fatalf("Halt(%v) = %v, %v", cur, halted, changed)
		}
		if again, changed, err := migration.Halt(halted, now); err != nil || changed || again != halted {
			t.Fatalf("Halt is not idempotent: %v, %v, %v", again, changed, err)
		}
	})
}

// Every drawn report survives JSON both ways.
func TestPropReportJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rep := migrationtest.Report().Draw(t, "report")
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		var back migration.Report
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if back.MigrationID != rep.MigrationID || back.State != rep.State || back.Generation != rep.Generation || !back.TimeUpdated.Equal(rep.TimeUpdated) {
			t.Fatalf("%s decoded as %v", b, back)
		}
	})
}

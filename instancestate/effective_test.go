package instancestate

import (
	"fmt"
	"testing"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The expectations below are written from §7, D10 and D12, not read from
// effective.go, so that a wrong entry in either table shows.

// §7 rule 13: an instance without an active VMM shows its own state
// (rule 10 for no_vmm).
var wantWithoutVMM = map[NexusState]State{
	NexusCreating:  Creating,
	NexusNoVMM:     Stopped,
	NexusFailed:    Failed,
	NexusDestroyed: Destroyed,
}

// §7 rules 2–9 with D10: what an instance shows through its active VMM when
// no migration dominates.
var wantByActiveKind = map[vmmstate.Kind]State{
	vmmstate.KindCreating:    Starting,  // rule 5
	vmmstate.KindStarting:    Starting,  // rule 5
	vmmstate.KindRunning:     Running,   // rule 6
	vmmstate.KindStopping:    Stopping,  // rule 7
	vmmstate.KindStopped:     Stopping,  // rule 2
	vmmstate.KindRebooting:   Rebooting, // rule 8
	vmmstate.KindMigrating:   Migrating, // rule 9
	vmmstate.KindFailed:      Stopping,  // rule 3
	vmmstate.KindDestroyed:   Stopping,  // rule 2
	vmmstate.KindSagaUnwound: Stopped,   // D10, replacing rule 4's failed
}

// wantDominates is §7 rule 1 as limited by D12: the migration decides while
// it is in flight or has succeeded on a side (not yet folded in), but not
// once a side failed or the target VMM's saga unwound.
func wantDominates(src, tgt migration.State, targetUnwound bool) bool {
	failedSide := src == migration.Failed || tgt == migration.Failed
	return !failedSide && !targetUnwound
}

// targetVariant is how a migration's target VMM appears in a §7 row.
type targetVariant struct {
	name string
	st   vmmstate.State // zero: no target linked
}

var targetVariants = []targetVariant{
	{"no target", 0},
	{"target migrating", vmmstate.Migrating},
	{"target running", vmmstate.Running},
	{"target saga_unwound", vmmstate.SagaUnwound},
}

// TestEffectiveStateTable walks §7 row by row: every nexus state × no VMM
// or every active VMM state × no migration or every pair of side states
// with every target variant, plus the same migrations folded into the
// target. The impossible rows (11, 12, 14 and a migration without a VMM)
// are ErrInvalidRecord naming the broken rule (D17).
func TestEffectiveStateTable(t *testing.T) {
	rows := 0
	for _, n := range AllNexusStates() {
		// No active VMM.
		b := snap().nexus(n)
		got, err := EffectiveState(b.build())
		if n == NexusVMM {
			checkRuleErr(t, "vmm without VMM (rule 11)", err, RuleVMMIffActive, "active_propolis_id")
		} else if err != nil || got != wantWithoutVMM[n] {
			t.Errorf("%v, no VMM: got %v, %v; want %v", n, got, err, wantWithoutVMM[n])
		}
		rows++
		if n != NexusVMM {
			// D21: a stale migration link on an instance with no VMM is
			// read (except while creating, which no writer links) and
			// changes nothing: the record's own state shows.
			got, err := EffectiveState(b.migration(migration.InProgress, migration.Pending).build())
			if n == NexusCreating {
				checkRuleErr(t, "creating with a migration", err, RuleNoMigrationInCreating, "migration_id")
			} else if err != nil || got != wantWithoutVMM[n] {
				t.Errorf("%v with a stale migration: got %v, %v; want %v", n, got, err, wantWithoutVMM[n])
			}
			rows++
		}

		for _, st := range allVMMStates {
			withVMM := snap().vmm(st).nexus(n)
			if n != NexusVMM {
				// Rules 12 and 14.
				_, err := EffectiveState(withVMM.build())
				checkRuleErr(t, fmt.Sprintf("%v with VMM %v", n, st), err, RuleVMMIffActive, "active_propolis_id")
				rows++
				continue
			}
			want := wantByActiveKind[st.Kind()]
			if got, err := EffectiveState(withVMM.valid(t)); err != nil || got != want {
				t.Errorf("vmm, active %v, no migration: got %v, %v; want %v", st, got, err, want)
			}
			rows++
			for _, src := range allSideStates {
				for _, tgt := range allSideStates {
					for _, tv := range targetVariants {
						b := withVMM.migration(src, tgt)
						if tv.st != 0 {
							b = b.target(tv.st)
						}
						want := wantByActiveKind[st.Kind()]
						if wantDominates(src, tgt, tv.st == vmmstate.SagaUnwound) && st != vmmstate.SagaUnwound {
							want = Migrating // rule 1 — never over an unwound active VMM (D10)
						}
						if got, err := EffectiveState(b.valid(t)); err != nil || got != want {
							t.Errorf("vmm, active %v, migration %v/%v, %s: got %v, %v; want %v", st, src, tgt, tv.name, got, err, want)
						}
						rows++
					}
					// Folded into the target, which is now the active VMM.
					b := snap().vmm(vmmstate.Stopping).migration(src, tgt).target(st).folded()
					want := wantByActiveKind[st.Kind()]
					if wantDominates(src, tgt, st == vmmstate.SagaUnwound) {
						want = Migrating
					}
					if got, err := EffectiveState(b.valid(t)); err != nil || got != want {
						t.Errorf("folded into target %v, migration %v/%v: got %v, %v; want %v", st, src, tgt, got, err, want)
					}
					rows++
				}
			}
		}
	}
	// 4 nexus states × (no VMM + migration + 14 VMMs) + vmm × (no VMM +
	// 14 × (1 + 16 × 5)).
	if want := 4*16 + 1 + 14*(1+16*5); rows != want {
		t.Fatalf("walked %d rows, want %d", rows, want)
	}
}

// TestEffectiveStateNeverRepairing: §2.1 — repairing is defined but never
// derived, and every valid snapshot has a valid effective state.
func TestEffectiveStateNeverRepairing(t *testing.T) {
	for _, s := range corpus(t) {
		got, err := EffectiveState(s)
		if err != nil || !got.IsValid() || got == Repairing {
			t.Fatalf("EffectiveState(%+v) = %v, %v", s, got, err)
		}
	}
}

// TestEffectiveStateInvalidSnapshotIsZero: D17 — no guess comes with the
// error.
func TestEffectiveStateInvalidSnapshotIsZero(t *testing.T) {
	got, err := EffectiveState(snap().nexus(NexusVMM).build())
	if got != 0 || err == nil {
		t.Fatalf("got %v, %v; want the zero State and an error", got, err)
	}
}

// TestD10SagaUnwoundActiveReadsStopped: an instance whose active VMM's saga
// unwound reads stopped — a new start may proceed at once — whatever its
// intent, lock or auto-restart record, and whatever migration it has left
// with a failed side (Omicron's rule 4 says failed).
func TestD10SagaUnwoundActiveReadsStopped(t *testing.T) {
	base := snap().vmm(vmmstate.SagaUnwound)
	cases := map[string]builder{"plain": base}
	for _, i := range AllIntendedStates() {
		cases["intent "+i.String()] = base.intent(i)
	}
	cases["locked"] = base.locked(upd1)
	cases["cooling down"] = base.lastAutoRestart(t1)
	cases["start failure"] = base.startFailure(failure.CauseSledAgentError, true)
	cases["sled unreachable"] = base.unreachableSince(t0)
	for _, src := range allSideStates {
		for _, tgt := range allSideStates {
			if src == migration.Failed || tgt == migration.Failed {
				cases[fmt.Sprintf("migration %v/%v", src, tgt)] = base.migration(src, tgt).target(vmmstate.SagaUnwound)
			}
		}
	}
	for name, b := range cases {
		if got, err := EffectiveState(b.valid(t)); err != nil || got != Stopped {
			t.Errorf("%s: got %v, %v; want stopped", name, got, err)
		}
	}
}

// TestD12TargetSagaUnwoundFollowsActive: a migration whose target VMM's saga
// unwound does not make the instance read migrating: for every active VMM
// state and every pair of side states, the state is the active VMM's. The
// same migration with a live target does dominate, so the test fails if the
// target's state is ignored.
func TestD12TargetSagaUnwoundFollowsActive(t *testing.T) {
	for _, st := range allVMMStates {
		for _, src := range allSideStates {
			for _, tgt := range allSideStates {
				b := snap().vmm(st).migration(src, tgt)
				want := wantByActiveKind[st.Kind()]
				got, err := EffectiveState(b.target(vmmstate.SagaUnwound).valid(t))
				if err != nil || got != want {
					t.Errorf("active %v, migration %v/%v, target saga_unwound: got %v, %v; want %v", st, src, tgt, got, err, want)
				}
				if src == migration.Failed || tgt == migration.Failed {
					continue
				}
				want = Migrating // rule 1
				if st == vmmstate.SagaUnwound {
					want = Stopped // D10 wins over rule 1
				}
				if got, _ := EffectiveState(b.target(vmmstate.Migrating).valid(t)); got != want {
					t.Errorf("active %v, migration %v/%v, target migrating: got %v, want %v", st, src, tgt, got, want)
				}
			}
		}
	}
}

// TestD12FailedMigrationFollowsActive: once a side of the migration failed
// (with or without the other side's outcome, and with the target alive,
// gone or unlinked), the instance reads its active VMM's state.
func TestD12FailedMigrationFollowsActive(t *testing.T) {
	for _, st := range allVMMStates {
		want := wantByActiveKind[st.Kind()]
		for _, other := range allSideStates {
			for _, pair := range [][2]migration.State{{migration.Failed, other}, {other, migration.Failed}} {
				for _, tv := range targetVariants {
					b := snap().vmm(st).migration(pair[0], pair[1])
					if tv.st != 0 {
						b = b.target(tv.st)
					}
					if got, err := EffectiveState(b.valid(t)); err != nil || got != want {
						t.Errorf("active %v, migration %v/%v, %s: got %v, %v; want %v", st, pair[0], pair[1], tv.name, got, err, want)
					}
				}
			}
		}
	}
}

// TestEffectiveStateNeverFailedFromSagaUnwound sweeps the corpus: whatever
// derives from a saga_unwound VMM is stopped (D10) — an unwound active VMM
// reads stopped even beside a live migration, and an unwound target
// changes nothing: the instance reads as if the migration were not there
// (D12). An unwound VMM never makes an instance read failed.
func TestEffectiveStateNeverFailedFromSagaUnwound(t *testing.T) {
	seen := 0
	for _, s := range corpus(t) {
		got, err := EffectiveState(s)
		if err != nil {
			t.Fatal(err)
		}
		if s.HasActive() && s.Active.Runtime.State == vmmstate.SagaUnwound {
			seen++
			if got != Stopped {
				t.Errorf("unwound active VMM, migration %v: got %v, want stopped", s.Migration, got)
			}
		}
		if s.HasTarget() && s.Target.Runtime.State == vmmstate.SagaUnwound {
			seen++
			alone := s
			alone.Instance.Runtime.TargetVMM, alone.Target = vmmstate.ID{}, vmmstate.VMM{}
			alone.Instance.Runtime.MigrationID, alone.Migration = migration.ID{}, migration.Record{}
			if s.Active.ID == s.Target.ID {
				continue // folded: the unwound target is the active VMM, checked above
			}
			want, err := EffectiveState(alone)
			if err != nil || got != want {
				t.Errorf("unwound target, active %v, migration %v: got %v, want %v (%v) as without the migration", s.Active.Runtime.State, s.Migration, got, want, err)
			}
		}
		if got == Failed && s.Instance.Runtime.State == NexusVMM {
			t.Errorf("an instance with an active VMM reads failed: %+v", s)
		}
	}
	if seen == 0 {
		t.Fatal("the corpus has no saga_unwound VMM")
	}
}

package migration_test

import (
	"testing"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

func rep(id migration.ID, s migration.State, g generation.Generation) migration.Report {
	return migration.Report{MigrationID: id, State: s, Generation: g, TimeUpdated: t1}
}

// The rows of §3.5's migration side update, plus vmlife's terminal rule (D6)
// and refusals.
func TestFold(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cur      migration.Report
		have     bool
		id       migration.ID
		observed migration.State
		want     migration.Report
		changed  bool
		err      error
		field    string
	}{
		{"no side yet: gen 2", migration.Report{}, false, migID, migration.InProgress,
			migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t2}, true, nil, ""},
		{"no side yet, completed at once", migration.Report{}, false, migID, migration.Completed,
			migration.Report{MigrationID: migID, State: migration.Completed, Generation: gen(2), TimeUpdated: t2}, true, nil, ""},
		{"have=false ignores cur", rep(otherMig, migration.Failed, gen(9)), false, migID, migration.InProgress,
			migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t2}, true, nil, ""},
		{"registered target starts", migration.Registered(migID, t0), true, migID, migration.InProgress,
			migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t2}, true, nil, ""},
		{"same id and state", rep(migID, migration.InProgress, gen(2)), true, migID, migration.InProgress,
			rep(migID, migration.InProgress, gen(2)), false, nil, ""},
		{"same pending", migration.Registered(migID, t0), true, migID, migration.Pending,
			migration.Registered(migID, t0), false, nil, ""},
		{"same id, new state: gen+1", rep(migID, migration.InProgress, gen(2)), true, migID, migration.Completed,
			migration.Report{MigrationID: migID, State: migration.Completed, Generation: gen(3), TimeUpdated: t2}, true, nil, ""},
		{"same id, failed: gen+1", rep(migID, migration.InProgress, gen(5)), true, migID, migration.Failed,
			migration.Report{MigrationID: migID, State: migration.Failed, Generation: gen(6), TimeUpdated: t2}, true, nil, ""},
		{"new id replaces: gen 2", rep(otherMig, migration.Completed, gen(5)), true, migID, migration.InProgress,
			migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t2}, true, nil, ""},
		{"new id replaces an invalid side", rep(otherMig, 0, gen(5)), true, migID, migration.Pending,
			migration.Report{MigrationID: migID, State: migration.Pending, Generation: gen(2), TimeUpdated: t2}, true, nil, ""},
		{"terminal keeps its outcome (D6)", rep(migID, migration.Completed, gen(3)), true, migID, migration.Failed,
			rep(migID, migration.Completed, gen(3)), false, nil, ""},
		{"terminal does not go back", rep(migID, migration.Failed, gen(3)), true, migID, migration.InProgress,
			rep(migID, migration.Failed, gen(3)), false, nil, ""},
		{"same state at the largest generation", rep(migID, migration.InProgress, maxGen()), true, migID, migration.InProgress,
			rep(migID, migration.InProgress, maxGen()), false, nil, ""},
		{"back to pending", rep(migID, migration.InProgress, gen(3)), true, migID, migration.Pending,
			rep(migID, migration.InProgress, gen(3)), false, migration.ErrIllegalTransition, "state"},
		{"nil id", rep(migID, migration.InProgress, gen(3)), true, migration.ID{}, migration.Completed,
			rep(migID, migration.InProgress, gen(3)), false, migration.ErrInvalidID, "migration_id"},
		{"invalid observation", rep(migID, migration.InProgress, gen(3)), true, migID, 0,
			rep(migID, migration.InProgress, gen(3)), false, migration.ErrInvalidState, "state"},
		{"invalid observation, no side", migration.Report{}, false, migID, 8,
			migration.Report{}, false, migration.ErrInvalidState, "state"},
		{"invalid current side", rep(migID, 0, gen(3)), true, migID, migration.Completed,
			rep(migID, 0, gen(3)), false, migration.ErrInvalidState, "state"},
		{"overflow", rep(migID, migration.InProgress, maxGen()), true, migID, migration.Completed,
			rep(migID, migration.InProgress, maxGen()), false, generation.ErrOverflow, "gen"},
	} {
		got, changed, err := migration.Fold(tc.cur, tc.have, tc.id, tc.observed, t2)
		if tc.err != nil {
			checkErr(t, tc.name, err, tc.err, 0, tc.field)
		} else if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want || changed != tc.changed {
			t.Errorf("%s: Fold = %v, %v\nwant %v, %v", tc.name, got, changed, tc.want, tc.changed)
		}
	}
}

// §3.5: a halted VMM fails every side still in flight with gen+1; a
// completed or failed side keeps its outcome and generation.
func TestHalt(t *testing.T) {
	for _, row := range stateRows {
		cur := rep(migID, row.state, gen(4))
		got, changed, err := migration.Halt(cur, t2)
		if err != nil {
			t.Fatalf("%s: %v", row.wire, err)
		}
		want, wantChanged := cur, false
		if !row.terminal {
			want, wantChanged = migration.Report{MigrationID: migID, State: migration.Failed, Generation: gen(5), TimeUpdated: t2}, true
		}
		if got != want || changed != wantChanged {
			t.Errorf("%s: Halt = %v, %v; want %v, %v", row.wire, got, changed, want, wantChanged)
		}
		// Halting twice (a forced destroy after a destroyed observation) is a no-op.
		again, changed, err := migration.Halt(got, t3)
		if err != nil || changed || again != got {
			t.Errorf("%s: second Halt = %v, %v, %v", row.wire, again, changed, err)
		}
	}
	for _, s := range []migration.State{0, 5} {
		cur := rep(migID, s, gen(2))
		got, changed, err := migration.Halt(cur, t2)
		checkErr(t, "Halt", err, migration.ErrInvalidState, 0, "state")
		if got != cur || changed {
			t.Errorf("Halt(%v) = %v, %v", s, got, changed)
		}
	}
	cur := rep(migID, migration.Pending, maxGen())
	got, changed, err := migration.Halt(cur, t2)
	checkErr(t, "Halt", err, generation.ErrOverflow, 0, "gen")
	if got != cur || changed {
		t.Errorf("Halt at Max = %v, %v", got, changed)
	}
	// A terminal side at the largest generation needs no next one.
	if _, changed, err := migration.Halt(rep(migID, migration.Completed, maxGen()), t2); err != nil || changed {
		t.Errorf("Halt of completed at Max = %v, %v", changed, err)
	}
}

func TestRegistered(t *testing.T) {
	got := migration.Registered(migID, t1)
	if got != (migration.Report{MigrationID: migID, State: migration.Pending, Generation: generation.Initial(), TimeUpdated: t1}) {
		t.Fatalf("Registered = %v", got)
	}
	// Its generation is the record's: applying it says nothing new.
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	if out, o, err := r.ApplyTarget(vmm2, got); err != nil || o != vmmstate.Stale || out != r {
		t.Fatalf("ApplyTarget(Registered) = %v, %v", o, err)
	}
}

// sledAgent is the little of a sled-agent §3.5's unit tests need: the two
// sides one VMM holds, updated by observations.
type sledAgent struct {
	in, out        migration.Report
	hasIn, hasOut  bool
	changedInOrOut bool
	t              *testing.T
}

// observe applies one Propolis observation: optional migration info for
// each side, and whether the VMM is halted afterwards (§3.5).
func (s *sledAgent) observe(in, out *migration.State, halted bool, id migration.ID) {
	s.t.Helper()
	s.changedInOrOut = false
	fold := func(cur *migration.Report, have *bool, st *migration.State) {
		if st == nil {
			return
		}
		next, changed, err := migration.Fold(*cur, *have, id, *st, t2)
		if err != nil {
			s.t.Fatalf("Fold: %v", err)
		}
		*cur, *have = next, true
		s.changedInOrOut = s.changedInOrOut || changed
	}
	fold(&s.in, &s.hasIn, in)
	fold(&s.out, &s.hasOut, out)
	if !halted {
		return
	}
	for _, side := range []struct {
		cur  *migration.Report
		have bool
	}{{&s.in, s.hasIn}, {&s.out, s.hasOut}} {
		if !side.have {
			continue
		}
		next, changed, err := migration.Halt(*side.cur, t3)
		if err != nil {
			s.t.Fatalf("Halt: %v", err)
		}
		*side.cur = next
		s.changedInOrOut = s.changedInOrOut || changed
	}
}

func ptr(s migration.State) *migration.State { return &s }

// The unit tests §3.5 lists, replayed on the migration sides.
func TestSledAgentScenarios(t *testing.T) {
	t.Run("source termination fails migration_out", func(t *testing.T) {
		s := &sledAgent{t: t}
		s.observe(nil, ptr(migration.InProgress), false, migID)
		before := s.out
		s.observe(nil, nil, true, migID) // VMM observed destroyed or failed: Halt does not tell them apart
		if s.out.State != migration.Failed || !s.out.Generation.After(before.Generation) {
			t.Fatalf("migration_out = %v after %v", s.out, before)
		}
	})
	t.Run("target termination fails migration_in", func(t *testing.T) {
		s := &sledAgent{t: t, in: migration.Registered(migID, t0), hasIn: true}
		s.observe(ptr(migration.InProgress), nil, false, migID)
		before := s.in
		s.observe(nil, nil, true, migID)
		if s.in.State != migration.Failed || !s.in.Generation.After(before.Generation) {
			t.Fatalf("migration_in = %v after %v", s.in, before)
		}
	})
	t.Run("completed source stops and is destroyed", func(t *testing.T) {
		s := &sledAgent{t: t}
		s.observe(nil, ptr(migration.InProgress), false, migID)
		s.observe(nil, ptr(migration.Completed), false, migID) // Propolis Stopping, migration Finish
		done := s.out
		if done.State != migration.Completed {
			t.Fatalf("migration_out = %v", done)
		}
		s.observe(nil, ptr(migration.Completed), false, migID) // Propolis Stopped: same migration state
		if s.out != done || s.changedInOrOut {
			t.Fatalf("a repeated observation changed migration_out: %v", s.out)
		}
		s.observe(nil, nil, true, migID) // Destroyed
		if s.out != done {
			t.Fatalf("destroying the source changed a completed migration_out: %v", s.out)
		}
		s.observe(nil, nil, true, migID) // force_state_to_destroyed
		if s.out != done {
			t.Fatalf("forcing destroyed changed a completed migration_out: %v", s.out)
		}
	})
	t.Run("target fails with migration_in failed", func(t *testing.T) {
		s := &sledAgent{t: t, in: migration.Registered(migID, t0), hasIn: true}
		s.observe(ptr(migration.InProgress), nil, false, migID)
		before := s.in
		s.observe(ptr(migration.Failed), nil, true, migID)
		if s.in.State != migration.Failed || !s.in.Generation.After(before.Generation) {
			t.Fatalf("migration_in = %v after %v", s.in, before)
		}
	})
	t.Run("rude terminate of a target", func(t *testing.T) {
		s := &sledAgent{t: t, in: migration.Registered(migID, t0), hasIn: true}
		s.observe(nil, nil, true, migID) // force_state_to_failed: no migration info
		if s.in.State != migration.Failed || s.in.Generation != gen(2) {
			t.Fatalf("migration_in = %v", s.in)
		}
	})
}

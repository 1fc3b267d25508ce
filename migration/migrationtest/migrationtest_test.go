package migrationtest_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/vmlife/vmlife/vmmstate/vmmtest"

	"github.com/vmlife/vmlife/invariant"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/migration/migrationtest"
	"github.com/vmlife/vmlife/vmmstate"
)

// Record and New draw only records CheckRecord accepts.
func TestRecordIsValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		for _, g := range []*rapid.Generator[migration.Record]{migrationtest.Record(), migrationtest.NewRecord()} {
			r := g.Draw(t, "record")
			if err := invariant.CheckMigration(r); err != nil {
				t.Fatalf("%v: %v", r, err)
			}
		}
	})
}

func TestScalarsAreValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if s := migrationtest.State().Draw(t, "state"); !s.IsValid() {
			t.Fatalf("State drew %v", s)
		}
		if r := migrationtest.Role().Draw(t, "role"); !r.IsValid() {
			t.Fatalf("Role drew %v", r)
		}
		rep := migrationtest.Report().Draw(t, "report")
		if rep.MigrationID.IsZero() || !rep.State.IsValid() || rep.TimeUpdated.IsZero() {
			t.Fatalf("Report drew %v at %v", rep, rep.TimeUpdated)
		}
		if vmmtest.ID().Draw(t, "vmm").IsZero() || vmmtest.InstanceID().Draw(t, "instance").IsZero() {
			t.Fatalf("drew a nil id")
		}
	})
}

// SideReports is what §3.5 says a sled-agent sends: the record's id,
// strictly increasing generations, nothing after an outcome, and the first
// report newer than the side unless it is a target's registration.
func TestSideReportsFollowSledAgent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := migrationtest.Record().Draw(t, "record")
		role := migrationtest.Role().Draw(t, "role")
		reps := migrationtest.SideReports(r, role).Draw(t, "reports")
		s := r.Side(role)
		for i, rep := range reps {
			if rep.MigrationID != r.ID || !rep.State.IsValid() {
				t.Fatalf("report %d = %v", i, rep)
			}
			if i > 0 {
				prev := reps[i-1]
				if !rep.Generation.After(prev.Generation) || rep.TimeUpdated.Before(prev.TimeUpdated) {
					t.Fatalf("report %d %v does not follow %v", i, rep, prev)
				}
				if prev.State.IsTerminal() {
					t.Fatalf("report %d %v follows the outcome %v", i, rep, prev)
				}
			}
			registration := i == 0 && role == migration.Target && s.Generation == generation.Initial()
			if registration != (rep.Generation == generation.Initial()) {
				t.Fatalf("report %d %v: registration %v", i, rep, registration)
			}
			if !registration && !rep.Generation.After(s.Generation) {
				t.Fatalf("report %d %v is not newer than the side %v", i, rep, s)
			}
		}
		if s.IsTerminal() && len(reps) > 0 {
			t.Fatalf("a terminal side %v produced %v", s, reps)
		}
	})
}

// Shuffled delivers every report at least once and at most three times,
// and nothing else.
func TestShuffledDeliversEverything(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := migrationtest.NewRecord().Draw(t, "record")
		reps := migrationtest.SideReports(r, migration.Target).Draw(t, "reports")
		got := vmmtest.Shuffled(reps).Draw(t, "delivery")
		for _, rep := range reps {
			n := 0
			for _, g := range got {
				if g == rep {
					n++
				}
			}
			if n < 1 || n > 3 {
				t.Fatalf("%v delivered %d times", rep, n)
			}
		}
		for _, g := range got {
			if !slices.Contains(reps, g) {
				t.Fatalf("%v delivered but never sent", g)
			}
		}
	})
}

// The checkers must catch every kind of broken step, or the properties that
// rely on them prove nothing.
func TestCheckersCatchBrokenSteps(t *testing.T) {
	id := migrationtest.ID().Example(1)
	base := migration.New(id, vmmtest.InstanceID().Example(1),
		vmmtest.ID().Example(1), vmmtest.ID().Example(2), migrationtest.Epoch())
	if base.Source.VMM == base.Target.VMM {
		t.Fatalf("examples drew the same VMM twice")
	}
	before := base
	before.Source = migration.Side{VMM: base.Source.VMM, State: migration.Completed, Generation: generation.Of(3), TimeUpdated: migrationtest.Epoch()}
	before.Target = migration.Side{VMM: base.Target.VMM, State: migration.InProgress, Generation: generation.Of(4), TimeUpdated: migrationtest.Epoch()}
	edit := func(f func(*migration.Record)) migration.Record { r := before; f(&r); return r }
	someErr := &migration.Error{Field: "x", Got: "y", Err: migration.ErrWrongVMM}

	good := edit(func(r *migration.Record) { r.Target.State, r.Target.Generation = migration.Completed, generation.Of(5) })
	if err := invariant.CheckApply(migration.Target, before, good, vmmstate.Applied, nil); err != nil {
		t.Fatalf("a good step was refused: %v", err)
	}
	for _, tc := range []struct {
		name    string
		role    migration.Role
		after   migration.Record
		outcome vmmstate.Outcome
		err     error
	}{
		{"error with a changed record", migration.Target, good, 0, someErr},
		{"error with an outcome", migration.Target, before, vmmstate.Stale, someErr},
		{"untyped error", migration.Target, before, 0, errors.New("boom")},
		{"stale with a changed record", migration.Target, good, vmmstate.Stale, nil},
		{"unchanged with a changed record", migration.Target, good, vmmstate.Unchanged, nil},
		{"applied with nothing changed", migration.Target, before, vmmstate.Applied, nil},
		{"no outcome, no error", migration.Target, before, 0, nil},
		{"generation went back", migration.Target, edit(func(r *migration.Record) { r.Target.Generation = generation.Of(2) }), vmmstate.Applied, nil},
		{"changed at the same generation", migration.Target, edit(func(r *migration.Record) { r.Target.State = migration.Failed }), vmmstate.Applied, nil},
		{"terminal side changed", migration.Source, edit(func(r *migration.Record) { r.Source.State, r.Source.Generation = migration.Failed, generation.Of(9) }), vmmstate.Applied, nil},
		{"other side changed", migration.Source, good, vmmstate.Applied, nil},
		{"identity changed", migration.Target, edit(func(r *migration.Record) {
			r.Target.VMM, r.Target.Generation = base.Source.VMM, generation.Of(5)
		}), vmmstate.Applied, nil},
		{"became invalid", migration.Target, edit(func(r *migration.Record) { r.Target.State, r.Target.Generation = 0, generation.Of(5) }), vmmstate.Applied, nil},
	} {
		if err := invariant.CheckApply(tc.role, before, tc.after, tc.outcome, tc.err); err == nil {
			t.Errorf("%s: not caught", tc.name)
		}
	}
	// CheckRecord: generation 1 means untouched.
	touched := base
	touched.Source.TimeUpdated = migrationtest.Epoch()
	if invariant.CheckMigration(touched) == nil {
		t.Errorf("a written side at generation 1 was accepted")
	}
	touched = base
	touched.Target.State = migration.InProgress
	if invariant.CheckMigration(touched) == nil {
		t.Errorf("an in_progress side at generation 1 was accepted")
	}
	invalid := base
	invalid.Target.VMM = invalid.Source.VMM
	if !errors.Is(invariant.CheckMigration(invalid), migration.ErrInvalidRecord) {
		t.Errorf("an invalid record was accepted")
	}
}

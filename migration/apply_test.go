package migration_test

import (
	"strings"
	"testing"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Who sends a report in a guard row, relative to the addressed side.
type sender int

const (
	thisSide  sender = iota // the addressed side's VMM
	otherSide               // the VMM of the other side of the same migration
	stranger                // a VMM on neither side
)

// guardRows is every outcome of Apply's guards (§8.2, D5, D6), each run for
// both roles. The addressed side starts as (from, fromGen); the report is
// (state, repGen) for migration mig, sent by who.
var guardRows = []struct {
	name    string
	from    migration.State
	fromGen generation.Generation
	who     sender
	mig     migration.ID
	state   migration.State
	repGen  generation.Generation
	outcome vmmstate.Outcome
	err     error
	field   string // with the role's prefix or column added by the test
}{
	// Applied: strictly newer, along an edge or the same non-terminal state.
	{"pending→in_progress", migration.Pending, gen(1), thisSide, migID, migration.InProgress, gen(2), vmmstate.Applied, nil, ""},
	{"pending→completed", migration.Pending, gen(1), thisSide, migID, migration.Completed, gen(2), vmmstate.Applied, nil, ""},
	{"pending→failed", migration.Pending, gen(1), thisSide, migID, migration.Failed, gen(2), vmmstate.Applied, nil, ""},
	{"pending→pending newer", migration.Pending, gen(1), thisSide, migID, migration.Pending, gen(2), vmmstate.Applied, nil, ""},
	{"in_progress→in_progress newer", migration.InProgress, gen(2), thisSide, migID, migration.InProgress, gen(3), vmmstate.Applied, nil, ""},
	{"in_progress→completed", migration.InProgress, gen(2), thisSide, migID, migration.Completed, gen(3), vmmstate.Applied, nil, ""},
	{"in_progress→failed", migration.InProgress, gen(2), thisSide, migID, migration.Failed, gen(3), vmmstate.Applied, nil, ""},
	{"generation jump", migration.Pending, gen(1), thisSide, migID, migration.InProgress, gen(40), vmmstate.Applied, nil, ""},
	{"up to the largest generation", migration.InProgress, gen(7), thisSide, migID, migration.Completed, maxGen(), vmmstate.Applied, nil, ""},
	// Stale: not strictly newer (D5), whatever the report says.
	{"stale equal generation", migration.InProgress, gen(3), thisSide, migID, migration.Completed, gen(3), vmmstate.Stale, nil, ""},
	{"stale lower generation", migration.InProgress, gen(3), thisSide, migID, migration.Failed, gen(2), vmmstate.Stale, nil, ""},
	{"stale generation 0", migration.Pending, gen(1), thisSide, migID, migration.InProgress, gen(0), vmmstate.Stale, nil, ""},
	{"stale registration report", migration.Pending, gen(1), thisSide, migID, migration.Pending, gen(1), vmmstate.Stale, nil, ""},
	{"stale at the largest generation", migration.InProgress, maxGen(), thisSide, migID, migration.Completed, maxGen(), vmmstate.Stale, nil, ""},
	{"stale back to pending", migration.InProgress, gen(3), thisSide, migID, migration.Pending, gen(2), vmmstate.Stale, nil, ""},
	{"stale on a terminal side", migration.Completed, gen(3), thisSide, migID, migration.Failed, gen(3), vmmstate.Stale, nil, ""},
	// Unchanged: a terminal side keeps its first outcome (D6).
	{"completed, newer failed", migration.Completed, gen(3), thisSide, migID, migration.Failed, gen(4), vmmstate.Unchanged, nil, ""},
	{"failed, newer completed", migration.Failed, gen(3), thisSide, migID, migration.Completed, gen(4), vmmstate.Unchanged, nil, ""},
	{"completed, newer completed", migration.Completed, gen(3), thisSide, migID, migration.Completed, gen(9), vmmstate.Unchanged, nil, ""},
	{"failed, newer in_progress", migration.Failed, gen(2), thisSide, migID, migration.InProgress, gen(3), vmmstate.Unchanged, nil, ""},
	{"failed, newer pending", migration.Failed, gen(2), thisSide, migID, migration.Pending, gen(3), vmmstate.Unchanged, nil, ""},
	// Errors.
	{"back to pending", migration.InProgress, gen(3), thisSide, migID, migration.Pending, gen(4), 0, migration.ErrIllegalTransition, "state"},
	{"wrong VMM: the other side", migration.Pending, gen(1), otherSide, migID, migration.InProgress, gen(2), 0, migration.ErrWrongVMM, "propolis_id"},
	{"wrong VMM: a stranger", migration.Pending, gen(1), stranger, migID, migration.InProgress, gen(2), 0, migration.ErrWrongVMM, "propolis_id"},
	{"wrong VMM even when stale", migration.InProgress, gen(5), otherSide, migID, migration.InProgress, gen(2), 0, migration.ErrWrongVMM, "propolis_id"},
	{"wrong VMM even when terminal", migration.Completed, gen(5), stranger, migID, migration.Failed, gen(6), 0, migration.ErrWrongVMM, "propolis_id"},
	{"another migration", migration.Pending, gen(1), thisSide, otherMig, migration.InProgress, gen(2), 0, migration.ErrIDMismatch, "migration_id"},
	{"another migration, stale", migration.InProgress, gen(4), thisSide, otherMig, migration.InProgress, gen(2), 0, migration.ErrIDMismatch, "migration_id"},
	{"nil migration id", migration.Pending, gen(1), thisSide, migration.ID{}, migration.InProgress, gen(2), 0, migration.ErrIDMismatch, "migration_id"},
	{"zero state", migration.Pending, gen(1), thisSide, migID, 0, gen(2), 0, migration.ErrInvalidState, "state"},
	{"out-of-range state", migration.InProgress, gen(2), thisSide, migID, 7, gen(3), 0, migration.ErrInvalidState, "state"},
	{"invalid state even when stale", migration.InProgress, gen(4), thisSide, migID, 0, gen(2), 0, migration.ErrInvalidState, "state"},
}

func TestApplyGuards(t *testing.T) {
	for _, tc := range guardRows {
		for _, role := range migration.AllRoles() {
			t.Run(role.String()+"/"+tc.name, func(t *testing.T) {
				// The other side holds values Apply must not touch.
				r := migration.New(migID, instID, vmm1, vmm2, t0)
				side := r.Side(role)
				side.State, side.Generation, side.TimeUpdated = tc.from, tc.fromGen, t1
				other := migration.Side{VMM: r.Side(role.Other()).VMM, State: migration.InProgress, Generation: gen(6), TimeUpdated: t2}
				if role == migration.Source {
					r.Source, r.Target = side, other
				} else {
					r.Target, r.Source = side, other
				}
				who := map[sender]vmmstate.ID{thisSide: side.VMM, otherSide: other.VMM, stranger: vmm3}[tc.who]
				rep := migration.Report{MigrationID: tc.mig, State: tc.state, Generation: tc.repGen, TimeUpdated: t3}

				got, outcome, err := r.Apply(role, who, rep)
				// ApplySource and ApplyTarget are Apply for their role.
				wrap := r.ApplySource
				if role == migration.Target {
					wrap = r.ApplyTarget
				}
				if g2, o2, e2 := wrap(who, rep); g2 != got || o2 != outcome || (e2 == nil) != (err == nil) {
					t.Fatalf("Apply%v disagrees with Apply(%v): %v %v %v vs %v %v %v", role, role, g2, o2, e2, got, outcome, err)
				}

				if tc.err != nil {
					field := role.ReportKey() + "." + tc.field
					if tc.field == "propolis_id" {
						field = role.String() + "_propolis_id"
					}
					checkErr(t, "Apply", err, tc.err, role, field)
					if got != r || outcome != 0 {
						t.Fatalf("refused, yet returned %v, %v (want the input record, outcome 0)", got, outcome)
					}
					return
				}
				if err != nil || outcome != tc.outcome {
					t.Fatalf("Apply = %v, %v; want %v", outcome, err, tc.outcome)
				}
				if outcome != vmmstate.Applied {
					if got != r {
						t.Fatalf("%v, yet the record changed: %v", outcome, got)
					}
					return
				}
				want := r
				ws := migration.Side{VMM: side.VMM, State: tc.state, Generation: tc.repGen, TimeUpdated: t3}
				if role == migration.Source {
					want.Source = ws
				} else {
					want.Target = ws
				}
				if got != want {
					t.Fatalf("Apply =\n %v\nwant\n %v", got, want)
				}
			})
		}
	}
}

// Every (stored, reported) state pair with a newer generation, for both
// roles: terminal stored states absorb (D6), in_progress → pending is the
// only refused move, everything else applies.
func TestApplyEveryStatePair(t *testing.T) {
	for _, role := range migration.AllRoles() {
		for _, from := range stateRows {
			for _, to := range stateRows {
				r := migration.New(migID, instID, vmm1, vmm2, t0)
				r, _, err := r.Apply(role, r.Side(role).VMM, migration.Report{MigrationID: migID, State: from.state, Generation: gen(2), TimeUpdated: t1})
				if err != nil || r.Side(role).State != from.state {
					t.Fatalf("setting %v to %v: %v", role, from.wire, err)
				}
				got, outcome, err := r.Apply(role, r.Side(role).VMM, migration.Report{MigrationID: migID, State: to.state, Generation: gen(3), TimeUpdated: t2})
				name := role.String() + " " + from.wire + "→" + to.wire
				switch {
				case from.terminal:
					if err != nil || outcome != vmmstate.Unchanged || got != r {
						t.Errorf("%s: %v, %v; want unchanged", name, outcome, err)
					}
				case from.wire == "in_progress" && to.wire == "pending":
					if err == nil || got != r {
						t.Errorf("%s: %v, %v; want an error", name, outcome, err)
					}
				default:
					if err != nil || outcome != vmmstate.Applied || got.Side(role).State != to.state || got.Side(role).Generation != gen(3) {
						t.Errorf("%s: %v, %v, %v; want applied", name, got.Side(role), outcome, err)
					}
				}
			}
		}
	}
}

func TestApplyInvalidRole(t *testing.T) {
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	rep := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t1}
	for _, role := range []migration.Role{0, 3} {
		got, o, err := r.Apply(role, vmm1, rep)
		checkErr(t, "Apply", err, migration.ErrUnknown, 0, "role")
		if got != r || o != 0 {
			t.Fatalf("Apply(%v) = %v, %v", role, got, o)
		}
	}
}

// §8.2 step 1.
func TestCheckInOut(t *testing.T) {
	a := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t1}
	b := migration.Report{MigrationID: otherMig, State: migration.Completed, Generation: gen(3), TimeUpdated: t1}
	sameID := migration.Report{MigrationID: migID, State: migration.Failed, Generation: gen(7)}
	nilA, nilB := migration.Report{}, migration.Report{State: migration.Pending}
	for _, tc := range []struct {
		name    string
		in, out *migration.Report
		same    bool
	}{
		{"no migrations", nil, nil, false},
		{"only in", &a, nil, false},
		{"only out", nil, &a, false},
		{"different migrations", &a, &b, false},
		{"identical reports", &a, &a, true},
		{"same id, different sides", &a, &sameID, true},
		{"same nil id", &nilA, &nilB, true},
	} {
		err := migration.CheckInOut(tc.in, tc.out)
		if !tc.same {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		checkErr(t, tc.name, err, migration.ErrSameMigration, 0, "migration_in.migration_id")
	}
}

// §8.3 on every combination of side states: sides in flight fail at
// generation+1 stamped now, terminal sides stay, and a second MarkFailed
// changes nothing.
func TestMarkFailed(t *testing.T) {
	for _, src := range stateRows {
		for _, dst := range stateRows {
			name := src.wire + "/" + dst.wire
			r := migration.New(migID, instID, vmm1, vmm2, t0)
			r.Source = migration.Side{VMM: vmm1, State: src.state, Generation: gen(4), TimeUpdated: t1}
			r.Target = migration.Side{VMM: vmm2, State: dst.state, Generation: gen(6), TimeUpdated: t1}
			got, outcome, err := r.MarkFailed(t3)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := r
			if !src.terminal {
				want.Source = migration.Side{VMM: vmm1, State: migration.Failed, Generation: gen(5), TimeUpdated: t3}
			}
			if !dst.terminal {
				want.Target = migration.Side{VMM: vmm2, State: migration.Failed, Generation: gen(7), TimeUpdated: t3}
			}
			wantOutcome := vmmstate.Applied
			if src.terminal && dst.terminal {
				wantOutcome = vmmstate.Unchanged
			}
			if got != want || outcome != wantOutcome {
				t.Fatalf("%s: MarkFailed = %v, %v\nwant %v, %v", name, got, outcome, want, wantOutcome)
			}
			if !got.Source.IsTerminal() || !got.Target.IsTerminal() || !got.EitherSideFailed() && !(src.terminal && dst.terminal) {
				t.Fatalf("%s: after MarkFailed a side is still in flight: %v", name, got)
			}
			again, o2, err := got.MarkFailed(t3.Add(1))
			if err != nil || o2 != vmmstate.Unchanged || again != got {
				t.Fatalf("%s: second MarkFailed = %v, %v, %v", name, again, o2, err)
			}
		}
	}
}

// Overflow on either side refuses the whole call: the other side is not
// failed either (never half-updated).
func TestMarkFailedOverflow(t *testing.T) {
	for _, role := range migration.AllRoles() {
		r := migration.New(migID, instID, vmm1, vmm2, t0)
		if role == migration.Source {
			r.Source.State, r.Source.Generation = migration.InProgress, maxGen()
		} else {
			r.Target.State, r.Target.Generation = migration.InProgress, maxGen()
		}
		got, o, err := r.MarkFailed(t1)
		checkErr(t, "MarkFailed", err, generation.ErrOverflow, role, role.String()+"_gen")
		if got != r || o != 0 {
			t.Fatalf("%v overflow: MarkFailed = %v, %v", role, got, o)
		}
		// A terminal side at the largest generation needs no next one.
		if role == migration.Source {
			r.Source.State = migration.Completed
		} else {
			r.Target.State = migration.Completed
		}
		got, o, err = r.MarkFailed(t1)
		if err != nil || o != vmmstate.Applied || got.Side(role) != r.Side(role) || got.Side(role.Other()).State != migration.Failed {
			t.Fatalf("%v terminal at Max: MarkFailed = %v, %v, %v", role, got, o, err)
		}
	}
}

// TestApplyIllegalTransitionNamesTheSuccessors: an illegal move (D7: nothing
// goes back to pending) is refused with a message that lists the states the
// side could have moved to, so the reporter's mistake is plain.
func TestApplyIllegalTransitionNamesTheSuccessors(t *testing.T) {
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	r.Source.State, r.Source.Generation = migration.InProgress, gen(3)
	_, _, err := r.ApplySource(vmm1, migration.Report{MigrationID: migID, State: migration.Pending, Generation: gen(4), TimeUpdated: t1})
	const want = "a successor of in_progress: failed, completed"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v; want it to say %q", err, want)
	}
}

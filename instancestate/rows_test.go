package instancestate_test

import (
	"errors"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/migration/migrationtest"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/vmmstate/vmmtest"
)

// heldRows is the value form of instancestate.Rows for tests: the rows,
// and which of them the caller holds.
type heldRows struct {
	VMM                                     vmmstate.Runtime
	MigrationOut, MigrationIn               migration.Record
	HasVMM, HasMigrationOut, HasMigrationIn bool
}

// apply runs ApplyReportToRows on a copy of h and returns the copy.
func (h heldRows) apply(vmm vmmstate.ID, r instancestate.Report) (heldRows, instancestate.ReportResult, error) {
	var rows instancestate.Rows
	if h.HasVMM {
		rows.VMM = &h.VMM
	}
	if h.HasMigrationOut {
		rows.MigrationOut = &h.MigrationOut
	}
	if h.HasMigrationIn {
		rows.MigrationIn = &h.MigrationIn
	}
	res, err := instancestate.ApplyReportToRows(vmm, rows, r)
	return h, res, err
}

// rowsFixture is a VMM no instance links any more — a migration source
// after the hand-over — and the migration row it is the source of.
func rowsFixture() (vmmstate.ID, heldRows) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	src := vmmstate.IDFromUUID([16]byte{1})
	dst := vmmstate.IDFromUUID([16]byte{2})
	m := migration.New(migration.IDFromUUID([16]byte{3}), vmmstate.InstanceID{}, src, dst, at)
	m.InstanceID = vmmstate.InstanceIDFromUUID([16]byte{4})
	return src, heldRows{
		VMM:          vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(2), TimeUpdated: at},
		HasVMM:       true,
		MigrationOut: m, HasMigrationOut: true,
	}
}

// TestApplyReportToRows walks §8.2 on rows nobody links: every row held
// is written with its guard, a row not held is left alone, and a refusal
// writes nothing.
func TestApplyReportToRows(t *testing.T) {
	vmm, held := rowsFixture()
	at := held.VMM.TimeUpdated.Add(time.Second)
	stopping := vmmstate.Runtime{State: vmmstate.Stopping, Generation: generation.Of(3), TimeUpdated: at}
	out := &migration.Report{MigrationID: held.MigrationOut.ID, State: migration.Completed, Generation: generation.Of(2), TimeUpdated: at}
	destroyed := stopping
	destroyed.State = vmmstate.Destroyed

	for _, tc := range []struct {
		name     string
		rows     func(heldRows) heldRows
		report   instancestate.Report
		vmm, mig vmmstate.Outcome
		saga     bool
		err      error
	}{
		{name: "both rows written", report: instancestate.Report{VMM: stopping.SledAgent(), MigrationOut: out},
			vmm: vmmstate.Applied, mig: vmmstate.Applied, saga: true},
		{name: "terminal VMM asks for the update saga", report: instancestate.Report{VMM: destroyed.SledAgent()},
			vmm: vmmstate.Applied, saga: true},
		{name: "non-terminal VMM alone asks nothing", report: instancestate.Report{VMM: stopping.SledAgent()},
			vmm: vmmstate.Applied},
		{name: "duplicate", report: instancestate.Report{VMM: held.VMM.SledAgent()}, vmm: vmmstate.Stale},
		{name: "destroyed again keeps the row",
			rows:   func(r heldRows) heldRows { r.VMM.State = vmmstate.Destroyed; return r },
			report: instancestate.Report{VMM: destroyed.SledAgent()}, vmm: vmmstate.Unchanged},
		{name: "deleted VMM: sides still written",
			rows:   func(r heldRows) heldRows { r.HasVMM = false; return r },
			report: instancestate.Report{VMM: stopping.SledAgent(), MigrationOut: out}, mig: vmmstate.Applied, saga: true},
		{name: "migration row not held",
			rows:   func(r heldRows) heldRows { r.HasMigrationOut = false; return r },
			report: instancestate.Report{VMM: stopping.SledAgent(), MigrationOut: out}, vmm: vmmstate.Applied},
		{name: "wrong side: the VMM is the source, not the target",
			rows: func(r heldRows) heldRows {
				r.MigrationIn, r.HasMigrationIn, r.HasMigrationOut = r.MigrationOut, true, false
				return r
			},
			report: instancestate.Report{VMM: stopping.SledAgent(), MigrationIn: out}, err: migration.ErrWrongVMM},
		{name: "row of another migration",
			rows: func(r heldRows) heldRows {
				r.MigrationOut.ID = migration.IDFromUUID([16]byte{9})
				return r
			},
			report: instancestate.Report{VMM: stopping.SledAgent(), MigrationOut: out}, err: migration.ErrIDMismatch},
		{name: "out of a terminal state, beside a good side",
			rows:   func(r heldRows) heldRows { r.VMM.State = vmmstate.Destroyed; return r },
			report: instancestate.Report{VMM: stopping.SledAgent(), MigrationOut: out}, err: vmmstate.ErrTerminal},
		{name: "same migration in and out",
			report: instancestate.Report{VMM: stopping.SledAgent(), MigrationOut: out, MigrationIn: out}, err: migration.ErrSameMigration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := held
			if tc.rows != nil {
				rows = tc.rows(held)
			}
			got, res, err := rows.apply(vmm, tc.report)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || got != rows || res != (instancestate.ReportResult{}) {
					t.Fatalf("got %v, %+v, %v; want the rows unchanged and %v", got, res, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.VMMOutcome != tc.vmm || res.MigrationOutOutcome != tc.mig || res.UpdateSagaNeeded != tc.saga {
				t.Fatalf("result %+v, want vmm %v, migration_out %v, saga %v", res, tc.vmm, tc.mig, tc.saga)
			}
			if res.MigrationInOutcome != 0 || res.MigrationInNotLinked || res.MigrationOutNotLinked {
				t.Fatalf("result %+v: nothing was reported for migration_in, and linking is the caller's question", res)
			}
			if (tc.vmm == vmmstate.Applied) != (got.VMM != rows.VMM) {
				t.Fatalf("VMM %v → %v with outcome %v", rows.VMM, got.VMM, tc.vmm)
			}
			if (tc.mig == vmmstate.Applied) != (got.MigrationOut != rows.MigrationOut) {
				t.Fatalf("migration %v → %v with outcome %v", rows.MigrationOut, got.MigrationOut, tc.mig)
			}
		})
	}
}

// TestPropApplyReportToRows: for any rows and any report, §8.2 is all or
// nothing, a row changes exactly when its outcome is Applied, a row not
// held never changes, no generation decreases, and the update saga is
// asked for exactly when a terminal state was written (§12 step 2).
func TestPropApplyReportToRows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vmm := vmmtest.ID().Draw(t, "vmm")
		rows := heldRows{
			VMM:             vmmtest.Runtime().Draw(t, "vmm_row"),
			MigrationOut:    migrationtest.Record().Draw(t, "out_row"),
			MigrationIn:     migrationtest.Record().Draw(t, "in_row"),
			HasVMM:          rapid.Bool().Draw(t, "has_vmm"),
			HasMigrationOut: rapid.Bool().Draw(t, "has_out"),
			HasMigrationIn:  rapid.Bool().Draw(t, "has_in"),
		}
		// Mostly the report's sides name the held rows, and the VMM is
		// their source and target, so the writes get past the id checks.
		if rapid.Bool().Draw(t, "vmm_on_sides") {
			rows.MigrationOut.Source.VMM, rows.MigrationIn.Target.VMM = vmm, vmm
		}
		rep := instancestate.Report{VMM: vmmtest.Runtime().Draw(t, "reported").SledAgent()}
		for _, s := range [...]struct {
			rep **migration.Report
			row migration.Record
		}{{&rep.MigrationOut, rows.MigrationOut}, {&rep.MigrationIn, rows.MigrationIn}} {
			if rapid.Bool().Draw(t, "has_side") {
				r := migrationtest.Report().Draw(t, "side")
				if rapid.Bool().Draw(t, "names_row") {
					r.MigrationID = s.row.ID
				}
				*s.rep = &r
			}
		}

		got, res, err := rows.apply(vmm, rep)
		if err != nil {
			if got != rows || res != (instancestate.ReportResult{}) {
				t.Fatalf("refused with %v, yet rows %v → %v, result %+v", err, rows, got, res)
			}
			return
		}
		saga := false
		check := func(name string, held, reported bool, changed bool, o vmmstate.Outcome, before, after generation.Generation, terminal bool) {
			if !held || !reported {
				if changed || o != 0 {
					t.Fatalf("%s: not held or not reported, yet changed %v, outcome %v", name, changed, o)
				}
				return
			}
			if changed != (o == vmmstate.Applied) {
				t.Fatalf("%s: changed %v with outcome %v", name, changed, o)
			}
			if after.Before(before) {
				t.Fatalf("%s: generation %v → %v", name, before, after)
			}
			saga = saga || (o == vmmstate.Applied && terminal)
		}
		check("vmm", rows.HasVMM, true, got.VMM != rows.VMM, res.VMMOutcome,
			rows.VMM.Generation, got.VMM.Generation, rep.VMM.Runtime().State.IsTerminal())
		if rep.MigrationOut != nil {
			check("migration_out", rows.HasMigrationOut, true, got.MigrationOut != rows.MigrationOut, res.MigrationOutOutcome,
				rows.MigrationOut.Source.Generation, got.MigrationOut.Source.Generation, rep.MigrationOut.State.IsTerminal())
		} else if got.MigrationOut != rows.MigrationOut || res.MigrationOutOutcome != 0 {
			t.Fatalf("migration_out not reported, yet written")
		}
		if rep.MigrationIn != nil {
			check("migration_in", rows.HasMigrationIn, true, got.MigrationIn != rows.MigrationIn, res.MigrationInOutcome,
				rows.MigrationIn.Target.Generation, got.MigrationIn.Target.Generation, rep.MigrationIn.State.IsTerminal())
		} else if got.MigrationIn != rows.MigrationIn || res.MigrationInOutcome != 0 {
			t.Fatalf("migration_in not reported, yet written")
		}
		if res.UpdateSagaNeeded != saga {
			t.Fatalf("UpdateSagaNeeded %v, want %v (%+v)", res.UpdateSagaNeeded, saga, res)
		}
	})
}

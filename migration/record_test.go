package migration_test

import (
	"strings"
	"testing"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// §6.8: both sides pending at generation 1, neither updated, created now.
func TestNew(t *testing.T) {
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	want := migration.Record{
		ID: migID, InstanceID: instID, TimeCreated: t0,
		Source: migration.Side{VMM: vmm1, State: migration.Pending, Generation: generation.Initial()},
		Target: migration.Side{VMM: vmm2, State: migration.Pending, Generation: generation.Initial()},
	}
	if r != want {
		t.Fatalf("New = %+v, want %+v", r, want)
	}
	if !r.Source.TimeUpdated.IsZero() || !r.Target.TimeUpdated.IsZero() {
		t.Fatalf("New stamped a side time (NULL until reported, §6.8)")
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate(New) = %v", err)
	}
	if r.IsTerminal() || r.EitherSideFailed() || r.EitherSideCompleted() {
		t.Fatalf("a new migration has an outcome")
	}
	if r.Side(migration.Source) != r.Source || r.Side(migration.Target) != r.Target || r.Side(0) != (migration.Side{}) {
		t.Fatalf("Side(role) does not pick the side")
	}
}

// §6.8: the three predicates over every combination of side states.
func TestPredicates(t *testing.T) {
	for _, src := range stateRows {
		for _, dst := range stateRows {
			r := migration.New(migID, instID, vmm1, vmm2, t0)
			r.Source.State, r.Target.State = src.state, dst.state
			name := src.wire + "/" + dst.wire
			if got, want := r.IsTerminal(), src.terminal || dst.terminal; got != want {
				t.Errorf("%s: IsTerminal = %v, want %v", name, got, want)
			}
			failed := src.wire == "failed" || dst.wire == "failed"
			if got := r.EitherSideFailed(); got != failed {
				t.Errorf("%s: EitherSideFailed = %v, want %v", name, got, failed)
			}
			completed := src.wire == "completed" || dst.wire == "completed"
			if got := r.EitherSideCompleted(); got != completed {
				t.Errorf("%s: EitherSideCompleted = %v, want %v", name, got, completed)
			}
			if r.Source.IsTerminal() != src.terminal || r.Target.IsTerminal() != dst.terminal {
				t.Errorf("%s: Side.IsTerminal disagrees with the state table", name)
			}
		}
	}
}

// invalidRecords is every rule Validate enforces, with the field it names.
var invalidRecords = []struct {
	name  string
	edit  func(*migration.Record)
	role  migration.Role
	field string
}{
	{"nil id", func(r *migration.Record) { r.ID = migration.ID{} }, 0, "id"},
	{"nil instance", func(r *migration.Record) { r.InstanceID = vmmstate.InstanceID{} }, 0, "instance_id"},
	{"nil source VMM", func(r *migration.Record) { r.Source.VMM = vmmstate.ID{} }, migration.Source, "source_propolis_id"},
	{"nil target VMM", func(r *migration.Record) { r.Target.VMM = vmmstate.ID{} }, migration.Target, "target_propolis_id"},
	{"source == target", func(r *migration.Record) { r.Target.VMM = r.Source.VMM }, migration.Target, "target_propolis_id"},
	{"zero source state", func(r *migration.Record) { r.Source.State = 0 }, migration.Source, "source_state"},
	{"out-of-range target state", func(r *migration.Record) { r.Target.State = 9 }, migration.Target, "target_state"},
}

func TestValidate(t *testing.T) {
	for _, tc := range invalidRecords {
		t.Run(tc.name, func(t *testing.T) {
			r := migration.New(migID, instID, vmm1, vmm2, t0)
			tc.edit(&r)
			checkErr(t, "Validate", r.Validate(), migration.ErrInvalidRecord, tc.role, tc.field)
			if msg := r.Validate().Error(); !strings.Contains(msg, tc.field) {
				t.Fatalf("message %q does not name %s", msg, tc.field)
			}
			// No operation accepts the record, and none changes it.
			rep := migration.Report{MigrationID: r.ID, State: migration.InProgress, Generation: gen(5), TimeUpdated: t1}
			for _, role := range migration.AllRoles() {
				got, o, err := r.Apply(role, r.Side(role).VMM, rep)
				checkErr(t, "Apply", err, migration.ErrInvalidRecord, tc.role, tc.field)
				if got != r || o != 0 {
					t.Fatalf("Apply(%v) on an invalid record = %v, %v", role, got, o)
				}
			}
			got, o, err := r.MarkFailed(t1)
			checkErr(t, "MarkFailed", err, migration.ErrInvalidRecord, tc.role, tc.field)
			if got != r || o != 0 {
				t.Fatalf("MarkFailed on an invalid record = %v, %v", got, o)
			}
		})
	}
	// Times are not checked: a zero time is the database's NULL.
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	r.TimeCreated = r.Source.TimeUpdated
	if err := r.Validate(); err != nil {
		t.Fatalf("zero times: %v", err)
	}
}

func TestStrings(t *testing.T) {
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	r.Source.State, r.Source.Generation = migration.InProgress, gen(2)
	want := "migration 0a000000-0000-4000-8000-000000000001: source 2c000000-0000-4000-8000-000000000001 in_progress@2" +
		" → target 2c000000-0000-4000-8000-000000000002 pending@1"
	if r.String() != want {
		t.Fatalf("String() = %q\nwant       %q", r.String(), want)
	}
	rep := migration.Report{MigrationID: migID, State: migration.Completed, Generation: gen(3)}
	if got := rep.String(); got != "0a000000-0000-4000-8000-000000000001 completed@3" {
		t.Fatalf("Report.String() = %q", got)
	}
	e := &migration.Error{Role: migration.Source, Field: "source_propolis_id", Got: "a", Want: "b", Err: migration.ErrWrongVMM}
	if got := e.Error(); got != "migration: source side: source_propolis_id = a, want b: VMM is not that side of the migration" {
		t.Fatalf("Error() = %q", got)
	}
	e = &migration.Error{Field: "id", Got: "nil UUID", Err: migration.ErrInvalidRecord}
	if got := e.Error(); got != "migration: id = nil UUID: invalid migration record" {
		t.Fatalf("Error() = %q", got)
	}
}

// TestValidateAcceptsGenerationZero: D21 — Omicron accepts 0 in every
// generation column (§1), so a migration side at 0 is a record like any
// other, as an instance or VMM at 0 is.
func TestValidateAcceptsGenerationZero(t *testing.T) {
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	r.Source.Generation, r.Target.Generation = generation.Generation{}, generation.Generation{}
	if err := r.Validate(); err != nil {
		t.Fatalf("sides at generation 0: %v", err)
	}
}

package migration_test

import (
	"testing"

	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// §21.3 test_vmm_and_migration_update_runtime, replayed on the records: two
// migrations of one instance, 1→2 then 2→3, with a stale report of the first
// riding along in a report about the second.
func TestDatastoreScenario(t *testing.T) {
	m1ID, m2ID := migID, otherMig
	m1 := migration.New(m1ID, instID, vmm1, vmm2, t0)
	m2 := migration.New(m2ID, instID, vmm2, vmm3, t0)

	apply := func(r migration.Record, role migration.Role, vmm vmmstate.ID, rep migration.Report, want vmmstate.Outcome) migration.Record {
		t.Helper()
		got, o, err := r.Apply(role, vmm, rep)
		if err != nil || o != want {
			t.Fatalf("Apply(%v, %v) = %v, %v; want %v", role, rep, o, err, want)
		}
		return got
	}

	// vmm1: stopping, migration_out = m1 completed at gen 2.
	out1 := migration.Report{MigrationID: m1ID, State: migration.Completed, Generation: gen(2), TimeUpdated: t1}
	if err := migration.CheckInOut(nil, &out1); err != nil {
		t.Fatal(err)
	}
	m1 = apply(m1, migration.Source, vmm1, out1, vmmstate.Applied)
	// vmm2: running, migration_in = m1 completed at gen 2.
	in2 := migration.Report{MigrationID: m1ID, State: migration.Completed, Generation: gen(2), TimeUpdated: t1}
	if err := migration.CheckInOut(&in2, nil); err != nil {
		t.Fatal(err)
	}
	m1 = apply(m1, migration.Target, vmm2, in2, vmmstate.Applied)
	want1 := migration.Record{ID: m1ID, InstanceID: instID, TimeCreated: t0,
		Source: migration.Side{VMM: vmm1, State: migration.Completed, Generation: gen(2), TimeUpdated: t1},
		Target: migration.Side{VMM: vmm2, State: migration.Completed, Generation: gen(2), TimeUpdated: t1}}
	if m1 != want1 {
		t.Fatalf("migration1 = %v, want both sides completed at gen 2", m1)
	}

	// vmm2: destroyed, migration_in = the old m1 report (not newer),
	// migration_out = m2 completed at gen 2.
	out2 := migration.Report{MigrationID: m2ID, State: migration.Completed, Generation: gen(2), TimeUpdated: t2}
	stale := in2
	stale.TimeUpdated = t3 // a later send of the same report: still not newer
	if err := migration.CheckInOut(&stale, &out2); err != nil {
		t.Fatal(err)
	}
	m1 = apply(m1, migration.Target, vmm2, stale, vmmstate.Stale)
	m2 = apply(m2, migration.Source, vmm2, out2, vmmstate.Applied)
	// The stale report must be routed by its id: against m2 it is refused.
	if _, _, err := m2.ApplyTarget(vmm2, stale); err == nil {
		t.Fatalf("m1's report was accepted by m2")
	}
	// vmm3: running, migration_in = m2 failed at gen 2.
	in3 := migration.Report{MigrationID: m2ID, State: migration.Failed, Generation: gen(2), TimeUpdated: t2}
	m2 = apply(m2, migration.Target, vmm3, in3, vmmstate.Applied)

	if m1 != want1 {
		t.Fatalf("migration1 changed (states, gens or times): %v", m1)
	}
	want2 := migration.Record{ID: m2ID, InstanceID: instID, TimeCreated: t0,
		Source: migration.Side{VMM: vmm2, State: migration.Completed, Generation: gen(2), TimeUpdated: t2},
		Target: migration.Side{VMM: vmm3, State: migration.Failed, Generation: gen(2), TimeUpdated: t2}}
	if m2 != want2 {
		t.Fatalf("migration2 = %v, want source completed, target failed, both at gen 2", m2)
	}
	// §13.3: failed wins over completed for the update saga; both hold.
	if !m2.EitherSideFailed() || !m2.EitherSideCompleted() || !m2.IsTerminal() {
		t.Fatalf("migration2 predicates: failed %v completed %v terminal %v", m2.EitherSideFailed(), m2.EitherSideCompleted(), m2.IsTerminal())
	}
}

// §8.2 step 1 comes before anything is applied: a report naming one
// migration in and out changes no record.
func TestSameMigrationRefusedFirst(t *testing.T) {
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	in := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t1}
	out := in
	if err := migration.CheckInOut(&in, &out); err == nil {
		t.Fatalf("CheckInOut accepted the same migration in and out")
	}
	// Had the caller gone on anyway, the VMM is one side only: the other
	// half would be refused as the wrong VMM.
	if _, _, err := r.ApplySource(vmm2, out); err == nil {
		t.Fatalf("the target VMM wrote the source side")
	}
}

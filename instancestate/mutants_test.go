package instancestate

import (
	"errors"
	"testing"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The tests in this file each close a gap that mutation testing found: a
// wrong line that every other test accepted (scripts/mutate). Each names the
// rule it guards.

// TestInheritLockNeedsBothHalvesOfTheParent: §9's inherit applies only when
// the instance is held by the parent's updater id *and* at the parent's
// generation. A parent lock that is stale in one half only is refused just
// like one stale in both.
func TestInheritLockNeedsBothHalvesOfTheParent(t *testing.T) {
	in, parent := lock(t, fixture(), upd1)
	staleGen := Lock{Updater: parent.Updater, Gen: gen(uint32(parent.Gen.Uint64()) + 1)}
	staleID := Lock{Updater: upd3, Gen: parent.Gen}
	for name, p := range map[string]Lock{"stale generation only": staleGen, "stale updater only": staleID} {
		got, l, err := in.InheritLock(p, upd2)
		checkConflict(t, name, err, ErrAlreadyLocked, 409, "instance already locked by another saga")
		if got != in || l != (Lock{}) {
			t.Errorf("%s: a refused inherit changed the instance or returned lock %+v", name, l)
		}
	}
}

// TestSetMigrationIDsRetryNeedsBothIDs: §8.1 (b) is a retry only when the
// migration id *and* the target VMM both equal the linked ones. The same
// migration with another target, or the same target under another
// migration, is a new migration while one is in progress: refused.
func TestSetMigrationIDsRetryNeedsBothIDs(t *testing.T) {
	linked := snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Creating).valid(t)
	for name, ids := range map[string]struct {
		m migration.ID
		v vmmstate.ID
	}{
		"same migration, other target": {migM, vmmC},
		"other migration, same target": {migN, vmmB},
	} {
		got, err := SetMigrationIDs(linked, vmmA, ids.m, ids.v, t1)
		checkConflict(t, name, err, ErrConflict, 409, anotherMigration)
		if got != linked.Instance {
			t.Errorf("%s: a refused link changed the instance", name)
		}
	}
}

// TestReportUnlinkedVMMBesideATarget: §8.2 and §12 apply a report to the VMM
// it names. With a migration target linked, a report from a third VMM is
// still not this instance's (ErrUnknownVMM) — it must not land on the target.
func TestReportUnlinkedVMMBesideATarget(t *testing.T) {
	s := snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating).valid(t)
	err := refused(t, "unlinked VMM beside a target", s, vmmC, vmmReport(vmmstate.Destroyed, targetGen+5), ErrUnknownVMM)
	var nl *NotLinkedError
	if !errors.As(err, &nl) || nl.VMM != vmmC || nl.Active != vmmA || nl.Target != vmmB {
		t.Fatalf("%v: want a *NotLinkedError for %v naming active %v and target %v", err, vmmC, vmmA, vmmB)
	}
}

// TestMarkAsStartingReplacingAnUnwoundSourceUnlinksItsMigration: D17 — the
// new VMM a start links is no side of a migration whose source was the
// unwound VMM it replaces, so that migration and its target are unlinked in
// the same write.
func TestMarkAsStartingReplacingAnUnwoundSourceUnlinksItsMigration(t *testing.T) {
	s := snap().vmm(vmmstate.SagaUnwound).migration(migration.Failed, migration.Failed).target(vmmstate.SagaUnwound).valid(t)
	got, err := MarkAsStarting(s, newVMM(vmmD), failure.StartReasonUser, t1)
	if err != nil {
		t.Fatal(err)
	}
	rt := got.Runtime
	if rt.ActiveVMM != vmmD || rt.State != NexusVMM || !rt.MigrationID.IsZero() || !rt.TargetVMM.IsZero() {
		t.Fatalf("runtime %+v: want vmm on %v with no migration and no target", rt, vmmD)
	}
	if rt.Generation != gen(instGen+1) || !rt.TimeUpdated.Equal(t1) {
		t.Fatalf("runtime %+v: want generation %d stamped %v", rt, instGen+1, t1)
	}
	// Replacing an unwound VMM that no migration names keeps the (empty)
	// ids: the unlink is for the source case only.
	plain := snap().vmm(vmmstate.SagaUnwound).valid(t)
	got, err = MarkAsStarting(plain, newVMM(vmmD), failure.StartReasonUser, t1)
	if err != nil || got.Runtime.ActiveVMM != vmmD {
		t.Fatalf("plain unwound: %+v, %v", got.Runtime, err)
	}
}

// TestPlanFailedMigrationWithItsSourceGone: §13.3 steps 3 and 4 — a failed
// migration whose active VMM is also gone leaves nothing to point the
// network at: the plan deletes the network configuration and releases the
// resources, whatever killed the source.
func TestPlanFailedMigrationWithItsSourceGone(t *testing.T) {
	for _, src := range []vmmstate.State{vmmstate.Destroyed, vmmstate.Failed(failure.SledOff), vmmstate.SagaUnwound} {
		for _, sides := range [][2]migration.State{{migration.Failed, migration.Failed}, {migration.Failed, migration.InProgress}, {migration.InProgress, migration.Failed}} {
			s := snap().vmm(src).migration(sides[0], sides[1]).target(vmmstate.Migrating).valid(t)
			p, ok, err := PlanUpdate(s, t1)
			if err != nil || !ok {
				t.Fatalf("source %v, sides %v: %v, %v", src, sides, ok, err)
			}
			if p.Network != (Network{Action: NetworkDelete}) || !p.Deprovision {
				t.Errorf("source %v, sides %v: network %+v, deprovision %v; want delete and deprovision", src, sides, p.Network, p.Deprovision)
			}
			if !p.Runtime.ActiveVMM.IsZero() || !p.Runtime.MigrationID.IsZero() || !p.Runtime.TargetVMM.IsZero() {
				t.Errorf("source %v, sides %v: runtime %+v keeps a link", src, sides, p.Runtime)
			}
		}
	}
}

// TestAtTheLargestUpdaterGenerationNothingIsReleased: §9 — when the lock
// generation cannot move, unlock and commit release nothing and say so
// (false), besides the error.
func TestAtTheLargestUpdaterGenerationNothingIsReleased(t *testing.T) {
	held, l := lock(t, fixture(), upd1)
	held.UpdaterGen, l.Gen = maxGen(), maxGen()
	if _, ok, err := held.Unlock(l); ok || err == nil {
		t.Errorf("unlock at the largest generation: %v, %v", ok, err)
	}
	if _, ok, err := held.Commit(l, plan2(vmmA)); ok || err == nil {
		t.Errorf("commit at the largest generation: %v, %v", ok, err)
	}
}

// TestPlanTargetGoneMidMigration: §13.3 steps 2 and 3 — a target that died
// before either side completed ends its migration: both ids are cleared,
// the target destroyed, and the network pointed back at the surviving
// source.
func TestPlanTargetGoneMidMigration(t *testing.T) {
	s := snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(vmmstate.Destroyed).valid(t)
	p, ok, err := PlanUpdate(s, t1)
	if err != nil || !ok {
		t.Fatalf("%v, %v", ok, err)
	}
	if !p.Runtime.MigrationID.IsZero() || !p.Runtime.TargetVMM.IsZero() || p.DestroyTargetVMM != vmmB ||
		p.Network != (Network{Action: NetworkUpdate, VMM: vmmA, Sled: sled1}) || p.Runtime.ActiveVMM != vmmA {
		t.Fatalf("plan %+v", p)
	}
}

// TestMarkAsStartingKeepsAStaleLinkOfAnInstanceWithoutVMM: §14 leaves the
// target and migration ids as they are; a failed instance that kept a
// migration's ids (D21) keeps them through its start, and the update plan
// clears them (TestD21PlanClearsTheStaleLink).
func TestMarkAsStartingKeepsAStaleLinkOfAnInstanceWithoutVMM(t *testing.T) {
	s := snap().migration(migration.Failed, migration.Failed).target(vmmstate.SagaUnwound).build()
	s.Instance.Runtime.State = NexusFailed
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	in, err := MarkAsStarting(s, newVMM(vmmD), failure.StartReasonUser, t1)
	if err != nil || in.Runtime.MigrationID != migM || in.Runtime.TargetVMM != vmmB || in.Runtime.ActiveVMM != vmmD {
		t.Fatalf("%+v, %v", in.Runtime, err)
	}
}

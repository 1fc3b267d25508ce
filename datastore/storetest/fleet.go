package storetest

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// examplesPerShape is how many snapshots of each instancetest shape the
// fleet test stores: enough that each shape comes locked and unlocked,
// meant to run and not, with its VMMs in several states.
const examplesPerShape = 8

// testFleetQueriesAreTheDecisions stores a fleet of every snapshot shape
// instancetest draws (examples at fixed seeds, so the case is the same in
// every run), a few of them with a linked VMM's row since deleted, and
// checks that the three fleet queries that are decisions answer exactly
// the live instances whose decision says so, at several times:
// find_instances_needing_update the unlocked ones whose update plan is
// required (§8.1, D11), find_reincarnatable_instances those whose
// reincarnation says should (§17.2, D15, D22), find_instances_to_reconcile
// the unlocked ones whose Next says start or stop (D19). A linked record is never deleted, so every instance
// stays readable and in the answer its decision gives. A store that reads
// the fleet a page at a time must give the same answer across its pages'
// boundaries.
func testFleetQueriesAreTheDecisions(f *fixture) {
	var fleet []instancestate.Snapshot // as the store should read each back
	seed := 0
	for _, shape := range instancetest.AllShapes() {
		for range examplesPerShape {
			seed++
			s := f.renumber(instancetest.SnapshotWithShape(shape).Example(seed))
			if seed%2 == 0 {
				// Half the fleet is meant to run and free of the lock,
				// so that the reincarnation task finds work (both are
				// drawn freely whatever the shape).
				s.Instance.IntendedState, s.Instance.UpdaterID = instancestate.IntendRunning, instancestate.UpdaterID{}
			}
			f.store(s)
			// Every fifth instance with a destroyable active VMM is
			// offered to the reaper too early: the row is kept while the
			// instance links it, so the instance stays readable.
			if seed%5 == 0 && s.HasActive() && s.Active.Runtime.State.IsDestroyable() {
				f.expect("delete the active VMM's row", false, datastore.ReasonLinked)(f.st.VMMMarkDeleted(f.ctx, s.Active.ID, s.Active.Runtime.TimeUpdated))
			}
			fleet = append(fleet, s)
		}
	}
	for _, now := range []time.Time{
		instancetest.Reference,
		instancetest.Reference.Add(10 * time.Minute),
		instancetest.Reference.Add(instancetest.Window),
	} {
		var needing, reincarnatable, reconcile []instancestate.ID
		for _, s := range fleet {
			if n, err := instancestate.Next(s, now); err == nil && (n.Action == instancestate.NextStart || n.Action == instancestate.NextStop) {
				reconcile = append(reconcile, s.Instance.ID)
			}
			if _, required, err := instancestate.PlanUpdate(s, now); err == nil && required && !s.Instance.IsLocked() {
				needing = append(needing, s.Instance.ID)
			}
			if r, err := instancestate.Reincarnate(s, now); err == nil && r.Should {
				reincarnatable = append(reincarnatable, s.Instance.ID)
			}
		}
		// The case must be able to fail both ways at every time checked.
		for name, ids := range map[string][]instancestate.ID{"need an update": needing, "are reincarnatable": reincarnatable, "are to reconcile": reconcile} {
			if len(ids) == 0 || len(ids) == len(fleet) {
				f.fatal("at %v the fleet does not test the queries: %d of %d %s", now, len(ids), len(fleet), name)
			}
		}
		byUUID := func(a, b instancestate.ID) int { ua, ub := a.UUID(), b.UUID(); return slices.Compare(ua[:], ub[:]) }
		slices.SortFunc(needing, byUUID)
		slices.SortFunc(reincarnatable, byUUID)
		slices.SortFunc(reconcile, byUUID)
		if got := must(f.st.FindInstancesNeedingUpdate(f.ctx, now)); !slices.Equal(got, needing) {
			f.fatal("find_instances_needing_update at %v:\n got  %v\n want %v", now, got, needing)
		}
		if got := must(f.st.FindReincarnatableInstances(f.ctx, now)); !slices.Equal(got, reincarnatable) {
			f.fatal("find_reincarnatable_instances at %v:\n got  %v\n want %v", now, got, reincarnatable)
		}
		if got := must(f.st.FindInstancesToReconcile(f.ctx, now)); !slices.Equal(got, reconcile) {
			f.fatal("find_instances_to_reconcile at %v:\n got  %v\n want %v", now, got, reconcile)
		}
	}
}

// renumber gives a drawn snapshot fresh ids of the fixture's own (the
// examples of different seeds may share ids), keeping which records link
// which. The sled and updater ids are kept.
func (f *fixture) renumber(s instancestate.Snapshot) instancestate.Snapshot {
	fresh := map[uuid.UUID]uuid.UUID{}
	re := func(u uuid.UUID, kind byte) uuid.UUID {
		if u == uuid.Nil {
			return u
		}
		if v, ok := fresh[u]; ok {
			return v
		}
		v := f.uid(kind)
		fresh[u] = v
		return v
	}
	vmm := func(id vmmstate.ID) vmmstate.ID { return vmmstate.IDFromUUID(re(id.UUID(), 'v')) }
	mig := func(id migration.ID) migration.ID { return migration.IDFromUUID(re(id.UUID(), 'm')) }
	inst := vmmstate.InstanceIDFromUUID(re(s.Instance.ID.UUID(), 'i'))

	s.Instance.ID = inst
	rt := &s.Instance.Runtime
	rt.ActiveVMM, rt.TargetVMM, rt.MigrationID = vmm(rt.ActiveVMM), vmm(rt.TargetVMM), mig(rt.MigrationID)
	for _, v := range []*vmmstate.VMM{&s.Active, &s.Target} {
		if !v.ID.IsZero() {
			v.ID, v.InstanceID = vmm(v.ID), inst
		}
	}
	if m := &s.Migration; !m.ID.IsZero() {
		m.ID, m.InstanceID = mig(m.ID), inst
		m.Source.VMM, m.Target.VMM = vmm(m.Source.VMM), vmm(m.Target.VMM)
	}
	// An observation, not a record: no store keeps it (§8.1).
	s.SledUnreachableSince = time.Time{}
	if err := s.Validate(); err != nil {
		f.fatal("renumbered snapshot: %v", err)
	}
	return s
}

// store inserts the records of snapshot s.
func (f *fixture) store(s instancestate.Snapshot) {
	f.t.Helper()
	must(f.st.InstanceInsert(f.ctx, s.Instance))
	for _, v := range []vmmstate.VMM{s.Active, s.Target} {
		if !v.ID.IsZero() {
			must(f.st.VMMInsert(f.ctx, v))
		}
	}
	if s.HasMigration() {
		must(f.st.MigrationInsert(f.ctx, s.Migration))
	}
}

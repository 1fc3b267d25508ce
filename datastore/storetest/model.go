package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// model is the plain, sequential model the store is checked against: one
// instance and its VMMs as values, each operation's answer computed by the
// library's own rules on those values. The store must give the same
// answers and end in the same records, whatever the sequence.
type model struct {
	in      instancestate.Instance
	vmms    []vmmstate.VMM
	deleted []bool
	locks   map[instancestate.UpdaterID]instancestate.Lock
}

// testModel draws random sequences of operations — VMM writes, failures,
// deletions, sled reports, instance runtime writes, locks and unlocks by
// three sagas — and checks every answer and the records after every step
// against the model. Each sequence uses fresh records in the same store.
func testModel(f *fixture) {
	rapid.Check(f.t, func(t *rapid.T) {
		in := f.noVMM(f.instance())
		m := &model{in: f.fetch(in.ID).Instance, locks: map[instancestate.UpdaterID]instancestate.Lock{}}
		sled := f.sled()
		for range 3 {
			v := f.vmm(in.ID, sled, vmmstate.Starting, 1)
			m.vmms, m.deleted = append(m.vmms, v), append(m.deleted, false)
		}
		sagas := []instancestate.UpdaterID{f.updater(), f.updater(), f.updater()}
		states := vmmstate.AllStates()
		for step := range rapid.IntRange(1, 30).Draw(t, "steps") {
			i := rapid.IntRange(0, len(m.vmms)-1).Draw(t, "vmm")
			v := &m.vmms[i]
			switch op := rapid.IntRange(0, 6).Draw(t, "op"); op {
			case 0: // vmm_update_runtime
				rt := vmmstate.Runtime{State: rapid.SampledFrom(states).Draw(t, "state"),
					Generation: gen(uint32(rapid.IntRange(0, 12).Draw(t, "gen"))), TimeUpdated: at(step)}
				got, err := f.st.VMMUpdateRuntime(f.ctx, v.ID, rt)
				want, next, wantErr := m.vmmWrite(i, func(r vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) { return r.Observe(rt) })
				m.check(t, "vmm_update_runtime", got, err, want, wantErr)
				v.Runtime = next
			case 1: // vmm_mark_failed
				reason := rapid.SampledFrom(failure.AllReasons()).Draw(t, "reason")
				got, err := f.st.VMMMarkFailed(f.ctx, v.ID, reason, at(step))
				want, next, wantErr := m.vmmWrite(i, func(r vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) {
					return r.MarkFailed(reason, at(step))
				})
				m.check(t, "vmm_mark_failed", got, err, want, wantErr)
				v.Runtime = next
			case 2: // vmm_mark_deleted
				got, err := f.st.VMMMarkDeleted(f.ctx, v.ID, at(step))
				want := datastore.Result{Applied: true}
				switch {
				case m.deleted[i]:
					want = datastore.Result{Reason: datastore.ReasonDeleted}
				case !v.Runtime.State.IsDestroyable():
					want = datastore.Result{Reason: datastore.ReasonNotDestroyable}
				default:
					m.deleted[i] = true
				}
				m.check(t, "vmm_mark_deleted", got, err, want, nil)
			case 3: // instance_update_runtime
				rt := m.in.Runtime
				rt.Generation, rt.TimeUpdated = gen(uint32(rapid.IntRange(0, 12).Draw(t, "instance gen"))), at(step)
				got, err := f.st.InstanceUpdateRuntime(f.ctx, m.in.ID, rt, instancestate.IntentUnchanged)
				want := datastore.Result{Reason: datastore.ReasonStale}
				if rt.Generation.After(m.in.Runtime.Generation) {
					want, m.in.Runtime = datastore.Result{Applied: true}, rt
				}
				m.check(t, "instance_update_runtime", got, err, want, nil)
			case 4: // instance_updater_lock
				saga := rapid.SampledFrom(sagas).Draw(t, "saga")
				l, err := f.st.InstanceUpdaterLock(f.ctx, m.in.ID, saga)
				next, wl, wantErr := m.in.Lock(saga)
				if (err == nil) != (wantErr == nil) || err == nil && l != wl {
					t.Fatalf("lock by %v: %+v, %v; model %+v, %v", saga, l, err, wl, wantErr)
				}
				if err == nil {
					m.in, m.locks[saga] = next, l
				}
			case 5: // instance_updater_unlock, with the saga's last lock
				saga := rapid.SampledFrom(sagas).Draw(t, "saga")
				l := m.locks[saga]
				got, err := f.st.InstanceUpdaterUnlock(f.ctx, m.in.ID, l)
				next, ok, wantErr := m.in.Unlock(l)
				want := datastore.Result{Reason: datastore.ReasonUnchanged}
				if ok {
					want, m.in = datastore.Result{Applied: true}, next
				}
				m.check(t, "instance_updater_unlock", got, err, want, wantErr)
			case 6: // sled_report of the VMM alone: §8.2's guard, as Observe
				r := instancestate.Report{VMM: vmmstate.SledAgentRuntime{
					State:      rapid.SampledFrom(vmmstate.AllSledAgentStates()).Draw(t, "reported"),
					Generation: gen(uint32(rapid.IntRange(0, 12).Draw(t, "reported gen"))), TimeUpdated: at(step)}}
				reported := r.VMM.Runtime()
				got, err := f.st.SledReport(f.ctx, v.ID, r)
				want, next, wantErr := m.vmmWrite(i, func(r vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error) { return r.Observe(reported) })
				m.check(t, "sled_report", got.VMM, err, want, wantErr)
				if err == nil && got.UpdateSagaNeeded != (want.Applied && reported.State.IsTerminal()) {
					t.Fatalf("sled_report: UpdateSagaNeeded %v after %+v of %v", got.UpdateSagaNeeded, want, reported.State)
				}
				v.Runtime = next
			}
			m.compare(t, f)
		}
	})
}

// vmmWrite is a VMM write on the model: the answer the store must give and
// the runtime it must then hold.
func (m *model) vmmWrite(i int, change func(vmmstate.Runtime) (vmmstate.Runtime, vmmstate.Outcome, error)) (datastore.Result, vmmstate.Runtime, error) {
	stored := m.vmms[i].Runtime
	if m.deleted[i] {
		return datastore.Result{Reason: datastore.ReasonDeleted}, stored, nil
	}
	next, outcome, err := change(stored)
	if err != nil {
		return datastore.Result{}, stored, err
	}
	switch outcome {
	case vmmstate.Applied:
		return datastore.Result{Applied: true}, next, nil
	case vmmstate.Stale:
		return datastore.Result{Reason: datastore.ReasonStale}, stored, nil
	}
	return datastore.Result{Reason: datastore.ReasonUnchanged}, stored, nil
}

// check compares one answer with the model's; a refusal must be refused.
func (m *model) check(t *rapid.T, op string, got datastore.Result, err error, want datastore.Result, wantErr error) {
	t.Helper()
	if (err == nil) != (wantErr == nil) || err == nil && got != want {
		t.Fatalf("%s: %+v, %v; model says %+v, %v", op, got, err, want, wantErr)
	}
}

// compare checks the stored records against the model.
func (m *model) compare(t *rapid.T, f *fixture) {
	t.Helper()
	s, err := f.st.InstanceFetchAll(f.ctx, m.in.ID)
	if err != nil || s.Instance != m.in {
		t.Fatalf("instance %+v, %v; model %+v", s.Instance, err, m.in)
	}
	for i, v := range m.vmms {
		row, err := f.st.VMMFetch(f.ctx, v.ID)
		if err != nil || row.VMM != v || row.TimeDeleted.IsZero() == m.deleted[i] {
			t.Fatalf("VMM %d: %+v, %v; model %+v, deleted %v", i, row, err, v, m.deleted[i])
		}
	}
}

// testNoInstanceIsBricked draws random sequences of what a control plane
// and its reapers do at once — sled reports, failures, unwound starts,
// starts and migrations linking VMMs, update sagas, deletions of VMMs,
// migrations and instances, raw runtime writes linking any of the VMMs —
// over two instances, and checks after every step that every live
// instance is readable (its snapshot validates and encodes as the snapshot
// document) and repairable (the fleet query lists it exactly when its
// update plan has work); at the end, update sagas bring every live
// instance to rest. A refusal is any operation's right answer; a store
// failure is not.
func testNoInstanceIsBricked(f *fixture) {
	rapid.Check(f.t, func(t *rapid.T) {
		type inst struct {
			id      instancestate.ID
			vmms    []vmmstate.ID
			migs    []migration.ID
			deleted bool
		}
		sled := f.sled()
		var insts []*inst
		for range 2 {
			in := f.noVMM(f.instance())
			f.expect("meant to run", true, 0)(f.st.InstanceSetIntendedState(f.ctx, in.ID, instancestate.IntendRunning))
			insts = append(insts, &inst{id: in.ID})
		}
		newVMM := func(in *inst) vmmstate.ID {
			v := f.vmm(in.id, sled, vmmstate.Creating, 1)
			in.vmms = append(in.vmms, v.ID)
			return v.ID
		}
		refusal := func(op string, err error) {
			var e *datastore.Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("%s: a store failure, not an answer: %v", op, err)
			}
		}
		for step := range rapid.IntRange(1, 25).Draw(t, "steps") {
			now := at(step)
			in := rapid.SampledFrom(insts).Draw(t, "instance")
			if len(in.vmms) == 0 {
				newVMM(in)
			}
			v := rapid.SampledFrom(in.vmms).Draw(t, "vmm")
			if rapid.Bool().Draw(t, "a linked VMM") {
				// Half the time, a VMM the instance links: the ones whose
				// deletion would leave it naming a record it cannot read.
				if s, err := f.st.InstanceFetchAll(f.ctx, in.id); err == nil {
					for _, id := range []vmmstate.ID{s.Instance.Runtime.TargetVMM, s.Instance.Runtime.ActiveVMM} {
						if !id.IsZero() {
							v = id
						}
					}
				}
			}
			switch op := rapid.IntRange(0, 11).Draw(t, "op"); op {
			case 0: // a sled-agent's report
				r := report(rapid.SampledFrom(vmmstate.AllSledAgentStates()).Draw(t, "reported"),
					uint32(rapid.IntRange(1, 8).Draw(t, "reported gen")), now)
				_, err := f.st.SledReport(f.ctx, v, r)
				refusal("sled_report", err)
			case 1: // the watcher's proof of death
				_, err := f.st.VMMMarkFailed(f.ctx, v, rapid.SampledFrom(failure.AllReasons()).Draw(t, "reason"), now)
				refusal("vmm_mark_failed", err)
			case 2: // a start saga unwinding
				_, err := f.st.VMMMarkSagaUnwound(f.ctx, v, now)
				refusal("vmm_mark_saga_unwound", err)
			case 3: // a reaper, as early as it can
				_, err := f.st.VMMMarkDeleted(f.ctx, v, now)
				refusal("vmm_mark_deleted", err)
			case 4: // a start linking a fresh VMM
				_, err := f.st.InstanceMarkAsStarting(f.ctx, in.id, datastore.MarkAsStartingArgs{VMM: newVMM(in), Reason: failure.StartReasonUser, Now: now})
				refusal("instance_mark_as_starting", err)
			case 5: // a migration linking a fresh target
				s, err := f.st.InstanceFetchAll(f.ctx, in.id)
				if err != nil || !s.HasActive() {
					continue
				}
				dst := newVMM(in)
				m := f.migration(in.id, s.Active.ID, dst)
				in.migs = append(in.migs, m.ID)
				_, err = f.st.InstanceSetMigrationIDs(f.ctx, in.id, datastore.SetMigrationIDsArgs{Source: s.Active.ID, Migration: m.ID, Target: dst, Now: now})
				refusal("instance_set_migration_ids", err)
			case 6: // a migration's end, or its reaping
				if len(in.migs) == 0 {
					continue
				}
				m := rapid.SampledFrom(in.migs).Draw(t, "migration")
				var err error
				if rapid.Bool().Draw(t, "fail it") {
					_, err = f.st.MigrationMarkFailed(f.ctx, m, now)
				} else {
					_, err = f.st.MigrationMarkDeleted(f.ctx, m, now)
				}
				refusal("migration mark", err)
			case 7, 8: // the update saga
				if _, err := f.runUpdate(f.newUpdate(in.id), now); err != nil {
					t.Fatalf("update saga: %v", err)
				}
			case 9: // the delete saga's write
				res, err := f.st.InstanceDelete(f.ctx, in.id, now)
				refusal("instance_delete", err)
				in.deleted = in.deleted || err == nil && res.Applied
			case 10: // a user's request to start again
				_, err := datastore.InstanceRequest(f.ctx, f.st, in.id, instancestate.RequestStart, now)
				refusal("instance_request", err)
			case 11: // a raw runtime write linking one of the VMMs, reaped or not
				s, err := f.st.InstanceFetchAll(f.ctx, in.id)
				if err != nil {
					continue
				}
				rt := s.Instance.Runtime
				rt.State, rt.ActiveVMM, rt.TimeUpdated = instancestate.NexusVMM, v, now
				rt.Generation = must(rt.Generation.Next())
				_, err = f.st.InstanceUpdateRuntime(f.ctx, in.id, rt, instancestate.IntentUnchanged)
				refusal("instance_update_runtime", err)
			}

			// Readable, and repairable.
			var needing []instancestate.ID
			for _, in := range insts {
				s, err := f.st.InstanceFetchAll(f.ctx, in.id)
				if in.deleted {
					if !errors.Is(err, datastore.ErrNotFound) {
						t.Fatalf("step %d: deleted instance %v read: %v", step, in.id, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: instance %v cannot be read: %v", step, in.id, err)
				}
				if err := s.Validate(); err != nil {
					t.Fatalf("step %d: instance %v is bricked: %v\n%+v", step, in.id, err, s)
				}
				if _, err := json.Marshal(s); err != nil {
					t.Fatalf("step %d: instance %v does not encode: %v", step, in.id, err)
				}
				if _, required, _ := instancestate.PlanUpdate(s, now); required && !s.Instance.IsLocked() {
					needing = append(needing, in.id)
				}
			}
			var listed []instancestate.ID
			for _, id := range must(f.st.FindInstancesNeedingUpdate(f.ctx, now)) {
				for _, in := range insts {
					if in.id == id {
						listed = append(listed, id)
					}
				}
			}
			if !sameIDs(listed, needing) {
				t.Fatalf("step %d: find_instances_needing_update lists %v of these, want %v", step, listed, needing)
			}
			var fleet []fleetInst
			for _, in := range insts {
				fleet = append(fleet, fleetInst{in.id, in.vmms, in.deleted})
			}
			f.fleetAgrees(t, step, now, sled, fleet)
		}
		// Update sagas bring every live instance to rest.
		for _, in := range insts {
			if in.deleted {
				continue
			}
			f.updateToRest(in.id, at(100))
			s := f.fetch(in.id)
			if _, required, err := instancestate.PlanUpdate(s, at(100)); err != nil || required {
				t.Fatalf("%v not at rest after update sagas: required %v, %v\n%+v", in.id, required, err, s)
			}
		}
	})
}

// fleetInst is an instance a random history made: its VMMs, and whether
// it was deleted.
type fleetInst struct {
	id      instancestate.ID
	vmms    []vmmstate.ID
	deleted bool
}

// fleetAgrees checks, at a step of a random history, the fleet queries a
// store may answer from an index of its own against what the records say
// of the instances the history made (each with its VMMs, and whether it
// was deleted), all on sled: find_reincarnatable_instances lists exactly
// the live ones reincarnation says should restart at now,
// find_instances_to_reconcile the live, unlocked ones Next says to start
// or stop at now; of the VMMs of
// live instances, vmm_list_abandoned lists exactly those not deleted, in
// a destroyable state, that their instance links neither as active nor as
// target, and vmm_list_by_sled exactly those not deleted in a state the
// watcher lists.
func (f *fixture) fleetAgrees(t *rapid.T, step int, now time.Time, sled vmmstate.SledID, insts []fleetInst) {
	t.Helper()
	var due, wantDue, reconcile, wantReconcile []instancestate.ID
	var abandoned, wantAbandoned, bySled, wantBySled []vmmstate.ID
	ours := map[instancestate.ID]bool{}
	oursV := map[vmmstate.ID]bool{}
	for _, in := range insts {
		id, vmms := in.id, in.vmms
		ours[id] = true
		if in.deleted {
			continue
		}
		s, err := f.st.InstanceFetchAll(f.ctx, id)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if r, err := instancestate.Reincarnate(s, now); err == nil && r.Should {
			wantDue = append(wantDue, id)
		}
		if n, err := instancestate.Next(s, now); err == nil && (n.Action == instancestate.NextStart || n.Action == instancestate.NextStop) {
			wantReconcile = append(wantReconcile, id)
		}
		rt := s.Instance.Runtime
		for _, v := range vmms {
			oursV[v] = true
			row := must(f.st.VMMFetch(f.ctx, v))
			if !row.TimeDeleted.IsZero() {
				continue
			}
			st := row.VMM.Runtime.State
			if st.IsDestroyable() && rt.ActiveVMM != v && rt.TargetVMM != v {
				wantAbandoned = append(wantAbandoned, v)
			}
			if datastore.ListedBySled(st.Kind()) {
				wantBySled = append(wantBySled, v)
			}
		}
	}
	for _, id := range must(f.st.FindReincarnatableInstances(f.ctx, now)) {
		if ours[id] {
			due = append(due, id)
		}
	}
	for _, id := range must(f.st.FindInstancesToReconcile(f.ctx, now)) {
		if ours[id] {
			reconcile = append(reconcile, id)
		}
	}
	for _, id := range must(f.st.VMMListAbandoned(f.ctx)) {
		if oursV[id] {
			abandoned = append(abandoned, id)
		}
	}
	for _, id := range must(f.st.VMMListBySled(f.ctx, sled)) {
		if oursV[id] {
			bySled = append(bySled, id)
		}
	}
	if !sameIDs(due, wantDue) {
		t.Fatalf("step %d: find_reincarnatable_instances lists %v of these, want %v", step, due, wantDue)
	}
	if !sameIDs(reconcile, wantReconcile) {
		t.Fatalf("step %d: find_instances_to_reconcile lists %v of these, want %v", step, reconcile, wantReconcile)
	}
	if !sameIDs(abandoned, wantAbandoned) {
		t.Fatalf("step %d: vmm_list_abandoned lists %v of these, want %v", step, abandoned, wantAbandoned)
	}
	if !sameIDs(bySled, wantBySled) {
		t.Fatalf("step %d: vmm_list_by_sled lists %v of these, want %v", step, bySled, wantBySled)
	}
}

// sameIDs reports whether a and b hold the same ids, in any order.
func sameIDs[ID comparable](a, b []ID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, id := range a {
		if !slices.Contains(b, id) {
			return false
		}
	}
	return true
}

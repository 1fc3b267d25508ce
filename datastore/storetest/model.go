package storetest

import (
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
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

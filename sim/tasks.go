package sim

import (
	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// Background tasks: the reincarnation task (§17), the reconciler (D19)
// and the abandoned-VMM reaper (§18), each the control plane's.

// reincarnationTask is §17.3: a pass of the control plane's reincarnation
// task (controlplane.TaskReincarnation), which restarts, reason
// auto_restart, up to 16 of the instances FindReincarnatableInstances
// lists.
func (w *World) reincarnationTask() {
	if _, err := w.cp.RunTask(w.ctx, controlplane.TaskReincarnation); err != nil {
		w.unexpected("instance_reincarnation", "control plane", err)
	}
}

// reconcile has the control plane act on what instancestate.Next says one
// instance needs (controlplane.Reconcile, D19): a start, a restart, an
// update, a stop, a look at a VMM past its deadline (D32), the abort of a
// stalled migration (D34). The world picks the instance.
func (w *World) reconcile() {
	if len(w.instances) == 0 {
		return
	}
	in := w.instances[w.intn(len(w.instances))]
	n, err := w.cp.Reconcile(w.ctx, in.rec.ID)
	if err != nil {
		return // judged as the control plane logged it (cpErrors)
	}
	w.stats.Next[n.Action]++
	w.tracef("reconcile %s: %v", in.name, n.Action)
	switch n.Action {
	case instancestate.NextInspect:
		w.stats.Inspections++
	case instancestate.NextAbortMigration:
		w.stats.MigrationsAborted++
		w.tracef("abort migration %s of %s: stop %s", n.Migration, in.name, w.vmmName(n.StopVMM))
	}
	w.touch(in)
}

// reap is the abandoned-VMM reaper (§18): every destroyable VMM no
// instance links is deleted and its reservation released. Sled-agents
// that answer forget the VMMs the database no longer runs, and migration
// rows that no instance links and that have an outcome are deleted. It
// looks only at what changed since it last ran (the world's queues),
// never at the whole fleet.
func (w *World) reap() {
	// The stops the control plane owes (D34, D37) are asked again with it.
	if _, err := w.cp.RunTask(w.ctx, controlplane.TaskOwedStops); err != nil {
		w.unexpected("owed_vmm_stops", "control plane", err)
	}
	q := w.reapQ
	w.reapQ = nil
	for _, r := range q {
		if w.vmms[r.vmm.ID] != r || !r.vmm.Runtime.State.IsDestroyable() {
			continue // deleted, or not destroyable: queued again when it is
		}
		if in := w.live(r.vmm.InstanceID); in != nil && links(in, r.vmm.ID) {
			continue // queued again when the instance lets it go
		}
		reaped, err := w.cp.ReapVMM(w.ctx, r.vmm.ID)
		if err != nil {
			continue // judged as the control plane logged it (cpErrors)
		}
		if reaped {
			w.stats.Reaped++
		}
		w.syncVMM(r.vmm.ID)
	}
	fq := w.forgetQ
	w.forgetQ = nil
	for _, f := range fq {
		if f.sl.expunged {
			continue // its VMMs went with it
		}
		if !f.sl.answers() {
			w.forgetQ = append(w.forgetQ, f) // until it answers again
			continue
		}
		a := f.sl.find(f.id)
		if a == nil {
			continue
		}
		switch r := w.vmms[f.id]; {
		case r == nil:
			f.sl.forget(f.id)
		case r.vmm.Runtime.State.Kind() != vmmstate.KindSagaUnwound:
		case a.flight == nil:
			f.sl.forget(f.id)
		default:
			w.forgetQ = append(w.forgetQ, f) // until its migration ends
		}
	}
	mq := w.migQ
	w.migQ = nil
	for _, m := range mq {
		if w.migs[m.rec.ID] != m {
			continue
		}
		in := w.live(m.rec.InstanceID)
		if in != nil && in.rec.Runtime.MigrationID == m.rec.ID {
			continue // queued again when the instance lets it go
		}
		if m.rec.Source.IsTerminal() && m.rec.Target.IsTerminal() ||
			w.vmms[m.rec.Source.VMM] == nil && w.vmms[m.rec.Target.VMM] == nil {
			// Only the world forgets it: Omicron deletes a migration row
			// only with its instance, and a sled-agent keeps naming its
			// last migration in every report, which a deleted row would
			// refuse (§8.2: gone).
			delete(w.migs, m.rec.ID)
			w.migDead++
			continue
		}
		w.migQ = append(w.migQ, m) // in flight: looked at again
	}
	w.compact()
}

// forgetting is a VMM a sled-agent may still hold although the database
// no longer runs it.
type forgetting struct {
	sl *sled
	id vmmstate.ID
}

// mayReap queues a VMM row for the reaper when it is destroyable, and a
// saga_unwound one for its sled-agent to forget.
func (w *World) mayReap(r *vmmRow) {
	st := r.vmm.Runtime.State
	if st.IsDestroyable() {
		w.reapQ = append(w.reapQ, r)
	}
	if st.Kind() == vmmstate.KindSagaUnwound {
		if sl := w.sledByID(r.vmm.SledID); sl != nil {
			w.forgetQ = append(w.forgetQ, forgetting{sl, r.vmm.ID})
		}
	}
}

// unlinked queues what an instance's runtime stopped linking, going from
// old to now: its VMMs for the reaper, its migration for deletion.
func (w *World) unlinked(old, now instancestate.Runtime) {
	for _, id := range [...]vmmstate.ID{old.ActiveVMM, old.TargetVMM} {
		if id.IsZero() || id == now.ActiveVMM || id == now.TargetVMM {
			continue
		}
		if r := w.vmms[id]; r != nil {
			w.reapQ = append(w.reapQ, r)
		}
	}
	if id := old.MigrationID; !id.IsZero() && id != now.MigrationID {
		if m := w.migs[id]; m != nil {
			w.migQ = append(w.migQ, m)
		}
	}
}

// compact drops deleted rows from the ordered lists once half of a list
// is dead, so that it costs, amortized, a constant per deleted row.
func (w *World) compact() {
	if w.vmmDead > len(w.vmmOrder)/2 {
		w.vmmOrder = keepLive(w.vmmOrder, func(r *vmmRow) bool { return w.vmms[r.vmm.ID] == r })
		w.vmmDead = 0
	}
	if w.migDead > len(w.migOrder)/2 {
		w.migOrder = keepLive(w.migOrder, func(m *migRow) bool { return w.migs[m.rec.ID] == m })
		w.migDead = 0
	}
}

// keepLive keeps, in place and in order, the rows of list that are live.
func keepLive[T any](list []*T, live func(*T) bool) []*T {
	out := list[:0]
	for _, x := range list {
		if live(x) {
			out = append(out, x)
		}
	}
	clear(list[len(out):])
	return out
}

package sim

import (
	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// Background tasks: the control plane's (controlplane.Task), run by the
// world at its actions — the instance updater, reincarnation (§17), the
// abandoned-VMM reaper (§18) and the stops it owes, a pass each; the
// instance watcher a VMM at a time (watcher.go) — and the reconciler
// (D19), which no fleet query lists instances for: the world picks the
// instance, as an operator's "look at this one" would.

// runTask runs one pass of the control plane's task t, and returns what it
// did; false when the pass ended on an error, which the control plane
// logged and the world judged (cpErrors).
func (w *World) runTask(t controlplane.Task) (controlplane.Pass, bool) {
	p, err := w.cp.RunTask(w.ctx, t)
	if p.SagasStarted+p.Reaped+p.Released > 0 {
		w.tracef("%v: found %d, sagas %d, reaped %d, released %d", t, p.Found, p.SagasStarted, p.Reaped, p.Released)
	}
	return p, err == nil
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

// reap runs the control plane's owed stops (D34, D37) and its
// abandoned-VMM reaper (§18): every destroyable VMM no instance links is
// deleted and its room released, as are reservations whose VMM is gone;
// the world reads back each VMM whose room the control plane released
// (sledRoom.Release). Then the world's own side of the same work:
// sled-agents that answer forget the VMMs the database no longer runs,
// and migration rows that no instance links and that have an outcome are
// forgotten; that side looks only at what changed since it last ran (the
// world's queues), never at the whole fleet.
func (w *World) reap() {
	w.runTask(controlplane.TaskOwedStops)
	// The reaper's pass lists every reservation, and every unfinished saga
	// when room is held for a VMM not yet recorded: it runs at one reaper
	// action in 1+n/128 for n instances, so that the work it brings a step
	// does not grow with the fleet.
	if w.intn(1+len(w.instances)/128) == 0 {
		if p, ok := w.runTask(controlplane.TaskAbandonedVMMReaper); ok {
			w.stats.Reaped += p.Reaped
		}
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
	w.forgetMigrations()
}

// forgetMigrations forgets the migrations queued (migQ) that no instance
// links and that have ended — an outcome on both sides, or neither VMM
// held — and keeps queued those still in flight.
func (w *World) forgetMigrations() {
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

// mayForget queues a saga_unwound VMM row for its sled-agent to forget.
func (w *World) mayForget(r *vmmRow) {
	if r.vmm.Runtime.State.Kind() == vmmstate.KindSagaUnwound {
		if sl := w.sledByID(r.vmm.SledID); sl != nil {
			w.forgetQ = append(w.forgetQ, forgetting{sl, r.vmm.ID})
		}
	}
}

// unlinked queues the migration an instance's runtime stopped linking,
// going from old to now, for the world to forget.
func (w *World) unlinked(old, now instancestate.Runtime) {
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

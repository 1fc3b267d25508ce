package sim

import (
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// Background tasks: the reincarnation task (§17), the reconciler (D19)
// and the abandoned-VMM reaper (§18).

// reincarnationTask is §17.3: every instance instancestate.Reincarnate
// says should be restarted gets a start saga with reason auto_restart, up
// to 16 per activation.
func (w *World) reincarnationTask() {
	started := 0
	for _, in := range w.instances {
		if started == 16 {
			break
		}
		if !in.mayReincarnate {
			continue // its last check says no restart is due or coming
		}
		r, err := instancestate.Reincarnate(w.snapshot(in), w.now)
		if err != nil {
			w.unexpected("Reincarnate", in.name, err)
			continue
		}
		if r.Should && in.starts == 0 {
			started++
			w.stats.Reincarnations++
			w.startStart(in, failure.StartReasonAutoRestart)
		}
	}
}

// reconcile follows instancestate.Next for one instance (D19).
func (w *World) reconcile() {
	if len(w.instances) == 0 {
		return
	}
	in := w.instances[w.intn(len(w.instances))]
	s := w.snapshot(in)
	n, err := instancestate.Next(s, w.now)
	if err != nil {
		w.unexpected("Next", in.name, err)
		return
	}
	w.stats.Next[n.Action]++
	w.tracef("reconcile %s: %v", in.name, n.Action)
	switch n.Action {
	case instancestate.NextStart:
		if in.starts == 0 {
			w.startStart(in, failure.StartReasonAutoStart)
		}
	case instancestate.NextReincarnate:
		if in.starts == 0 {
			w.stats.Reincarnations++
			w.startStart(in, failure.StartReasonAutoRestart)
		}
	case instancestate.NextRunUpdate:
		if in.updates == 0 {
			w.startUpdate(in)
		}
	case instancestate.NextStop:
		d, err := instancestate.Decide(s, instancestate.RequestStop, w.now)
		if err != nil {
			w.unexpected("Decide(stop)", in.name, err)
			return
		}
		if d.Action == instancestate.ActionSendToSled {
			w.sendToSled(s.Active, d.SledRequest)
		}
	}
}

// reap is the abandoned-VMM reaper (§18): every destroyable VMM no
// instance links is deleted and its reservation released. Sled-agents
// that answer forget the VMMs the database no longer runs, and migration
// rows that no instance links and that have an outcome are deleted.
func (w *World) reap() {
	for _, r := range w.vmmOrder {
		if !r.vmm.Runtime.State.IsDestroyable() || w.vmms[r.vmm.ID] != r {
			continue
		}
		if in := w.live(r.vmm.InstanceID); in != nil && links(in, r.vmm.ID) {
			continue
		}
		if w.deleteVMM(r.vmm.ID) {
			w.stats.Reaped++
		}
	}
	for _, sl := range w.sleds {
		if !sl.answers() {
			continue
		}
		for i := 0; i < len(sl.agent); i++ {
			a := sl.agent[i]
			r := w.vmms[a.id]
			if r == nil || r.vmm.Runtime.State.Kind() == vmmstate.KindSagaUnwound && a.flight == nil {
				sl.forget(a.id)
				i--
			}
		}
	}
	for _, m := range w.migOrder {
		if w.migs[m.rec.ID] != m {
			continue
		}
		in := w.live(m.rec.InstanceID)
		if in != nil && in.rec.Runtime.MigrationID == m.rec.ID {
			continue
		}
		if m.rec.Source.IsTerminal() && m.rec.Target.IsTerminal() ||
			w.vmms[m.rec.Source.VMM] == nil && w.vmms[m.rec.Target.VMM] == nil {
			// Only the world forgets it: Omicron deletes a migration row
			// only with its instance, and a sled-agent keeps naming its
			// last migration in every report, which a deleted row would
			// refuse (§8.2: gone).
			delete(w.migs, m.rec.ID)
		}
	}
	w.compact()
}

// compact drops deleted rows from the ordered lists.
func (w *World) compact() {
	vs := w.vmmOrder[:0]
	for _, r := range w.vmmOrder {
		if w.vmms[r.vmm.ID] == r {
			vs = append(vs, r)
		}
	}
	clear(w.vmmOrder[len(vs):])
	w.vmmOrder = vs
	ms := w.migOrder[:0]
	for _, m := range w.migOrder {
		if w.migs[m.rec.ID] == m {
			ms = append(ms, m)
		}
	}
	clear(w.migOrder[len(ms):])
	w.migOrder = ms
}

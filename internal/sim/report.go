package sim

import (
	"errors"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// applyReport is Nexus receiving a sled-agent's report about VMM id
// (§12 process_vmm_update): pushed, returned by a call, or read by the
// watcher. A VMM its instance links goes through instancestate.ApplyReport;
// one it no longer links (a migration source after the hand-over, a
// target after a failed migration, an unwound VMM) has only its own row
// and its migration's row written with the same guards (§8.2), since the
// database updates a VMM row whoever links it. A terminal change asks for
// an update saga (§12 step 2).
func (w *World) applyReport(id vmmstate.ID, rep instancestate.Report) {
	w.stats.ReportsDelivered++
	row := w.vmms[id]
	if row == nil {
		w.stats.ReportsGone++ // the row was deleted: the sled-agent gets a 404
		return
	}
	in := w.live(row.vmm.InstanceID)
	if in != nil && links(in, id) {
		s := w.snapshot(in)
		out, res, err := instancestate.ApplyReport(s, id, rep)
		if err != nil {
			w.refused("ApplyReport", row.name, err)
			return
		}
		if out.HasActive() {
			w.storeVMM(out.Active)
		}
		if out.HasTarget() {
			w.storeVMM(out.Target)
		}
		if out.HasMigration() {
			w.storeMigration(out.Migration)
		}
		// A side naming a migration the instance no longer links is still
		// that migration's row to the database (§8.2); ApplyReport leaves
		// it alone, so it is written here with the same guards.
		other, _ := w.applySides(id, row.name, rep, s.Instance.Runtime.MigrationID)
		w.countOutcome(res.VMMOutcome, res.MigrationInUpdated || res.MigrationOutUpdated || other)
		if res.UpdateSagaNeeded {
			w.startUpdate(in)
		}
		return
	}

	// §8.2 for a VMM no instance links: the guarded writes, nothing else.
	if err := migration.CheckInOut(rep.MigrationIn, rep.MigrationOut); err != nil {
		w.refused("CheckInOut", row.name, err)
		return
	}
	rt, o, err := row.vmm.Runtime.Observe(rep.VMM.Runtime())
	if err != nil {
		w.refused("Observe", row.name, err)
		return
	}
	row.vmm.Runtime = rt
	terminal := o == vmmstate.Applied && rt.State.IsTerminal()
	sides, sidesTerminal := w.applySides(id, row.name, rep, migration.ID{})
	terminal = terminal || sidesTerminal
	w.countOutcome(o, sides)
	if terminal && in != nil {
		w.startUpdate(in)
	}
}

// applySides writes the migration sides of a report from VMM id to their
// migration rows (§8.2 steps 3–4), except the migration skip. It reports
// whether a side was written, and whether a written side is terminal.
func (w *World) applySides(id vmmstate.ID, name string, rep instancestate.Report, skip migration.ID) (written, terminal bool) {
	for _, side := range [...]struct {
		rep  *migration.Report
		role migration.Role
	}{{rep.MigrationOut, migration.Source}, {rep.MigrationIn, migration.Target}} {
		if side.rep == nil || side.rep.MigrationID == skip {
			continue
		}
		m := w.migs[side.rep.MigrationID]
		if m == nil {
			continue
		}
		rec, o, err := m.rec.Apply(side.role, id, *side.rep)
		if err != nil {
			w.refused("migration.Apply", name, err)
			continue
		}
		m.rec = rec
		if o == vmmstate.Applied {
			written = true
			terminal = terminal || side.rep.State.IsTerminal()
		}
	}
	return written, terminal
}

// countOutcome counts a delivered report by what it did.
func (w *World) countOutcome(o vmmstate.Outcome, sides bool) {
	switch {
	case o == vmmstate.Applied || sides:
		w.stats.ReportsApplied++
	case o == vmmstate.Unchanged:
		w.stats.ReportsUnchanged++
	default:
		w.stats.ReportsStale++
	}
}

// refused counts a report vmlife refused. Refusals of an edge or of a
// terminal state are expected (D7: a late report about a VMM the control
// plane has since marked saga_unwound or failed); any other error means
// the database holds something vmlife calls invalid, which is a violation.
func (w *World) refused(op, name string, err error) {
	w.stats.ReportsRefused++
	switch {
	case errors.Is(err, vmmstate.ErrIllegalTransition), errors.Is(err, migration.ErrIllegalTransition):
		w.tracef("refused %s %s: %v", op, name, err)
	default:
		w.unexpected(op, name, err)
	}
}

// markFailed is §11's mark_vmm_failed: the control plane fails a VMM it
// has proof is dead, with a generation-guarded write, and runs an update
// saga whether or not the write changed the row. Failing a VMM already
// failed keeps the first cause (D6); failing a destroyed one is refused,
// and changes nothing.
func (w *World) markFailed(id vmmstate.ID, reason failure.Reason) {
	row := w.vmms[id]
	if row == nil {
		return
	}
	rt, o, err := row.vmm.Runtime.MarkFailed(reason, w.now)
	switch {
	case errors.Is(err, vmmstate.ErrTerminal):
		w.tracef("mark %s failed(%v): already %v", row.name, reason, row.vmm.Runtime.State)
	case err != nil:
		w.unexpected("MarkFailed", row.name, err)
		return
	case o == vmmstate.Applied:
		row.vmm.Runtime = rt
		w.stats.MarkedFailed[reason]++
		w.tracef("mark %s failed(%v)", row.name, reason)
	}
	if in := w.live(row.vmm.InstanceID); in != nil {
		w.startUpdate(in)
	}
}

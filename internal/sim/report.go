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
// watcher. As in the database, the report is written to the rows it names
// whoever links them — the VMM's own row and the migration rows of its
// sides — with the guards of §8.2 (instancestate.ApplyReportToRows), all
// or nothing. A terminal change asks for an update saga (§12 step 2).
func (w *World) applyReport(id vmmstate.ID, rep instancestate.Report) {
	w.stats.ReportsDelivered++
	row := w.vmms[id]
	if row == nil {
		w.stats.ReportsGone++ // the row was deleted: the sled-agent gets a 404
		return
	}
	rows := instancestate.Rows{VMM: &row.vmm.Runtime,
		MigrationOut: w.sideRow(rep.MigrationOut), MigrationIn: w.sideRow(rep.MigrationIn)}
	res, err := instancestate.ApplyReportToRows(id, rows, rep)
	if err != nil {
		w.refused("ApplyReportToRows", row.name, err)
		return
	}
	w.countOutcome(res.VMMOutcome, res.MigrationInUpdated || res.MigrationOutUpdated)
	if inst := w.live(row.vmm.InstanceID); inst != nil && res.UpdateSagaNeeded {
		w.startUpdate(inst)
	}
}

// sideRow is the migration row a report's side names, or nil when the
// report has no such side or the row is gone.
func (w *World) sideRow(side *migration.Report) *migration.Record {
	if side == nil {
		return nil
	}
	if m := w.migs[side.MigrationID]; m != nil {
		return &m.rec
	}
	return nil
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

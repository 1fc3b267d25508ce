package sim

import (
	"errors"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// applyReport is Nexus receiving a sled-agent's report about VMM id
// (§12 process_vmm_update): pushed, returned by a call, or read by the
// watcher. It is written by sagas.RecordReport, the one home of this
// write (D31) that the sagas and package controlplane call too: the VMM's
// row and the migration rows of its sides, with the guards of §8.2, in one
// transaction; a side naming a migration deleted with its instance is
// dropped and the VMM's own state kept; a report the records have moved
// past (D7) writes nothing. A terminal change asks for an update saga
// (§12 step 2).
func (w *World) applyReport(id vmmstate.ID, rep instancestate.Report) {
	w.stats.ReportsDelivered++
	row := w.vmms[id]
	if row == nil {
		w.stats.ReportsGone++ // the row was deleted: the sled-agent gets a 404
		return
	}
	res, err := sagas.RecordReport(w.ctx, w.st, id, rep)
	if err != nil {
		w.refused("sled_report", row.name, err)
		return
	}
	w.countOutcome(res.VMM, res.MigrationIn.Applied || res.MigrationOut.Applied)
	w.reported(row, &rep, res)
}

// reported reads back what a recorded report wrote — the VMM's row and
// the migrations of rep's sides (all the VMM's, when rep is nil) — and
// runs the update saga it asks for.
func (w *World) reported(row *vmmRow, rep *instancestate.Report, res datastore.SledReportResult) {
	w.reloadVMM(row)
	for _, m := range w.migsOf(row.vmm.ID, rep) {
		w.reloadMigration(m)
	}
	if inst := w.live(row.vmm.InstanceID); inst != nil && res.UpdateSagaNeeded {
		w.startUpdate(inst)
	}
}

// migsOf returns the migration rows rep's sides name; with rep nil, the
// rows of the migration VMM id's instance links.
func (w *World) migsOf(id vmmstate.ID, rep *instancestate.Report) []*migRow {
	var out []*migRow
	if rep == nil {
		r := w.vmms[id]
		if in := w.live(r.vmm.InstanceID); in != nil {
			if m := w.migs[in.rec.Runtime.MigrationID]; m != nil {
				out = append(out, m)
			}
		}
		return out
	}
	for _, side := range [...]*migration.Report{rep.MigrationOut, rep.MigrationIn} {
		if side == nil {
			continue
		}
		if m := w.migs[side.MigrationID]; m != nil {
			out = append(out, m)
		}
	}
	return out
}

// countOutcome counts a delivered report by what it did to the VMM's row,
// and whether it wrote a migration side.
func (w *World) countOutcome(vmm datastore.Result, sides bool) {
	switch {
	case vmm.Applied || sides:
		w.stats.ReportsApplied++
	case vmm.Reason == datastore.ReasonUnchanged:
		w.stats.ReportsUnchanged++
	case vmm.Reason == datastore.ReasonDeleted:
		w.stats.ReportsGone++
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
	case errors.Is(err, datastore.ErrIllegalTransition), errors.Is(err, datastore.ErrTerminal):
		w.tracef("refused %s %s: %v", op, name, err)
	default:
		w.unexpected(op, name, err)
	}
}

// markFailed is §11's mark_vmm_failed: the control plane fails a VMM it
// has proof is dead (sagas.RecordDeath, the one home of this write, D31)
// and runs an update saga whether or not the write changed the row.
// Failing a VMM already failed keeps the first cause (D6); failing a
// destroyed one changes nothing.
func (w *World) markFailed(id vmmstate.ID, reason failure.Reason) {
	row := w.vmms[id]
	if row == nil {
		return
	}
	res, err := sagas.RecordDeath(w.ctx, w.st, id, reason, w.now)
	if err != nil {
		w.unexpected("vmm_mark_failed", row.name, err)
		return
	}
	w.died(row, reason, res)
}

// died follows a recorded death: the row read back, and an update saga
// for its instance whether or not the write changed the row.
func (w *World) died(row *vmmRow, reason failure.Reason, res datastore.Result) {
	switch {
	case res.Applied:
		w.reloadVMM(row)
		w.stats.MarkedFailed[reason]++
		w.tracef("mark %s failed(%v)", row.name, reason)
	default:
		w.tracef("mark %s failed(%v): already %v", row.name, reason, row.vmm.Runtime.State)
	}
	if in := w.live(row.vmm.InstanceID); in != nil {
		w.startUpdate(in)
	}
}

package sim

import (
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// applyReport is Nexus receiving a sled-agent's report about VMM id
// (§12 process_vmm_update), pushed over the network: the control plane's
// report reaction (controlplane.Report) records it — the VMM's row and
// the migration rows of its sides, with the guards of §8.2, in one
// transaction; a side naming a migration deleted with its instance
// dropped and the VMM's own state kept; a report the records have moved
// past (D7) written nowhere — and begins the update saga it asks for
// (§12 step 2). The world reads back what it wrote and counts what it
// did.
func (w *World) applyReport(id vmmstate.ID, rep instancestate.Report) {
	w.stats.ReportsDelivered++
	row := w.vmms[id]
	if row == nil {
		w.stats.ReportsGone++ // the row was deleted: the sled-agent gets a 404
		return
	}
	res, err := w.cp.Report(w.ctx, id, rep)
	if err != nil {
		// Judged as the control plane logged it (cpErrors): a refusal of
		// an edge or of a terminal state is expected (D7), anything else
		// is a violation.
		w.stats.ReportsRefused++
		w.tracef("refused report %s: %v", row.name, err)
		return
	}
	w.countOutcome(res.VMM, res.MigrationIn.Applied || res.MigrationOut.Applied)
	w.reloadVMM(row)
	for _, m := range w.migsOf(&rep) {
		w.reloadMigration(m)
	}
}

// migsOf returns the migration rows rep's sides name.
func (w *World) migsOf(rep *instancestate.Report) []*migRow {
	var out []*migRow
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

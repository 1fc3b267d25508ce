package instancestate

import (
	"encoding/json"

	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Report is what a sled-agent sends about one VMM (§3.2's SledVmmState): the
// VMM's runtime and, when it is a side of a migration, that side. A nil
// migration side means "no update for this side", not "no migration".
//
// JSON: `{"vmm_state":{"state","gen","time_updated"},"migration_in":…|null,"migration_out":…|null}`.
type Report struct {
	VMM          vmmstate.SledAgentRuntime `json:"vmm_state"`
	MigrationIn  *migration.Report         `json:"migration_in"`
	MigrationOut *migration.Report         `json:"migration_out"`
}

// MarshalJSON writes the sled-agent form, with null for an absent side.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(plain(r))
}

// ReportResult says what applying a report changed (§8.2, §12).
type ReportResult struct {
	VMMOutcome          vmmstate.Outcome // what Observe did with the VMM's runtime
	VMMUpdated          bool             // the VMM's runtime was written
	MigrationInUpdated  bool             // the migration's target side was written
	MigrationOutUpdated bool             // the migration's source side was written
	// The outcome for each migration side the report carried (zero when
	// it carried none): Applied, Unchanged or Stale as for the VMM, and
	// zero with the NotLinked flag when the side names a migration this
	// instance does not link, which is not written here (§8.2 writes it to
	// its own row, if that row still matters).
	MigrationInOutcome, MigrationOutOutcome     vmmstate.Outcome
	MigrationInNotLinked, MigrationOutNotLinked bool
	// UpdateSagaNeeded is §12 step 2: something terminal was written — the
	// VMM reached destroyed or failed, or a migration side completed or
	// failed — so the instance record may need the update plan. Non-terminal
	// changes need none: the effective state is derived live.
	UpdateSagaNeeded bool
}

// ApplyReport applies a sled-agent's report about VMM vmm to the snapshot
// (§8.2, §12, D5–D7), all or nothing:
//
//  1. a report naming the same migration in and out is refused
//     (migration.ErrSameMigration);
//  2. vmm must be the snapshot's active or target VMM (a *NotLinkedError
//     matching ErrUnknownVMM, not ErrInvalidRecord: the report is not
//     wrong, it belongs to another record);
//  3. the VMM's runtime is observed (vmmstate.Runtime.Observe): stale and
//     duplicate reports are no-ops, illegal edges are refused;
//  4. migration_out is written to the source side and migration_in to the
//     target side of the snapshot's migration, each with its own guards
//     (migration.Record.Apply). A side naming a migration this snapshot does
//     not hold (one already unlinked) is not written and is not an error:
//     the database would find that row, but it no longer matters here.
//
// If any step refuses, the snapshot is returned unchanged with the error —
// nothing of the report is applied, as in the database's single
// transaction. The result is then zero.
func ApplyReport(s Snapshot, vmm vmmstate.ID, r Report) (Snapshot, ReportResult, error) {
	if err := s.validate(); err != nil {
		return s, ReportResult{}, err
	}
	if err := migration.CheckInOut(r.MigrationIn, r.MigrationOut); err != nil {
		return s, ReportResult{}, err
	}
	out := s
	var rec *vmmstate.VMM
	switch {
	case vmm.IsZero():
	case s.hasActive() && s.Active.ID == vmm:
		rec = &out.Active
	case s.hasTarget() && s.Target.ID == vmm:
		rec = &out.Target
	}
	if rec == nil {
		return s, ReportResult{}, &NotLinkedError{VMM: vmm, Active: s.Active.ID, Target: s.Target.ID}
	}

	rows := Rows{VMM: &rec.Runtime}
	var inNotLinked, outNotLinked bool
	if r.MigrationOut != nil {
		if out.hasMigration() && r.MigrationOut.MigrationID == out.Migration.ID {
			rows.MigrationOut = &out.Migration
		} else {
			outNotLinked = true
		}
	}
	if r.MigrationIn != nil {
		if out.hasMigration() && r.MigrationIn.MigrationID == out.Migration.ID {
			rows.MigrationIn = &out.Migration
		} else {
			inNotLinked = true
		}
	}
	// out is a copy of s: the rows written are out's, and s is returned
	// untouched on error.
	res, err := ApplyReportToRows(vmm, rows, r)
	if err != nil {
		return s, ReportResult{}, err
	}
	res.MigrationInNotLinked, res.MigrationOutNotLinked = inNotLinked, outNotLinked
	// When the active VMM is also the linked target (after a migration was
	// folded in, §13.3), both copies of its record move together.
	if s.hasActive() && s.hasTarget() && s.Active.ID == s.Target.ID {
		out.Active.Runtime, out.Target.Runtime = rec.Runtime, rec.Runtime
	}
	return out, res, nil
}

// Rows are the records a sled-agent report writes, as the caller holds
// them (§8.2): the reporting VMM's runtime and the migrations its sides
// name. A nil field is a row the caller does not hold — a deleted VMM, a
// migration it did not find or does not care about — which is not written
// and whose outcome in the result is zero.
type Rows struct {
	VMM          *vmmstate.Runtime
	MigrationOut *migration.Record // the row migration_out names
	MigrationIn  *migration.Record // the row migration_in names
}

// ApplyReportToRows is §8.2 as the database performs it: a report from VMM
// vmm written to the rows themselves, whichever instance links them or
// none. It is the one composition of the row rules — the VMM's runtime
// observed with its generation guard (vmmstate.Runtime.Observe, D5–D7),
// each migration side written with its own guards and the side's-VMM
// check (migration.Record.Apply) — that ApplyReport, the datastore and
// the simulator share.
//
// The rows are written through their pointers, all or nothing: a report
// naming the same migration in and out (migration.ErrSameMigration), an
// illegal edge, or a side whose row has another id or another VMM on that
// side is an error, no row is written and the result is zero. Otherwise
// each held row the report names is brought up to date (unchanged where
// its outcome is Unchanged or Stale), and UpdateSagaNeeded says whether
// something terminal was written (§12 step 2). The NotLinked flags of the
// result are left false: whether a row matters to an instance is the
// caller's question.
func ApplyReportToRows(vmm vmmstate.ID, rows Rows, r Report) (ReportResult, error) {
	if err := migration.CheckInOut(r.MigrationIn, r.MigrationOut); err != nil {
		return ReportResult{}, err
	}
	// Every rule is applied to copies first; the rows are written only
	// once all of them passed.
	var res ReportResult
	var rt vmmstate.Runtime
	if rows.VMM != nil {
		reported := r.VMM.Runtime()
		next, o, err := rows.VMM.Observe(reported)
		if err != nil {
			return ReportResult{}, err
		}
		rt, res.VMMOutcome = next, o
		res.VMMUpdated = o == vmmstate.Applied
		res.UpdateSagaNeeded = res.VMMUpdated && reported.State.IsTerminal()
	}
	if r.MigrationOut != nil || r.MigrationIn != nil {
		if err := applySides(vmm, rows, r, &res); err != nil {
			return ReportResult{}, err
		}
	}
	if res.VMMUpdated {
		*rows.VMM = rt
	}
	return res, nil
}

// applySides is ApplyReportToRows for the migration sides: both are
// applied to copies, and written only if both passed. It is apart so that
// the common report, of the VMM alone, does not pay for the copies.
func applySides(vmm vmmstate.ID, rows Rows, r Report, res *ReportResult) error {
	var out, in migration.Record
	if r.MigrationOut != nil && rows.MigrationOut != nil {
		m, o, err := rows.MigrationOut.Apply(migration.Source, vmm, *r.MigrationOut)
		if err != nil {
			return err
		}
		out, res.MigrationOutOutcome = m, o
		res.MigrationOutUpdated = o == vmmstate.Applied
		res.UpdateSagaNeeded = res.UpdateSagaNeeded || res.MigrationOutUpdated && r.MigrationOut.State.IsTerminal()
	}
	if r.MigrationIn != nil && rows.MigrationIn != nil {
		m, o, err := rows.MigrationIn.Apply(migration.Target, vmm, *r.MigrationIn)
		if err != nil {
			return err
		}
		in, res.MigrationInOutcome = m, o
		res.MigrationInUpdated = o == vmmstate.Applied
		res.UpdateSagaNeeded = res.UpdateSagaNeeded || res.MigrationInUpdated && r.MigrationIn.State.IsTerminal()
	}
	if res.MigrationOutUpdated {
		*rows.MigrationOut = out
	}
	if res.MigrationInUpdated {
		*rows.MigrationIn = in
	}
	return nil
}

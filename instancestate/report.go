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
	case s.HasActive() && s.Active.ID == vmm:
		rec = &out.Active
	case s.HasTarget() && s.Target.ID == vmm:
		rec = &out.Target
	}
	if rec == nil {
		return s, ReportResult{}, &NotLinkedError{VMM: vmm, Active: s.Active.ID, Target: s.Target.ID}
	}

	var res ReportResult
	reported := r.VMM.Runtime()
	rt, outcome, err := rec.Runtime.Observe(reported)
	if err != nil {
		return s, ReportResult{}, err
	}
	rec.Runtime = rt
	res.VMMOutcome = outcome
	res.VMMUpdated = outcome == vmmstate.Applied
	// When the active VMM is also the linked target (after a migration was
	// folded in, §13.3), both copies of its record move together.
	if s.HasActive() && s.HasTarget() && s.Active.ID == s.Target.ID {
		out.Active.Runtime, out.Target.Runtime = rt, rt
	}

	for _, side := range []struct {
		rep       *migration.Report
		role      migration.Role
		updated   *bool
		outcome   *vmmstate.Outcome
		notLinked *bool
	}{
		{r.MigrationOut, migration.Source, &res.MigrationOutUpdated, &res.MigrationOutOutcome, &res.MigrationOutNotLinked},
		{r.MigrationIn, migration.Target, &res.MigrationInUpdated, &res.MigrationInOutcome, &res.MigrationInNotLinked},
	} {
		if side.rep == nil {
			continue
		}
		if !out.HasMigration() || side.rep.MigrationID != out.Migration.ID {
			*side.notLinked = true
			continue
		}
		m, o, err := out.Migration.Apply(side.role, vmm, *side.rep)
		if err != nil {
			return s, ReportResult{}, err
		}
		out.Migration = m
		*side.outcome = o
		*side.updated = o == vmmstate.Applied
		if *side.updated && side.rep.State.IsTerminal() {
			res.UpdateSagaNeeded = true
		}
	}
	if res.VMMUpdated && reported.State.IsTerminal() {
		res.UpdateSagaNeeded = true
	}
	return out, res, nil
}

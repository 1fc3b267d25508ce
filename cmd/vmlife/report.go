package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

func init() {
	commands["report"] = command{
		run:   jsonCommand("report", report),
		usage: "report [FILE]\tapply a sled-agent report (\"vmm_id\", \"report\") to a snapshot document",
	}
}

// reportJSON is the output of report, in docs/cli.md's key order.
type reportJSON struct {
	VMMUpdated          bool                   `json:"vmm_updated"`
	MigrationInUpdated  bool                   `json:"migration_in_updated"`
	MigrationOutUpdated bool                   `json:"migration_out_updated"`
	UpdateSagaNeeded    bool                   `json:"update_saga_needed"`
	Snapshot            instancestate.Document `json:"snapshot"`
	// What happened to each part of the report, beyond docs/cli.md's flags:
	// applied, unchanged (a terminal state absorbed it, D6) or stale (D5);
	// for a migration side also not_linked (it names a migration the
	// instance does not link: not written here), or null when absent.
	VMMOutcome          string  `json:"vmm_outcome"`
	MigrationInOutcome  *string `json:"migration_in_outcome"`
	MigrationOutOutcome *string `json:"migration_out_outcome"`
}

// sideOutcome names what happened to one migration side of a report.
func sideOutcome(present, notLinked bool, o vmmstate.Outcome) *string {
	var s string
	switch {
	case !present:
		return nil
	case notLinked:
		s = "not_linked"
	default:
		s = o.String()
	}
	return &s
}

// report decodes a report document (instancestate.ReportDocument: a
// snapshot document with a sled-agent report about one of its VMMs),
// applies it (instancestate.ApplyReport: §8.2, §12, D5–D7) and returns what
// changed and the snapshot after it. A report the library refuses is bad
// input: nothing of it is applied.
func report(input []byte) (any, error) {
	var d instancestate.ReportDocument
	if err := d.UnmarshalJSON(input); err != nil {
		return nil, ruleInput(err, true)
	}
	after, res, err := instancestate.ApplyReport(d.Snapshot, d.VMM, d.Report)
	if err != nil {
		return nil, refusal(d.Snapshot, d.VMM, err)
	}
	return reportJSON{
		VMMUpdated:          res.VMMUpdated,
		MigrationInUpdated:  res.MigrationInUpdated,
		MigrationOutUpdated: res.MigrationOutUpdated,
		UpdateSagaNeeded:    res.UpdateSagaNeeded,
		Snapshot:            instancestate.Document{Now: d.Now, Snapshot: after},
		VMMOutcome:          res.VMMOutcome.String(),
		MigrationInOutcome:  sideOutcome(d.Report.MigrationIn != nil, res.MigrationInNotLinked, res.MigrationInOutcome),
		MigrationOutOutcome: sideOutcome(d.Report.MigrationOut != nil, res.MigrationOutNotLinked, res.MigrationOutOutcome),
	}, nil
}

// refusal turns ApplyReport's refusal into an *inputError naming the field
// of the input that was refused and what it would have accepted.
func refusal(s instancestate.Snapshot, vmm vmmstate.ID, err error) error {
	var (
		te *vmmstate.TransitionError
		me *migration.Error
	)
	switch {
	case errors.Is(err, migration.ErrSameMigration):
		// §8.2 step 1: a VMM cannot migrate to itself.
		return badInput("report.migration_in.migration_id", "names the same migration as migration_out",
			"a migration other than migration_out's")
	case errors.Is(err, instancestate.ErrUnknownVMM):
		var linked []string
		for _, v := range []vmmstate.VMM{s.Active, s.Target} {
			if !v.ID.IsZero() {
				linked = append(linked, v.ID.String())
			}
		}
		if len(linked) == 0 {
			linked = []string{"none: the instance links no VMM"}
		}
		return badInput("vmm_id", vmm.String()+" is neither the instance's active nor its target VMM", strings.Join(linked, ", "))
	case errors.As(err, &te):
		// D7: a report moves a VMM only along an edge a sled-agent may take.
		from := te.From.State
		problem := fmt.Sprintf("%v at generation %v cannot follow %v (%v)", te.To.SledAgent(), te.Report.Generation, from, te.Err)
		return badInput("report.vmm_state.state", problem, reportableAfter(from.Kind()))
	case errors.As(err, &me) && errors.Is(err, migration.ErrWrongVMM):
		// §8.2 steps 3–4: only a side's own VMM reports it.
		return badInput("report."+me.Role.ReportKey(),
			fmt.Sprintf("VMM %v is not the %v of migration %v", vmm, me.Role, s.Migration.ID),
			"a report from VMM "+me.Want)
	case errors.As(err, &me):
		return badInput("report."+me.Field, me.Got+": "+me.Err.Error(), me.Want)
	}
	return err
}

// reportableAfter lists what a sled-agent may report for a VMM in kind k
// (D7): the same state again at a newer generation, or a reportable
// successor.
func reportableAfter(k vmmstate.Kind) string {
	var out []string
	if k.IsReportable() {
		out = append(out, sledAgentName(k))
	}
	if k.IsTerminal() {
		return strings.Join(out, ", ") + " (terminal: nothing else)"
	}
	for _, to := range vmmstate.ReportableSuccessors(k) {
		out = append(out, sledAgentName(to))
	}
	return strings.Join(out, ", ")
}

// sledAgentName is the sled-agent wire string of a reportable kind (D8).
func sledAgentName(k vmmstate.Kind) string {
	if k == vmmstate.KindFailed {
		return vmmstate.Failed(failure.FromSledAgent).SledAgent().String()
	}
	return vmmstate.State(k).SledAgent().String()
}

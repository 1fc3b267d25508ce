package pgstore

import (
	"context"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// A report about the VMM alone — nearly every report a sled-agent sends —
// is one statement, one round trip: the generation guard and the edge
// guard of §8.2 (D5–D7) in its WHERE clause, and the row as it was before
// in the same statement, so that "stale", "deleted", "not found" and a
// refused edge are told apart without a second read (D25).
//
// The edge guard is not written by hand: applyFrom lists, for each state a
// sled-agent can report, the stored kinds from which vmmstate's
// Runtime.Observe applies it, found by asking Observe itself.
var reportVMM = oneStatement("vmm", vmmColumns,
	"state = $2, failure_reason = $3, state_generation = $4, time_state_updated = $5",
	"time_deleted IS NULL AND state_generation < $4 AND state::TEXT = ANY($6)", "1")

// applyFrom maps a reported kind to the stored kinds Observe applies it
// from, as the state column's values.
var applyFrom = func() map[vmmstate.Kind][]string {
	out := make(map[vmmstate.Kind][]string)
	for _, sa := range vmmstate.AllSledAgentStates() {
		to := vmmstate.SledAgentRuntime{State: sa, Generation: generation.Of(2)}.Runtime()
		var from []string
		for _, k := range vmmstate.AllKinds() {
			for _, st := range vmmstate.AllStates() {
				if st.Kind() != k {
					continue
				}
				_, o, err := vmmstate.Runtime{State: st, Generation: generation.Of(1)}.Observe(to)
				if err == nil && o == vmmstate.Applied {
					from = append(from, k.String())
				}
				break // every state of a kind answers alike (TestApplyFromIsByKind)
			}
		}
		out[to.State.Kind()] = from
	}
	return out
}()

// reportVMMOnly applies a report without migration sides in one statement.
func (s *Store) reportVMMOnly(ctx context.Context, vmm vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	reported := r.VMM.Runtime()
	row := reported.Row()
	return writeOnce(s, ctx, "sled_report", &vmmScan{}, reportVMM,
		[]any{uuidOf(vmm.UUID()), row.State.String(), textOf(row.FailureReason.V, row.FailureReason.Valid),
			row.StateGeneration.Int64(), timeOf(row.TimeStateUpdated), applyFrom[row.State]},
		func(int64) (datastore.SledReportResult, error) {
			// Written: the row is the report, whatever it was before.
			return datastore.SledReportResult{VMM: datastore.Result{Applied: true}, UpdateSagaNeeded: reported.State.IsTerminal()}, nil
		},
		func(t *datastore.Tables) (datastore.SledReportResult, error) { return t.SledReport(ctx, vmm, r) })
}

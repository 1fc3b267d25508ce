package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

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
const reportVMM = `WITH old AS (
		SELECT ` + vmmColumns + ` FROM vmm WHERE id = $1
	), upd AS (
		UPDATE vmm SET state = $2, failure_reason = $3, state_generation = $4, time_state_updated = $5
		WHERE id = $1 AND time_deleted IS NULL AND state_generation < $4 AND state::TEXT = ANY($6)
		RETURNING 1
	)
	SELECT old.*, (SELECT count(*) FROM upd) FROM old`

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

// maxReportAttempts bounds the re-reads of a report whose statement raced
// another writer between its snapshot and its update.
const maxReportAttempts = 10

// reportVMMOnly applies a report without migration sides in one statement.
func (s *Store) reportVMMOnly(ctx context.Context, vmm vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	reported := r.VMM.Runtime()
	row := reported.Row()
	for attempt := 1; ; attempt++ {
		var v vmmScan
		var count int64
		err := s.pool.QueryRow(ctx, reportVMM, uuidOf(vmm.UUID()), row.State.String(),
			textOf(row.FailureReason.V, row.FailureReason.Valid), row.StateGeneration.Int64(),
			timeOf(row.TimeStateUpdated), applyFrom[row.State]).Scan(append(v.dest(), &count)...)
		found := err == nil
		if err != nil && err != pgx.ErrNoRows {
			return datastore.SledReportResult{}, err
		}
		if count == 1 {
			// Written: the row is the report, whatever it was before.
			return datastore.SledReportResult{VMM: datastore.Result{Applied: true}, UpdateSagaNeeded: reported.State.IsTerminal()}, nil
		}
		// Not written: the row as it was says why, by the in-memory
		// store's own rule.
		m := datastore.NewMemory()
		if found {
			old, err := v.row()
			if err == nil {
				err = m.Load(ctx, datastore.Tables{VMMs: []datastore.VMMRow{old}})
			}
			if err != nil {
				return datastore.SledReportResult{}, fmt.Errorf("pgstore: a stored row breaks vmlife's rules: %w", err)
			}
		}
		res, err := m.SledReport(ctx, vmm, r)
		if err != nil || !res.VMM.Applied {
			return res, err
		}
		// The row as it was would have taken the report, the row as it is
		// did not: another writer came between. Read again.
		if attempt == maxReportAttempts {
			return datastore.SledReportResult{}, fmt.Errorf("pgstore: sled_report: gave up after %d attempts racing other writers", attempt)
		}
	}
}

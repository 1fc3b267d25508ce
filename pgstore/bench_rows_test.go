package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// BenchmarkRowOperations is the operations that read their rows, decide,
// and write what changed in a transaction of two round trips (one for a
// read): an instance's snapshot read, its intent set (alternately running
// and stopped, so that every call writes), and a sled report that carries
// a migration side. Between calls, with the timer stopped, it sends
// BenchmarkSledReport's raw guarded UPDATE and reports the ratio as
// x-raw_update, as BenchmarkSagaAppend does, so that runs on a loaded
// machine compare:
//
//	go test -run '^$' -bench RowOperations -benchtime 2000x ./pgstore/
func BenchmarkRowOperations(b *testing.B) {
	st := fresh(b)
	ctx := context.Background()
	raw := benchVMMs(b, st, 1)[0]
	timed := func(b *testing.B, op func() error) {
		var rawTime time.Duration
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			raw.gen++
			start := time.Now()
			tag, err := st.Pool().Exec(ctx, `UPDATE vmm SET state = 'running', state_generation = $2, time_state_updated = $3
				WHERE id = $1 AND time_deleted IS NULL AND state_generation < $2`, raw.id.UUID(), int64(raw.gen), t0)
			rawTime += time.Since(start)
			if err != nil || tag.RowsAffected() != 1 {
				b.Fatalf("raw update at %d: %v, %d rows", raw.gen, err, tag.RowsAffected())
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed())/float64(rawTime), "x-raw_update")
	}

	id, src := insertRunning(b, st, vmmstate.SledIDFromUUID(uuid.New()))
	b.Run("fetch_all", func(b *testing.B) {
		timed(b, func() error { _, err := st.InstanceFetchAll(ctx, id); return err })
	})
	b.Run("set_intended_state", func(b *testing.B) {
		intents := [2]instancestate.IntendedState{instancestate.IntendStopped, instancestate.IntendRunning}
		n := 0
		timed(b, func() error {
			n++
			_, err := st.InstanceSetIntendedState(ctx, id, intents[n%2])
			return err
		})
	})

	dst := vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()), InstanceID: id, SledID: vmmstate.SledIDFromUUID(uuid.New()),
		Runtime: vmmstate.Runtime{State: vmmstate.Starting, Generation: generation.Of(1), TimeUpdated: t0}}
	if _, err := st.VMMInsert(ctx, dst); err != nil {
		b.Fatal(err)
	}
	m, err := st.MigrationInsert(ctx, migration.New(migration.IDFromUUID(uuid.New()), id, src.ID, dst.ID, t0))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sled_report_migrating", func(b *testing.B) {
		g := uint32(2)
		timed(b, func() error {
			g++
			_, err := st.SledReport(ctx, src.ID, instancestate.Report{
				VMM:          vmmstate.SledAgentRuntime{State: vmmstate.SledAgentMigrating, Generation: generation.Of(g), TimeUpdated: t0},
				MigrationOut: &migration.Report{MigrationID: m.ID, State: migration.InProgress, Generation: generation.Of(g), TimeUpdated: t0},
			})
			return err
		})
	})
}

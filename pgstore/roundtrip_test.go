package pgstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// roundTrips counts the requests a pool sends: a statement or a batch is
// one round trip (a statement prepared on first use on a connection costs
// one more, once, and is not counted).
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// traced opens a store in a fresh schema on a pool that counts its round
// trips.
func traced(t testing.TB) (*pgstore.Store, *roundTrips) {
	t.Helper()
	_, dsn := freshDSN(t)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st, err := pgstore.New(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	return st, rt
}

// TestUpdateSagaRoundTrips: the instance-update saga (sagas.Update, run
// without a log) is four round trips to the server when it has nothing to
// do — lock, hand the lock over (§13.2), read, unlock: one statement each
// but the read — and a VMM report is one. A saga that commits a plan —
// lock, hand over, read, commit — also marks the destroyed VMM deleted,
// releases its room and reads again to see whether another update is
// needed (§13.4): seven.
func TestUpdateSagaRoundTrips(t *testing.T) {
	st, rt := traced(t)
	ctx := context.Background()
	id, v := insertRunning(t, st, vmmstate.SledIDFromUUID(uuid.New()))
	count := func(what string, max int64, f func() error) {
		t.Helper()
		// Once to prepare the statements on the connection, then counted.
		before := rt.n.Load()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if n := rt.n.Load() - before; n > max {
			t.Errorf("%s: %d round trips, want at most %d", what, n, max)
		} else {
			t.Logf("%s: %d round trips", what, n)
		}
	}
	nothing := func() error {
		_, r, err := updateSaga(ctx, st, id, t0)
		if err == nil && r.Ended != sagas.EndedNothing {
			t.Fatalf("%+v, want nothing to do", r)
		}
		return err
	}
	_ = nothing() // prepare
	count("update saga, nothing to do", 4, nothing)

	g := uint32(3)
	report := func(state vmmstate.SledAgentState) func() error {
		return func() error {
			g++
			_, err := st.SledReport(ctx, v.ID, instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: state, Generation: generation.Of(g), TimeUpdated: t0.Add(time.Duration(g) * time.Second)}})
			return err
		}
	}
	_ = report(vmmstate.SledAgentRunning)()
	count("sled report", 1, report(vmmstate.SledAgentRunning))
	if err := report(vmmstate.SledAgentStopping)(); err != nil {
		t.Fatal(err)
	}
	if err := report(vmmstate.SledAgentStopped)(); err != nil {
		t.Fatal(err)
	}
	count("sled report", 1, report(vmmstate.SledAgentDestroyed))
	commits := func() error {
		u, r, err := updateSaga(ctx, st, id, t0.Add(time.Hour))
		if err == nil && (!u.Committed || r.Outcome != sagas.Completed) {
			t.Fatalf("%+v, want a committed plan", r)
		}
		return err
	}
	count("update saga committing a plan, deleting the VMM, releasing its room, and looking again", 7, commits)
}

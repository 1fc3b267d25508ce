package pgstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/pgstore"
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

// TestUpdateSagaRoundTrips: a round of the instance-update saga is three
// round trips to the server — lock, read, and commit or unlock — whether
// it has nothing to do or commits a plan; a VMM report is one. A saga
// that commits a plan also marks the destroyed VMM deleted (one) and runs
// a second round to see that nothing is left (three): seven.
func TestUpdateSagaRoundTrips(t *testing.T) {
	st, rt := traced(t)
	ctx := context.Background()
	id, v := insertRunning(t, st, vmmstate.SledIDFromUUID(uuid.New()))
	saga := instancestate.UpdaterIDFromUUID(uuid.New())
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
		o, _, err := datastore.InstanceUpdateSaga(ctx, st, id, saga, t0)
		if err == nil && o != datastore.UpdateNothing {
			t.Fatalf("outcome %v, want nothing to do", o)
		}
		return err
	}
	_ = nothing() // prepare
	count("update saga, nothing to do", 3, nothing)

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
		o, _, err := datastore.InstanceUpdateSaga(ctx, st, id, saga, t0.Add(time.Hour))
		if err == nil && o == datastore.UpdateNothing {
			t.Fatalf("outcome %v, want a committed plan", o)
		}
		return err
	}
	count("update saga committing a plan, deleting the VMM, and looking again", 7, commits)
}

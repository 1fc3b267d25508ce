package peers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// BenchmarkDurableStart measures the start saga's six steps (choose the
// VMM's id, reserve a sled, insert the VMM, mark the instance starting,
// register it with an in-memory sled-agent, clear the start failure) on
// one PostgreSQL database, three ways, at 1 and 8 sagas at once:
//
//   - vmlife: sagas.SEC, its log in pgstore's saga tables (D26);
//   - dbos: the same six steps — the same store calls through pgstore — as
//     a DBOS Transact workflow of six steps, DBOS's checkpoints in its own
//     schema of the same database;
//   - plain: the same steps through sagas.Run, with no log at all.
//
// So only the durability differs. Each reports steps/s; vmlife's cost over
// plain is what its log costs, and vmlife against dbos is the comparison
// docs/performance.md states. Needs VMLIFE_PG_DSN:
//
//	VMLIFE_PG_DSN=$(scripts/postgres start | tail -n 1) go test -run '^$' -bench DurableStart -benchtime 400x -count 5 ./bench/peers
func BenchmarkDurableStart(b *testing.B) {
	for _, par := range []int{1, 8} {
		for _, way := range []string{"plain", "vmlife", "dbos"} {
			b.Run(fmt.Sprintf("%s/concurrent=%d", way, par), func(b *testing.B) {
				benchStart(b, way, par)
			})
		}
	}
}

// startWorld is a pgstore database with instances waiting to be started,
// an in-memory sled-agent and sleds with room for all of them.
type startWorld struct {
	st        *pgstore.Store
	env       *sagas.Env
	instances []instancestate.ID
	next      atomic.Int64
}

func newStartWorld(b *testing.B, n int) *startWorld {
	ctx := context.Background()
	dsn := pgstoretest.Schema(b)
	if _, err := pgstore.Migrate(ctx, dsn); err != nil {
		b.Fatal(err)
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	now := func() time.Time { return time.Now().UTC() }
	sled := vmmstate.SledIDFromUUID(uuid.New())
	w := &startWorld{st: st}
	w.env = &sagas.Env{Store: st, Agent: memsled.NewAgent(now), Sleds: memsled.NewSleds(n+1, sled), Now: now, NewID: uuid.New}
	for range n {
		in := instancestate.New(vmmstate.InstanceIDFromUUID(uuid.New()), true, instancestate.AutoRestart{}, now())
		if _, err := sagas.Run(ctx, w.env, &sagas.Create{Instance: in}, sagas.Options{}); err != nil {
			b.Fatal(err)
		}
		w.instances = append(w.instances, in.ID)
	}
	return w
}

// take returns the next instance to start.
func (w *startWorld) take() instancestate.ID { return w.instances[w.next.Add(1)-1] }

func benchStart(b *testing.B, way string, par int) {
	ctx := context.Background()
	w := newStartWorld(b, b.N)
	var run func() error
	switch way {
	case "plain":
		run = func() error {
			r, err := sagas.Run(ctx, w.env, &sagas.Start{Instance: w.take(), Reason: failure.StartReasonUser}, sagas.Options{})
			if err == nil && r.Outcome != sagas.Completed {
				err = fmt.Errorf("start %v: %v", r.Outcome, r.Err)
			}
			return err
		}
	case "vmlife":
		log, ok := any(w.st).(datastore.SagaLog)
		if !ok {
			b.Fatal("pgstore keeps no saga log")
		}
		secs := make(chan *sagas.SEC, par)
		for range par {
			secs <- &sagas.SEC{ID: uuid.New(), Log: log, Env: w.env}
		}
		run = func() error {
			sec := <-secs
			defer func() { secs <- sec }()
			d, err := sec.Run(ctx, uuid.New(), &sagas.Start{Instance: w.take(), Reason: failure.StartReasonUser}, sagas.RunOptions{})
			if err == nil && d.Outcome != sagas.Completed {
				err = fmt.Errorf("start %v: %v %v", d.Outcome, d.Err, d.Halted)
			}
			return err
		}
	case "dbos":
		run = dbosStart(b, w)
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	var failed atomic.Value
	per := make(chan struct{}, b.N)
	for range b.N {
		per <- struct{}{}
	}
	close(per)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if err := run(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(6*b.N)/b.Elapsed().Seconds(), "steps/s")
}

// dbosStart registers the start saga's six steps as a DBOS workflow over
// the same world, and returns a run of it.
func dbosStart(b *testing.B, w *startWorld) func() error {
	ctx := context.Background()
	dctx, err := dbos.NewContext(ctx, dbos.Config{
		AppName:        "vmlife-bench",
		DatabaseURL:    pgstoretest.DSN(b),
		DatabaseSchema: fmt.Sprintf("dbos_bench_%d", time.Now().UnixNano()),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	workflow := func(ctx dbos.Context, instance string) (string, error) {
		id, err := uuid.Parse(instance)
		if err != nil {
			return "", err
		}
		s := &sagas.Start{Instance: vmmstate.InstanceIDFromUUID(id), Reason: failure.StartReasonUser}
		for _, step := range s.Steps(w.env) {
			if _, err := dbos.RunAsStep(ctx, func(ctx context.Context) (string, error) {
				return "", step.Do(ctx)
			}, dbos.WithStepName(step.Name)); err != nil {
				return "", err
			}
		}
		return s.VMM.String(), nil
	}
	dbos.RegisterWorkflow(dctx, workflow)
	if err := dbos.Launch(dctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dbos.Shutdown(dctx, 5*time.Second) })
	return func() error {
		h, err := dbos.RunWorkflow(dctx, workflow, w.take().String())
		if err != nil {
			return err
		}
		_, err = h.GetResult()
		return err
	}
}

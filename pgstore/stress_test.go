package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/invariant"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// auditGenerations makes the database itself refuse any write that lowers
// a generation: an audit of every write, by every writer, that no test
// assertion can miss.
func auditGenerations(t testing.TB, st *pgstore.Store) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE FUNCTION audit_generation() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.state_generation < OLD.state_generation THEN
				RAISE EXCEPTION 'generation of % % went from % to %', TG_TABLE_NAME, OLD.id,
					OLD.state_generation, NEW.state_generation;
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER audit_generation BEFORE UPDATE ON vmm FOR EACH ROW EXECUTE FUNCTION audit_generation()`,
		`CREATE TRIGGER audit_generation BEFORE UPDATE ON instance FOR EACH ROW EXECUTE FUNCTION audit_generation()`,
	} {
		if _, err := st.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

// insertRunning inserts an instance running on a VMM of its own on sled,
// the VMM at generation 2.
func insertRunning(tb testing.TB, st datastore.Store, sled vmmstate.SledID) (instancestate.ID, vmmstate.VMM) {
	tb.Helper()
	ctx := context.Background()
	id := vmmstate.InstanceIDFromUUID(uuid.New())
	v := vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()), InstanceID: id, SledID: sled,
		Runtime: vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(2), TimeUpdated: t0}}
	in := instancestate.New(id, true, instancestate.AutoRestart{}, t0)
	in.Runtime.State, in.Runtime.ActiveVMM = instancestate.NexusVMM, v.ID
	if _, err := st.VMMInsert(ctx, v); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.InstanceInsert(ctx, in); err != nil {
		tb.Fatal(err)
	}
	return id, v
}

// stressSize is how many instances the stress test drives: 1,000 by
// default (sized for CI), VMLIFE_PG_STRESS=N for a larger run.
func stressSize(t testing.TB) int {
	if s := os.Getenv("VMLIFE_PG_STRESS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VMLIFE_PG_STRESS=%q: want a positive number of instances", s)
		}
		return n
	}
	return 1000
}

// The sled-agent's story of a VMM, one report per generation from 3: the
// ones that end destroyed, and the ones that keep running.
var (
	pathDestroyed = []vmmstate.SledAgentState{vmmstate.SledAgentRunning, vmmstate.SledAgentRebooting,
		vmmstate.SledAgentRunning, vmmstate.SledAgentStopping, vmmstate.SledAgentStopped, vmmstate.SledAgentDestroyed}
	pathRunning = []vmmstate.SledAgentState{vmmstate.SledAgentRunning, vmmstate.SledAgentRebooting, vmmstate.SledAgentRunning}
)

// TestStress: 32 writers deliver every VMM's reports shuffled and each
// twice, for stressSize instances, while update sagas and user requests
// compete for the same rows. Afterwards every VMM row is its newest
// report, no generation ever went down (a trigger audits every write), no
// CHECK failed (any error fails the test), no lock is left held, and every
// instance's snapshot is valid and passes the invariant checkers.
func TestStress(t *testing.T) {
	st := fresh(t)
	auditGenerations(t, st)
	ctx := context.Background()
	n := stressSize(t)
	rng := rand.New(rand.NewPCG(1, 2))
	sleds := []vmmstate.SledID{vmmstate.SledIDFromUUID(uuid.New()), vmmstate.SledIDFromUUID(uuid.New())}

	type delivery struct {
		vmm vmmstate.ID
		r   instancestate.Report
	}
	var work []delivery
	ids := make([]instancestate.ID, n)
	newest := make(map[vmmstate.ID]vmmstate.Runtime, n)
	for i := range n {
		id, v := insertRunning(t, st, sleds[i%2])
		ids[i] = id
		path := pathRunning
		if i%2 == 0 {
			path = pathDestroyed
		}
		for k, state := range path {
			r := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: state,
				Generation: generation.Of(uint32(3 + k)), TimeUpdated: t0.Add(time.Duration(k+1) * time.Second)}}
			work = append(work, delivery{v.ID, r}, delivery{v.ID, r})
			newest[v.ID] = r.VMM.Runtime()
		}
	}
	rng.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })

	var (
		wg                         sync.WaitGroup
		errMu                      sync.Mutex
		errs                       []error
		applied, refused, sagaRuns atomic.Int64
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	next := make(chan delivery)
	const writers = 32
	for range writers {
		wg.Go(func() {
			for d := range next {
				res, err := st.SledReport(ctx, d.vmm, d.r)
				var de *datastore.Error
				switch {
				case errors.As(err, &de) && (de.Kind == datastore.KindIllegalTransition || de.Kind == datastore.KindTerminal):
					refused.Add(1) // an edge D7 has no arrow for, out of order: refused, nothing written
				case err != nil:
					fail(err)
				case res.VMM.Applied:
					applied.Add(1)
				}
			}
		})
	}
	done := make(chan struct{})
	var competitors sync.WaitGroup
	for w := range 4 {
		competitors.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			requests := []instancestate.Request{instancestate.RequestStart, instancestate.RequestStop, instancestate.RequestReboot}
			for {
				select {
				case <-done:
					return
				default:
				}
				id := ids[r.IntN(len(ids))]
				if w%2 == 0 {
					if _, r, err := updateSaga(ctx, st, id, t0.Add(time.Minute)); err != nil {
						fail(err)
					} else if r.Outcome == sagas.Stuck || r.Err != nil && !errors.Is(r.Err, datastore.ErrConflict) && !errors.Is(r.Err, datastore.ErrAlreadyLocked) {
						fail(fmt.Errorf("update saga %v: %w", r.Outcome, r.Err)) // only a lost race unwinds it
					}
					sagaRuns.Add(1)
				} else if _, err := datastore.InstanceRequest(ctx, st, id, requests[r.IntN(len(requests))], t0.Add(time.Minute)); err != nil {
					fail(err)
				}
			}
		})
	}
	for _, d := range work {
		next <- d
	}
	close(next)
	wg.Wait()
	close(done)
	competitors.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	t.Logf("%d instances, %d deliveries by %d writers: %d applied, %d refused edges, %d update sagas beside them",
		n, len(work), writers, applied.Load(), refused.Load(), sagaRuns.Load())

	// The update sagas the reports asked for, until none is needed: every
	// instance whose VMM was destroyed ends without one.
	for pass := 0; ; pass++ {
		need, err := st.FindInstancesNeedingUpdate(ctx, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(need) == 0 {
			break
		}
		if pass == 5 {
			t.Fatalf("%d instances still need an update after %d passes", len(need), pass)
		}
		for _, id := range need {
			if _, r, err := updateSaga(ctx, st, id, t0.Add(time.Hour)); err != nil || r.Outcome != sagas.Completed {
				t.Fatalf("update saga: %+v, %v", r, err)
			}
		}
	}

	// Every VMM row is its newest report.
	for vmm, want := range newest {
		row, err := st.VMMFetch(ctx, vmm)
		if err != nil {
			t.Fatal(err)
		}
		if row.VMM.Runtime != want {
			t.Errorf("VMM %v: %v, want its newest report %v", vmm, row.VMM.Runtime, want)
		}
	}
	var held int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM instance WHERE updater_id IS NOT NULL`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("%d updater locks left held", held)
	}
	for i, id := range ids {
		s, err := st.InstanceFetchAll(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%v: %v", id, err)
		}
		if err := invariant.CheckSnapshot(s); err != nil {
			t.Errorf("%v: %v", id, err)
		}
		if want := i%2 == 0; want != (s.Instance.Runtime.State == instancestate.NexusNoVMM) {
			t.Errorf("%v: %v after its VMM's last report", id, s.Instance.Runtime.State)
		}
	}
}

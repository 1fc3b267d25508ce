package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// rapidChooser makes every choice of a World a rapid draw, so that a
// failing run shrinks to the fewest steps and choices.
//
// rapid's integers favour small values (a geometric bit length), which
// would make a world spend its steps on the first action of every list.
// Each choice therefore hashes its draw (splitmix64's finaliser) before
// reducing it to [0, n): distinct draws give uniformly spread choices,
// and shrinking still removes and simplifies draws.
type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) IntN(n int) int {
	v := rapid.Uint64().Draw(c.t, "choice")
	v ^= v >> 30
	v *= 0xbf58476d1ce4e5b9
	v ^= v >> 27
	v *= 0x94d049bb133111eb
	v ^= v >> 31
	return int(v % uint64(n))
}

// TestModel is the model-based test: rapid draws a small world and every
// choice it makes, and every invariant is checked after every step. A
// failure prints the violation and the trace of the shrunk run.
func TestModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{
			Instances:    rapid.IntRange(1, 6).Draw(t, "instances"),
			Sleds:        rapid.IntRange(0, 3).Draw(t, "sleds"),
			SledCapacity: rapid.IntRange(0, 3).Draw(t, "capacity"),
			Faults:       Faults(rapid.Uint16().Draw(t, "faults")) & AllFaultsSet,
			Trace:        true,
		}
		w, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%+v): %v", cfg, err)
		}
		if vs := w.Violations(); len(vs) > 0 {
			t.Fatalf("initial world: %v", vs[0])
		}
		// A run stops at its first violation, so its length needs no
		// shrinking of its own: it is drawn like a choice, uniformly.
		c := rapidChooser{t}
		steps := 1 + c.IntN(400)
		for range steps {
			if vs := w.Step(c); len(vs) > 0 {
				t.Fatalf("%v\ntrace:\n%s", vs[0], strings.Join(w.Trace(), "\n"))
			}
		}
		// Then the world settles, driven by a fixed seed (nothing to
		// shrink there), and every instance must have converged or say
		// why not (D13, D19).
		if vs := w.Settle(NewRand(0), 600); len(vs) > 0 {
			t.Fatalf("while settling: %v\ntrace:\n%s", vs[0], strings.Join(w.Trace(), "\n"))
		}
		if u := w.Unsettled(); len(u) > 0 {
			t.Fatalf("unsettled after 600 quiet steps: %s\ntrace:\n%s", strings.Join(u, "\n"), strings.Join(w.Trace(), "\n"))
		}
	})
}

// run runs a world with a seeded chooser and returns it.
func run(t testing.TB, cfg Config, steps int) *World {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRand(cfg.Seed)
	for range steps {
		for _, v := range w.Step(r) {
			t.Errorf("%v", v)
		}
	}
	return w
}

func summaryText(t *testing.T, w *World) string {
	t.Helper()
	var b bytes.Buffer
	if err := w.Summary().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The same seed gives the same run, byte for byte; another seed another.
func TestDeterministic(t *testing.T) {
	cfg := Default()
	cfg.Trace = true
	const steps = 1500
	w1, w2 := run(t, cfg, steps), run(t, cfg, steps)
	a, b := summaryText(t, w1), summaryText(t, w2)
	if a != b {
		t.Fatalf("same seed, different summaries:\n%s\n---\n%s", a, b)
	}
	ja, _ := json.Marshal(w1.Summary())
	jb, _ := json.Marshal(w2.Summary())
	if !bytes.Equal(ja, jb) {
		t.Fatalf("same seed, different JSON:\n%s\n%s", ja, jb)
	}
	ta, tb := w1.Trace(), w2.Trace()
	if strings.Join(ta, "\n") != strings.Join(tb, "\n") || len(ta) < steps {
		t.Fatalf("traces differ or are short: %d and %d lines", len(ta), len(tb))
	}
	cfg.Seed, cfg.Trace = 2, false
	c := summaryText(t, run(t, cfg, steps))
	// The first line names the seed; the rest must differ too.
	if strings.SplitN(a, "\n", 2)[1] == strings.SplitN(c, "\n", 2)[1] {
		t.Fatalf("seeds 1 and 2 gave the same run:\n%s", a)
	}
}

// coverageSteps is a prefix of the default run long enough for every
// action, fault and outcome to have happened. The default run with the
// same seed begins with exactly these steps, so whatever happens here
// happens in the default run.
const coverageSteps = 20000

// TestDefaultRunExercisesEverything keeps the simulator honest: in the
// default run every action and every fault occurs, every request is both
// accepted and rejected, every decision is made, every saga completes,
// every start failure cause the world can produce is recorded, and the
// common outcomes of reports, checks and sagas all happen. Outcomes that
// need rare interleavings (a delete saga losing its race, an update's
// commit conflict, a cooldown wait, a refused or unchanged report) are
// left to the model-based test and long runs: requiring them of a short
// prefix would only make the test fragile.
func TestDefaultRunExercisesEverything(t *testing.T) {
	w := run(t, Default(), coverageSteps)
	s := w.Summary()
	need := func(what string, c Counts, names ...string) {
		t.Helper()
		if len(names) == 0 {
			for _, x := range c {
				names = append(names, x.Name)
			}
		}
		for _, n := range names {
			if c.Get(n) == 0 {
				t.Errorf("%s: %s never happened in %d steps (%s)", what, n, coverageSteps, c.text(false))
			}
		}
	}
	need("actions", s.Actions)
	need("faults", s.Injected)
	need("requests accepted", s.Accepted)
	// A stop is refused only while the instance is still being created
	// (§10.2): about once in 15,000 steps, left to the long runs.
	need("requests rejected", s.Rejected, "start", "reboot", "migrate", "delete")
	need("sagas completed", s.Completed)
	need("sagas unwound", s.Unwound, "create", "start", "migrate", "update")
	need("starts", s.Starts)
	// Every cause of D13: the simulator produces them all.
	need("start failures", s.StartFails)
	need("sled-agent calls", s.SledCalls, "200", "400", "500", "502", "503", "504")
	// A report for a deleted VMM needs one in flight when its row is
	// deleted: a few dozen times in the default 150,000 steps, left to them.
	need("reports", s.Reports, "sent", "delivered", "applied", "stale", "lost_to_partitions")
	need("decisions", s.Decisions)
	need("watcher", s.Watcher)
	need("VMMs marked failed", s.Marked, failure.NoSuchInstance.String(), failure.SledExpunged.String(), failure.SledOff.String())
	need("next actions", s.Next, "none", "start", "stop", "run_update", "reincarnate")
	need("update sagas", s.Updates, "committed", "nothing", "locked")
	need("events", s.Events, "instances_created", "instances_deleted", "guest_shutdowns", "reincarnations",
		"start_conflicts", "migrate_conflicts", "migrate_no_capacity", "migrations_completed", "migrations_failed",
		"reservation_swaps", "vmms_deleted", "vmms_reaped", "unwound_vmm_already_terminal", "mark_as_starting_undo_lost")
	need("instances by intent", s.Intents, instancestate.IntendRunning.String(), instancestate.IntendStopped.String())
	if s.Violations != 0 {
		t.Errorf("violations: %d", s.Violations)
	}
}

// After the users and the faults stop, every instance converges to its
// intent or says why not (D13, D19): the control plane rolls forward on
// its own.
func TestSettles(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		cfg := Default()
		cfg.Seed = seed
		w := run(t, cfg, 3000)
		for _, v := range w.Settle(NewRand(seed), SettleSteps(cfg.Instances)) {
			t.Errorf("seed %d: %v", seed, v)
		}
		for _, u := range w.Unsettled() {
			t.Errorf("seed %d: unsettled after %d quiet steps: %s", seed, SettleSteps(cfg.Instances), u)
		}
	}
}

// lyingStore returns a broken snapshot of one instance: the state vmm
// with no active VMM, which no store would keep (vmm_iff_active_propolis).
type lyingStore struct {
	datastore.Store
	broken instancestate.ID
}

func (l *lyingStore) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	s, err := l.Store.InstanceFetchAll(ctx, id)
	if id == l.broken && err == nil {
		s.Instance.Runtime.State, s.Instance.Runtime.ActiveVMM = instancestate.NexusVMM, vmmstate.ID{}
	}
	return s, err
}

// A violation is found, reported once with its step and seed, and
// counted: the checks can fail.
func TestViolationsAreReported(t *testing.T) {
	st := &lyingStore{Store: datastore.NewMemory()}
	w, err := New(Config{Instances: 2, Seed: 7, Store: st, FullCheckEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Break the database under the world.
	st.broken = w.instances[0].rec.ID
	vs := w.Step(NewRand(7))
	found := false
	for _, v := range vs {
		if strings.Contains(v.Detail, instancestate.RuleVMMIffActive) {
			found = true
			if v.Step != 1 || v.Seed != 7 || !strings.Contains(v.String(), "step 1 (seed 7)") {
				t.Errorf("violation %v", v)
			}
		}
	}
	if !found {
		t.Fatalf("a broken snapshot went unnoticed: %v", vs)
	}
	n := len(w.Violations())
	w.Step(NewRand(8))
	if len(w.Violations()) != n {
		t.Errorf("the same violation was reported again: %v", w.Violations()[n:])
	}
	if w.Summary().Violations != n || w.stats.ViolationOccurrences <= n {
		t.Errorf("summary counts %d violations (%d occurrences), want %d and more", w.Summary().Violations, w.stats.ViolationOccurrences, n)
	}
}

// A write that goes around the store is found: what the world holds of a
// record must be what the store returns.
func TestWritesGoThroughTheStore(t *testing.T) {
	w, err := New(Config{Instances: 2, Seed: 7, FullCheckEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := w.instances[0]
	in.rec.IntendedState = instancestate.IntendDestroyed // written around the store
	vs := w.Step(NewRand(7))
	if len(vs) == 0 || vs[0].Check != "the world's records are the store's" || vs[0].Subject != in.name {
		t.Fatalf("a write around the store went unnoticed: %v", vs)
	}
}

func TestParseFaults(t *testing.T) {
	tests := []struct {
		in   string
		want Faults
	}{
		{"", 0},
		{"none", 0},
		{"all", AllFaultsSet},
		{"drop", Faults(0).With(FaultDrop)},
		{"drop, delay,drop", Faults(0).With(FaultDrop).With(FaultDelay)},
		{"none,saga_unwind", Faults(0).With(FaultSagaUnwind)},
	}
	for _, tt := range tests {
		got, err := ParseFaults(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseFaults(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if back, err := ParseFaults(got.String()); err != nil || back != got {
			t.Errorf("ParseFaults(%q.String() = %q) = %v, %v", tt.in, got.String(), back, err)
		}
	}
	for _, f := range AllFaults() {
		if got, err := ParseFaults(f.String()); err != nil || got != Faults(0).With(f) || !got.Has(f) {
			t.Errorf("ParseFaults(%q) = %v, %v", f, got, err)
		}
	}
	for _, in := range []string{"drop,", "Drop", "bogus", "all,x"} {
		_, err := ParseFaults(in)
		var fe *FaultError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "sled_expunge") {
			t.Errorf("ParseFaults(%q): %v, want a *FaultError listing the faults", in, err)
		}
	}
	if s := Fault(0).String(); s != "sim.Fault(0)" {
		t.Errorf("Fault(0).String() = %q", s)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Instances: 0}, {Instances: -1}, {Instances: 10001}, {Instances: 1, Sleds: -1}, {Instances: 1, SledCapacity: 1001}} {
		_, err := New(cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "accepted") {
			t.Errorf("New(%+v): %v, want a *ConfigError", cfg, err)
		}
	}
}

// BenchmarkStep is one step of the default world at 24, 300 and 3,000
// instances: steps per second should not fall with the size of the world
// (compare the steps/s of one run).
func BenchmarkStep(b *testing.B) {
	for _, n := range []int{24, 300, 3000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cfg := Default()
			cfg.Instances = n
			w, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			r := NewRand(DefaultSeed)
			for b.Loop() {
				w.Step(r)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

// TestStartPermanentAloneFires: a fault tested alone must fire at a useful
// rate even in the smallest world, so that a run with only
// --faults start_permanent exercises every permanent cause (D13, D15).
func TestStartPermanentAloneFires(t *testing.T) {
	const steps = 20000
	cfg := Config{Instances: 3, Faults: Faults(0).With(FaultStartPermanent), Seed: 1}
	s := run(t, cfg, steps).Summary()
	if n := s.Injected.Get(FaultStartPermanent.String()); n < steps/2000 {
		t.Errorf("start_permanent fired %d times in %d steps at 3 instances; want at least %d", n, steps, steps/2000)
	}
	for _, c := range []failure.Cause{failure.CauseAffinityUnsatisfiable, failure.CauseAntiAffinityUnsatisfiable, failure.CauseLocalStorageUnavailable} {
		if s.StartFails.Get(c.String()) == 0 {
			t.Errorf("start failure %v never happened (%s)", c, s.StartFails.text(false))
		}
	}
	if s.Violations != 0 {
		t.Errorf("violations: %d", s.Violations)
	}
}

// TestSettleStepsScales: the settle budget grows with the world, and a
// world of 300 instances gets at least the 12,000 quiet steps the slowest
// measured run needed.
func TestSettleStepsScales(t *testing.T) {
	if SettleSteps(300) < 12000 || SettleSteps(24) >= SettleSteps(300) || SettleSteps(-1) != SettleSteps(0) {
		t.Fatalf("SettleSteps: 24 → %d, 300 → %d, -1 → %d", SettleSteps(24), SettleSteps(300), SettleSteps(-1))
	}
}

// faultyStore is a store with a seeded fault: after some instance writes
// — chosen by the record written, so the same in every run — it returns
// that instance broken from then on (the state vmm with no active VMM),
// as a store or a library rule with a bug would.
type faultyStore struct {
	datastore.Store
	broken map[instancestate.ID]bool
}

func (f *faultyStore) InstanceUpdateRuntime(ctx context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (datastore.Result, error) {
	res, err := f.Store.InstanceUpdateRuntime(ctx, id, rt, intent)
	if res.Applied && (id.UUID()[15]+byte(rt.Generation.Uint64()))%11 == 0 {
		f.broken[id] = true
	}
	return res, err
}

func (f *faultyStore) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	s, err := f.Store.InstanceFetchAll(ctx, id)
	if err == nil && f.broken[id] {
		s.Instance.Runtime.State, s.Instance.Runtime.ActiveVMM = instancestate.NexusVMM, vmmstate.ID{}
	}
	return s, err
}

// TestIncrementalChecksFindWhatFullChecksFind: with seeded faults in the
// store, a world that checks only what each step touched (and what came
// due) finds every violation — each check about each subject — that the
// same world checking everything after every step finds.
func TestIncrementalChecksFindWhatFullChecksFind(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		found := func(every int) (map[string]bool, int) {
			cfg := Config{Instances: 12, Faults: AllFaultsSet, Seed: seed, FullCheckEvery: every,
				Store: &faultyStore{Store: datastore.NewMemory(), broken: map[instancestate.ID]bool{}}}
			w, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := NewRand(seed)
			for range 4000 {
				w.Step(r)
			}
			w.CheckAll()
			out := map[string]bool{}
			for _, v := range w.Violations() {
				out[v.Check+" / "+v.Subject] = true
			}
			return out, len(w.Violations())
		}
		full, n := found(1)
		incremental, _ := found(DefaultFullCheckEvery)
		if n == 0 {
			t.Fatalf("seed %d: the seeded faults caused no violation: the test checks nothing", seed)
		}
		for v := range full {
			if !incremental[v] {
				t.Errorf("seed %d: the full check found %q, the incremental one did not", seed, v)
			}
		}
		for v := range incremental {
			if !full[v] {
				t.Errorf("seed %d: the incremental check found %q, the full one did not", seed, v)
			}
		}
		t.Logf("seed %d: %d distinct violations found both ways", seed, len(full))
	}
}

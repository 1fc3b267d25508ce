package controlplane_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func id(kind byte, n uint64) uuid.UUID {
	var u uuid.UUID
	u[0], u[14], u[15] = kind, byte(n>>8), byte(n)
	u[6], u[8] = 0x40, 0x80
	return u
}

var (
	cpA   = id('c', 1)
	cpB   = id('c', 2)
	sledA = vmmstate.SledIDFromUUID(id('a', 1))
	sledB = vmmstate.SledIDFromUUID(id('b', 1))
)

func inst(n uint64) instancestate.ID { return vmmstate.InstanceIDFromUUID(id('i', n)) }

// plane is a control plane over a memory store and a memsled world of two
// sleds with room for two VMMs each, on a clock the test moves, logging
// to a buffer.
type plane struct {
	t   *testing.T
	ctx context.Context
	st  *datastore.Memory
	w   *memsled.World
	mu  sync.Mutex // guards now: reactions and ticks race in some tests
	now time.Time
	cp  *controlplane.ControlPlane
	log *bytes.Buffer
	cfg controlplane.Config
}

func newPlane(t *testing.T, edit ...func(*controlplane.Config)) *plane {
	t.Helper()
	p := &plane{t: t, ctx: context.Background(), st: datastore.NewMemory(), now: t0, log: &bytes.Buffer{}}
	p.w = memsled.NewWorld(p.st, p.clock, 2, sledA, sledB)
	p.cfg = controlplane.Config{ID: cpA, Store: p.st, Log: p.st, Reservations: p.st, Agent: p.w.Agent, Sleds: p.w.Sleds,
		Watcher: p.w, Now: p.w.Env.Now, NewID: p.w.Env.NewID,
		Logger: slog.New(slog.NewTextHandler(p.log, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	for _, e := range edit {
		e(&p.cfg)
	}
	p.cp = p.must2(controlplane.New(p.cfg))
	return p
}

func (p *plane) must2(cp *controlplane.ControlPlane, err error) *controlplane.ControlPlane {
	p.t.Helper()
	p.must(err)
	return cp
}

func (p *plane) must(err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatal(err)
	}
}

// clock is the plane's time.
func (p *plane) clock() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now
}

// advance moves the clock by d.
func (p *plane) advance(d time.Duration) {
	p.mu.Lock()
	p.now = p.now.Add(d)
	p.mu.Unlock()
}

// restart is the process dying and another starting under id: every
// executor's memory is gone, the store and the sleds are kept.
func (p *plane) restart(id uuid.UUID) {
	p.t.Helper()
	cfg := p.cfg
	cfg.ID = id
	p.cp = p.must2(controlplane.New(cfg))
}

// takeOver is the process dying and the next taking its sagas over:
// restarted under the same identity (cpA), or another (cpB) that adopts
// them once their lease has expired; then every task runs a minute on.
func (p *plane) takeOver(next uuid.UUID) {
	p.t.Helper()
	p.restart(next)
	p.tick(0)
	if next == cpB {
		p.tick(2 * sagas.DefaultLease) // the lease expires: adopted, then recovered
		p.tick(0)
	}
	p.tick(time.Minute)
}

// startedBy counts the sagas the passes of task t began.
func startedBy(passes []controlplane.Pass, t controlplane.Task) int {
	n := 0
	for _, ps := range passes {
		if ps.Task == t {
			n += ps.SagasStarted
		}
	}
	return n
}

func (p *plane) snap(in instancestate.ID) instancestate.Snapshot {
	p.t.Helper()
	s, err := p.st.InstanceFetchAll(p.ctx, in)
	p.must(err)
	return s
}

func (p *plane) state(in instancestate.ID) instancestate.State {
	p.t.Helper()
	st, err := instancestate.EffectiveState(p.snap(in))
	p.must(err)
	return st
}

// create creates an instance to run, restarted best-effort, and boots its
// VMM: running.
func (p *plane) create(n uint64) instancestate.ID {
	p.t.Helper()
	in := inst(n)
	out, err := p.cp.Create(p.ctx, instancestate.New(in, true, instancestate.AutoRestart{Policy: instancestate.PolicyBestEffort}, p.now))
	p.must(err)
	if out.Saga.Outcome != sagas.Completed {
		p.t.Fatalf("create: %+v", out)
	}
	p.boot(in)
	return in
}

// boot reports the instance's active VMM running, as its agent would once
// the guest booted.
func (p *plane) boot(in instancestate.ID) {
	p.t.Helper()
	v := p.snap(in).Instance.Runtime.ActiveVMM
	rep, ok := p.w.Agent.Boot(v)
	if !ok {
		p.t.Fatalf("the agent holds no VMM %v", v)
	}
	_, err := p.cp.Report(p.ctx, v, rep)
	p.must(err)
	if got := p.state(in); got != instancestate.Running {
		p.t.Fatalf("booted: %v, want running", got)
	}
}

// otherSled is the sled of the two the instance's active VMM is not on.
func (p *plane) otherSled(in instancestate.ID) vmmstate.SledID {
	p.t.Helper()
	if p.snap(in).Active.SledID == sledB {
		return sledA
	}
	return sledB
}

// tick moves the clock by d and ticks.
func (p *plane) tick(d time.Duration) []controlplane.Pass {
	p.t.Helper()
	p.advance(d)
	passes, err := p.cp.Tick(p.ctx)
	p.must(err)
	return passes
}

// settled checks what every control plane must leave once its tasks have
// run: no saga unfinished, no instance locked or needing an update, no
// reservation leaked, no VMM abandoned.
func (p *plane) settled() {
	p.t.Helper()
	recs, err := p.st.SagaListUnfinished(p.ctx, uuid.Nil)
	p.must(err)
	if len(recs) > 0 {
		p.t.Errorf("unfinished sagas: %+v", recs)
	}
	need, err := p.st.FindInstancesNeedingUpdate(p.ctx, p.now)
	p.must(err)
	if len(need) > 0 {
		p.t.Errorf("instances needing an update: %v", need)
	}
	leaked, err := p.st.ReservationListLeaked(p.ctx)
	p.must(err)
	if len(leaked) > 0 {
		p.t.Errorf("leaked reservations: %v", leaked)
	}
	abandoned, err := p.st.VMMListAbandoned(p.ctx)
	p.must(err)
	if len(abandoned) > 0 {
		p.t.Errorf("abandoned VMMs: %v", abandoned)
	}
	tabs, err := p.st.Tables(p.ctx)
	p.must(err)
	for _, r := range tabs.Instances {
		if !r.Instance.UpdaterID.IsZero() {
			p.t.Errorf("instance %v locked by %v", r.Instance.ID, r.Instance.UpdaterID)
		}
	}
}

func TestNewNamesWhatIsMissing(t *testing.T) {
	p := newPlane(t)
	for _, c := range []struct {
		field string
		edit  func(*controlplane.Config)
	}{
		{"ID", func(c *controlplane.Config) { c.ID = uuid.Nil }},
		{"Store", func(c *controlplane.Config) { c.Store = nil }},
		{"Log", func(c *controlplane.Config) { c.Log = nil }},
		{"Agent", func(c *controlplane.Config) { c.Agent = nil }},
		{"Sleds", func(c *controlplane.Config) { c.Sleds = nil }},
		{"Now", func(c *controlplane.Config) { c.Now = nil }},
		{"NewID", func(c *controlplane.Config) { c.NewID = nil }},
		{"PassLimit", func(c *controlplane.Config) { c.PassLimit = -1 }},
		{"Lease", func(c *controlplane.Config) { c.Lease = -time.Second }},
		{"Intervals", func(c *controlplane.Config) { c.Intervals = map[controlplane.Task]time.Duration{99: time.Second} }},
	} {
		cfg := p.cfg
		c.edit(&cfg)
		cp, err := controlplane.New(cfg)
		if err == nil || cp != nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: New = %v, %v; want an error naming the field", c.field, cp, err)
		}
	}
}

// TestLifecycle walks one instance through every request a user makes,
// each reaction running its saga and what that asks for.
func TestLifecycle(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	first := p.snap(in).Instance.Runtime.ActiveVMM

	out, err := p.cp.Request(p.ctx, in, instancestate.RequestReboot)
	p.must(err)
	if out.Decision.Action != instancestate.ActionSendToSled || !out.Report.VMM.Applied || p.state(in) != instancestate.Running {
		t.Fatalf("reboot: %+v, state %v", out, p.state(in))
	}

	out, err = p.cp.Request(p.ctx, in, instancestate.RequestDelete)
	p.must(err)
	if out.Decision.Accepted() {
		t.Fatalf("delete of a running instance accepted: %+v", out)
	}

	out, err = p.cp.Request(p.ctx, in, instancestate.RequestStop)
	p.must(err)
	if out.Intent != instancestate.IntendStopped || p.state(in) != instancestate.Stopped {
		t.Fatalf("stop: %+v, state %v", out, p.state(in))
	}
	if s := p.snap(in); s.HasActive() {
		t.Fatalf("stopped, the instance still links %v: the update saga did not run", s.Instance.Runtime.ActiveVMM)
	}
	if _, held := p.w.Sleds.Held(first); held {
		t.Errorf("the stopped VMM %v still holds room", first)
	}

	out, err = p.cp.Request(p.ctx, in, instancestate.RequestStart)
	p.must(err)
	if out.Saga.Kind != sagas.KindStart || out.Saga.Outcome != sagas.Completed {
		t.Fatalf("start: %+v", out)
	}
	p.boot(in)
	if p.snap(in).Instance.Runtime.ActiveVMM == first {
		t.Fatal("started again on the VMM that was stopped")
	}

	_, err = p.cp.Request(p.ctx, in, instancestate.RequestStop)
	p.must(err)
	out, err = p.cp.Request(p.ctx, in, instancestate.RequestDelete)
	p.must(err)
	if out.Saga.Kind != sagas.KindDelete || out.Saga.Outcome != sagas.Completed {
		t.Fatalf("delete: %+v", out)
	}
	if _, err := p.st.InstanceFetchAll(p.ctx, in); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("deleted instance reads %v", err)
	}
	out, err = p.cp.Request(p.ctx, in, instancestate.RequestStart)
	p.must(err)
	if out.Decision.Status != 404 {
		t.Errorf("start of a deleted instance: %+v, want 404", out.Decision)
	}
	p.tick(time.Minute)
	p.settled()
	p.noErrors()
}

func TestRequestRefusesWhatItCannotCarryOut(t *testing.T) {
	p := newPlane(t)
	for _, r := range []instancestate.Request{instancestate.RequestMigrate, 0, 99} {
		if _, err := p.cp.Request(p.ctx, inst(1), r); err == nil || !strings.Contains(err.Error(), "accepted") {
			t.Errorf("Request(%v) = %v, want an error naming the accepted requests", r, err)
		}
	}
	if _, err := p.cp.Migrate(p.ctx, inst(1), vmmstate.SledID{}); err == nil {
		t.Error("Migrate to the nil sled was accepted")
	}
	if _, err := p.cp.VMMGone(p.ctx, vmmstate.IDFromUUID(id('v', 1)), 0); err == nil {
		t.Error("VMMGone with no reason was accepted")
	}
	tabs, err := p.st.Tables(p.ctx)
	p.must(err)
	if diff := cmp.Diff(datastore.Tables{}, tabs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("a refused call wrote (-want +got):\n%s", diff)
	}
}

// TestMigrate moves a running instance to the other sled: the saga, the
// target's boot reported, and the update saga that makes it active.
func TestMigrate(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	src := p.snap(in).Instance.Runtime.ActiveVMM
	srcSled := p.snap(in).Active.SledID
	dest := p.otherSled(in)
	out, err := p.cp.Migrate(p.ctx, in, srcSled)
	p.must(err)
	if out.Decision.Accepted() {
		t.Fatalf("migrate to the sled it is on accepted: %+v", out.Decision)
	}
	out, err = p.cp.Migrate(p.ctx, in, dest)
	p.must(err)
	if out.Saga.Kind != sagas.KindMigrate || out.Saga.Outcome != sagas.Completed {
		t.Fatalf("migrate: %+v", out)
	}
	target := p.snap(in).Instance.Runtime.TargetVMM
	rep, ok := p.w.Agent.Boot(target)
	if !ok {
		t.Fatal("the target is not registered")
	}
	_, err = p.cp.Report(p.ctx, target, rep)
	p.must(err)
	s := p.snap(in)
	if s.Instance.Runtime.ActiveVMM != target || s.HasTarget() || s.HasMigration() {
		t.Fatalf("after the target reported the migration done: %+v", s.Instance.Runtime)
	}
	// The source's agent reports it gone; the reaper deletes it.
	rep, err = p.w.Agent.Unregister(p.ctx, p.must3(p.st.VMMFetch(p.ctx, src)).VMM)
	p.must(err)
	_, err = p.cp.Report(p.ctx, src, rep)
	p.must(err)
	p.tick(time.Minute)
	p.settled()
	p.noErrors()
	if row := p.must3(p.st.VMMFetch(p.ctx, src)); row.TimeDeleted.IsZero() {
		t.Errorf("the source VMM %v was not reaped: %+v", src, row)
	}
}

func (p *plane) must3(r datastore.VMMRow, err error) datastore.VMMRow {
	p.t.Helper()
	p.must(err)
	return r
}

// TestProofOfDeathRestarts: a VMM proved gone is failed, the update saga
// runs, and the restart it asks for (§13.4) starts the instance again —
// whether the proof comes from a caller (VMMGone) or from the watcher.
func TestProofOfDeathRestarts(t *testing.T) {
	for _, via := range []string{"vmm_gone", "watcher"} {
		t.Run(via, func(t *testing.T) {
			p := newPlane(t)
			in := p.create(1)
			dead := p.snap(in).Instance.Runtime.ActiveVMM
			p.w.Agent.Vanish(dead)
			switch via {
			case "vmm_gone":
				res, err := p.cp.VMMGone(p.ctx, dead, failure.NoSuchInstance)
				p.must(err)
				if !res.Applied {
					t.Fatalf("VMMGone: %+v", res)
				}
			case "watcher":
				if _, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher); err != nil {
					t.Fatal(err)
				}
			}
			row := p.must3(p.st.VMMFetch(p.ctx, dead))
			if row.VMM.Runtime.State.Kind() != vmmstate.KindFailed {
				t.Fatalf("the dead VMM is %v", row.VMM.Runtime.State)
			}
			s := p.snap(in)
			if s.Instance.Runtime.ActiveVMM == dead || !s.HasActive() {
				t.Fatalf("not restarted on a new VMM: %+v", s.Instance.Runtime)
			}
			p.boot(in)
			p.tick(time.Minute)
			p.settled()
			p.noErrors()
		})
	}
}

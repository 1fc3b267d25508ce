package sagas_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func id(kind byte, n uint64) uuid.UUID {
	var u uuid.UUID
	u[0], u[15] = kind, byte(n)
	u[6], u[8] = 0x40, 0x80
	return u
}

var (
	instID = vmmstate.InstanceIDFromUUID(id('i', 1))
	srcID  = vmmstate.IDFromUUID(id('v', 1))
	sledA  = vmmstate.SledIDFromUUID(id('a', 1))
	sledB  = vmmstate.SledIDFromUUID(id('b', 1))
)

// fixture is a store and a memsled world at t0 with two sleds of room
// 2, holding whatever a saga's table row sets up.
type fixture struct {
	t   *testing.T
	ctx context.Context
	st  *datastore.Memory
	w   *memsled.World
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, ctx: context.Background(), st: datastore.NewMemory(), now: t0}
	f.w = memsled.NewWorld(f.st, func() time.Time { return f.now }, 2, sledA, sledB)
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) run(s sagas.Saga, opt sagas.Options) sagas.Result {
	f.t.Helper()
	res, err := sagas.Run(f.ctx, f.w.Env, s, opt)
	f.must(err)
	return res
}

// stopped: an instance created and finished, no_vmm, intending to run.
func (f *fixture) stopped() {
	f.t.Helper()
	r := f.run(&sagas.Create{Instance: instancestate.New(instID, true, instancestate.AutoRestart{}, f.now)}, sagas.Options{})
	if r.Outcome != sagas.Completed {
		f.t.Fatalf("create: %+v", r)
	}
}

// running: the instance runs VMM srcID on sled A, as a start left it and
// the sled-agent then reported it.
func (f *fixture) running() {
	f.t.Helper()
	f.stopped()
	_, err := f.w.Sleds.Reserve(f.ctx, instID, srcID)
	f.must(err)
	_, err = f.st.VMMInsert(f.ctx, vmmstate.New(srcID, instID, sledA, f.now))
	f.must(err)
	_, err = f.st.InstanceMarkAsStarting(f.ctx, instID, datastore.MarkAsStartingArgs{VMM: srcID, Reason: failure.StartReasonUser, Now: f.now})
	f.must(err)
	f.report(srcID, vmmstate.SledAgentRunning, 2)
}

func (f *fixture) report(v vmmstate.ID, s vmmstate.SledAgentState, gen uint32) {
	f.t.Helper()
	_, err := f.st.SledReport(f.ctx, v, instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: s, Generation: generation.Of(gen), TimeUpdated: f.now}})
	f.must(err)
}

// end is what a saga leaves: every record it could touch, the agent's
// VMMs and the sleds' reservations.
type end struct {
	Instance   instancestate.Snapshot
	Missing    bool // the instance is not found
	VMMs       []datastore.VMMRow
	Migrations []datastore.MigrationRow
	Held       map[string]string
	Reserved   []vmmstate.ID
}

func (f *fixture) end(vmms ...vmmstate.ID) end {
	f.t.Helper()
	var e end
	s, err := f.st.InstanceFetchAll(f.ctx, instID)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		e.Missing = true
	case err != nil:
		f.t.Fatal(err)
	}
	e.Instance = s
	e.Held = map[string]string{}
	for _, v := range vmms {
		if row, err := f.st.VMMFetch(f.ctx, v); err == nil {
			e.VMMs = append(e.VMMs, row)
		}
		if st, ok := f.w.Agent.Holds(v); ok {
			e.Held[v.String()] = st.String()
		}
	}
	if ids, err := f.st.InstanceListMigrations(f.ctx, instID); err == nil {
		for _, m := range ids {
			row, err := f.st.MigrationFetch(f.ctx, m)
			f.must(err)
			e.Migrations = append(e.Migrations, row)
		}
	}
	e.Reserved = f.w.Sleds.Reserved()
	return e
}

// table is one saga of the tables: how to set the world up, the saga, and
// what must hold where it completed and where it unwound.
type table struct {
	name     string
	setup    func(f *fixture)
	saga     func() sagas.Saga
	vmms     func(s sagas.Saga) []vmmstate.ID
	complete func(f *fixture, s sagas.Saga, e end)
	// unwound checks the end of an unwind from a failure at step.
	unwound func(f *fixture, s sagas.Saga, step string, e end)
}

func startVMMs(s sagas.Saga) []vmmstate.ID   { return []vmmstate.ID{s.(*sagas.Start).VMM} }
func migrateVMMs(s sagas.Saga) []vmmstate.ID { return []vmmstate.ID{srcID, s.(*sagas.Migrate).Target} }
func srcVMMs(sagas.Saga) []vmmstate.ID       { return []vmmstate.ID{srcID} }

var tables = []table{
	{
		name:  "create",
		setup: func(*fixture) {},
		saga: func() sagas.Saga {
			return &sagas.Create{Instance: instancestate.New(instID, true, instancestate.AutoRestart{}, t0)}
		},
		vmms: func(sagas.Saga) []vmmstate.ID { return nil },
		complete: func(f *fixture, _ sagas.Saga, e end) {
			if e.Missing || e.Instance.Instance.Runtime.State != instancestate.NexusNoVMM {
				f.t.Errorf("created: %+v", e.Instance.Instance.Runtime)
			}
		},
		// §16: the undo deletes the record straight from creating.
		unwound: func(f *fixture, _ sagas.Saga, _ string, e end) {
			if !e.Missing {
				f.t.Errorf("instance left behind: %+v", e.Instance.Instance.Runtime)
			}
			tabs, err := f.st.Tables(f.ctx)
			f.must(err)
			for _, row := range tabs.Instances {
				if row.Instance.Runtime.State != instancestate.NexusDestroyed {
					f.t.Errorf("deleted as %v, not straight from creating", row.Instance.Runtime.State)
				}
			}
		},
	},
	{
		name:  "start",
		setup: (*fixture).stopped,
		saga:  func() sagas.Saga { return &sagas.Start{Instance: instID, Reason: failure.StartReasonUser} },
		vmms:  startVMMs,
		complete: func(f *fixture, s sagas.Saga, e end) {
			st := s.(*sagas.Start)
			rt := e.Instance.Instance.Runtime
			if rt.State != instancestate.NexusVMM || rt.ActiveVMM != st.VMM || e.Instance.Active.Runtime.State != vmmstate.Starting {
				f.t.Errorf("started: %+v, VMM %+v", rt, e.Instance.Active.Runtime)
			}
			if e.Held[st.VMM.String()] != "starting" || len(e.Reserved) != 1 || e.Reserved[0] != st.VMM {
				f.t.Errorf("held %v, reserved %v", e.Held, e.Reserved)
			}
			// A start that completed has no cause of failure, and records
			// none (D13).
			if st.Cause != 0 || st.Recorded || st.Conflict || st.UnwindSkipped || e.Instance.Instance.StartFailure.Cause != 0 {
				f.t.Errorf("completed with %+v, recorded %+v", st, e.Instance.Instance.StartFailure)
			}
		},
		// §14: unwinding from any step leaves no_vmm, no VMM running and no
		// room held; D13: the failure is recorded.
		unwound: func(f *fixture, s sagas.Saga, step string, e end) {
			st := s.(*sagas.Start)
			rt := e.Instance.Instance.Runtime
			if rt.State != instancestate.NexusNoVMM || !rt.ActiveVMM.IsZero() {
				f.t.Errorf("unwound to %+v", rt)
			}
			for _, v := range e.VMMs {
				if v.VMM.Runtime.State != vmmstate.SagaUnwound && v.VMM.Runtime.State != vmmstate.Destroyed {
					f.t.Errorf("VMM left %v", v.VMM.Runtime.State)
				}
			}
			if len(e.Held) != 0 || len(e.Reserved) != 0 {
				f.t.Errorf("held %v, reserved %v", e.Held, e.Reserved)
			}
			// A failure of the first step leaves nothing to undo, and so
			// records nothing (the record is the first step's undo).
			want := failure.CauseInternal
			if step == sagas.StepChooseVMMID {
				want = 0
			}
			if sf := e.Instance.Instance.StartFailure; sf.Cause != want || st.Cause != want {
				f.t.Errorf("start failure %+v, saga cause %v; want %v", sf, st.Cause, want)
			}
		},
	},
	{
		name:  "migrate",
		setup: (*fixture).running,
		saga:  func() sagas.Saga { return &sagas.Migrate{Instance: instID, Source: srcID, Destination: sledB} },
		vmms:  migrateVMMs,
		complete: func(f *fixture, s sagas.Saga, e end) {
			m := s.(*sagas.Migrate)
			rt := e.Instance.Instance.Runtime
			// §15: the saga alone does not change the active VMM.
			if rt.ActiveVMM != srcID || rt.TargetVMM != m.Target || rt.MigrationID != m.Migration {
				f.t.Errorf("migrating: %+v", rt)
			}
			if e.Held[m.Target.String()] != "migrating" || !f.w.Agent.MigratedIn(m.Target) {
				f.t.Errorf("target held %v, asked to migrate %v", e.Held, f.w.Agent.MigratedIn(m.Target))
			}
			// The target's answer to its registration is recorded (§12): the
			// record says migrating, as the agent does.
			if tg := e.Instance.Target.Runtime.State; tg.Kind() != vmmstate.KindMigrating {
				f.t.Errorf("target recorded %v", tg)
			}
		},
		// §15: the active VMM is still the source; a linked migration has
		// both sides failed; a linked target is no VMM; the destination's
		// room is released; and the instance can then be stopped.
		unwound: func(f *fixture, s sagas.Saga, _ string, e end) {
			m := s.(*sagas.Migrate)
			rt := e.Instance.Instance.Runtime
			if rt.ActiveVMM != srcID || e.Instance.Active.Runtime.State != vmmstate.Running {
				f.t.Errorf("source lost: %+v", rt)
			}
			if !rt.MigrationID.IsZero() {
				mig := e.Instance.Migration
				if mig.Source.State != migration.Failed || mig.Target.State != migration.Failed {
					f.t.Errorf("linked migration %v/%v", mig.Source.State, mig.Target.State)
				}
			}
			if !rt.TargetVMM.IsZero() {
				if st := e.Instance.Target.Runtime.State; st != vmmstate.SagaUnwound && st != vmmstate.Destroyed {
					f.t.Errorf("linked target %v", st)
				}
			}
			if _, held := e.Held[m.Target.String()]; held || len(e.Reserved) != 1 {
				f.t.Errorf("held %v, reserved %v", e.Held, e.Reserved)
			}
			d, err := instancestate.Decide(e.Instance, instancestate.RequestStop, f.now)
			if err != nil || !d.Accepted() {
				f.t.Errorf("stop after the unwind: %+v, %v", d, err)
			}
		},
	},
	{
		name: "update",
		// The active VMM was destroyed: the plan unlinks and destroys it.
		setup: func(f *fixture) {
			f.running()
			f.report(srcID, vmmstate.SledAgentDestroyed, 3)
		},
		saga: func() sagas.Saga { return &sagas.Update{Instance: instID} },
		vmms: srcVMMs,
		complete: func(f *fixture, s sagas.Saga, e end) {
			rt := e.Instance.Instance.Runtime
			if rt.State != instancestate.NexusNoVMM || !rt.ActiveVMM.IsZero() || !e.Instance.Instance.UpdaterID.IsZero() {
				f.t.Errorf("updated: %+v, lock %+v", rt, e.Instance.Instance.UpdaterID)
			}
			if len(e.VMMs) != 1 || e.VMMs[0].TimeDeleted.IsZero() || len(e.Reserved) != 0 {
				f.t.Errorf("VMM %+v not destroyed, reserved %v", e.VMMs, e.Reserved)
			}
		},
		// §13.1: an update undoes nothing but the lock. Before the commit
		// the instance is as it was; after, the commit stays, and what the
		// later steps left is the reaper's (§18).
		unwound: func(f *fixture, s sagas.Saga, step string, e end) {
			if !e.Instance.Instance.UpdaterID.IsZero() {
				f.t.Errorf("lock left held: %+v", e.Instance.Instance.UpdaterID)
			}
			u := s.(*sagas.Update)
			rt := e.Instance.Instance.Runtime
			switch {
			case u.Committed && rt.ActiveVMM.IsZero():
				abandoned, err := f.st.VMMListAbandoned(f.ctx)
				f.must(err)
				if step == sagas.StepDestroyVMMs && (len(abandoned) != 1 || abandoned[0] != srcID) {
					f.t.Errorf("the reaper finds %v", abandoned)
				}
			case u.Committed:
				f.t.Errorf("committed yet %+v", rt)
			case rt.ActiveVMM != srcID:
				f.t.Errorf("unwound before the commit, yet %+v", rt)
			}
			ids, err := f.st.FindInstancesNeedingUpdate(f.ctx, f.now)
			f.must(err)
			if !u.Committed && len(ids) != 1 {
				f.t.Errorf("the updater task finds %v", ids)
			}
		},
	},
	{
		name:  "delete",
		setup: (*fixture).stopped,
		saga:  func() sagas.Saga { return &sagas.Delete{Instance: instID} },
		vmms:  func(sagas.Saga) []vmmstate.ID { return nil },
		complete: func(f *fixture, _ sagas.Saga, e end) {
			if !e.Missing {
				f.t.Errorf("not deleted: %+v", e.Instance.Instance.Runtime)
			}
		},
		unwound: func(f *fixture, _ sagas.Saga, _ string, e end) {
			if e.Missing || e.Instance.Instance.Runtime.State != instancestate.NexusNoVMM {
				f.t.Errorf("changed: %+v", e.Instance.Instance.Runtime)
			}
		},
	},
}

// TestTables runs every saga of the tables to completion, with every node
// replayed (§13.1: every node idempotent), and unwinding from every step,
// with and without replays. A replayed run ends where a plain one does.
func TestTables(t *testing.T) {
	for _, tb := range tables {
		t.Run(tb.name, func(t *testing.T) {
			plain := func(t *testing.T, opt sagas.Options) (*fixture, sagas.Saga, sagas.Result, end) {
				f := newFixture(t)
				tb.setup(f)
				s := tb.saga()
				r := f.run(s, opt)
				return f, s, r, f.end(tb.vmms(s)...)
			}
			f, s, r, e := plain(t, sagas.Options{})
			if r.Outcome != sagas.Completed || r.Ended != "" {
				t.Fatalf("outcome %+v", r)
			}
			steps := s.Steps(f.w.Env)
			if !cmp.Equal(r.Ran, names(steps)) || len(r.Undone) != 0 {
				t.Errorf("ran %v, undone %v; want every step", r.Ran, r.Undone)
			}
			tb.complete(f, s, e)
			_, _, rr, er := plain(t, sagas.Options{Replay: true})
			if rr.Outcome != sagas.Completed || !cmp.Equal(rr.Ran, r.Ran) {
				t.Errorf("replayed: %+v", rr)
			}
			if d := cmp.Diff(e, er, allFields); d != "" {
				t.Errorf("replaying every node changed the end (-once +twice):\n%s", d)
			}
			for i, step := range steps {
				t.Run("fail_at="+step.Name, func(t *testing.T) {
					f, s, r, e := plain(t, sagas.Options{FailAt: step.Name})
					if r.Outcome != sagas.Unwound || !errors.Is(r.Err, sagas.ErrInjected) {
						t.Fatalf("outcome %+v", r)
					}
					if want := names(steps[:i+1]); !cmp.Equal(r.Ran, want) {
						t.Errorf("ran %v, want %v", r.Ran, want)
					}
					if want := undos(steps[:i]); !cmp.Equal(r.Undone, want, emptyIsNil) {
						t.Errorf("undone %v, want %v", r.Undone, want)
					}
					tb.unwound(f, s, step.Name, e)
					_, _, rr, er := plain(t, sagas.Options{FailAt: step.Name, Replay: true})
					if rr.Outcome != sagas.Unwound || !cmp.Equal(rr.Undone, r.Undone, emptyIsNil) {
						t.Errorf("replayed: %+v", rr)
					}
					if d := cmp.Diff(e, er, allFields); d != "" {
						t.Errorf("replaying every node changed the unwind's end (-once +twice):\n%s", d)
					}
				})
			}
		})
	}
}

// allFields compares the records' unexported fields too (ids,
// generations): they are plain values.
var allFields = cmp.Exporter(func(reflect.Type) bool { return true })

var emptyIsNil = cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal([]string(a), []string(b)) })

func names(steps []sagas.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

// undos lists the steps with an undo, latest first: the order an unwind
// runs them.
func undos(steps []sagas.Step) []string {
	var out []string
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Undo != nil {
			out = append(out, steps[i].Name)
		}
	}
	return out
}

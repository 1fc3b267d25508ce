package controlplane_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// The edges of the one-record reactions and of the stops the control
// plane owes: each refusal, each store error, and what each leaves.

func (f *failing) VMMFetch(ctx context.Context, id vmmstate.ID) (datastore.VMMRow, error) {
	if f.op == "vmm_fetch" {
		return datastore.VMMRow{}, f.err
	}
	return f.Store.VMMFetch(ctx, id)
}

var errBoom = errors.New("boom")

// calls counts the sled-agent calls of kind c the plane's agent gets from
// now on, failing them with fail when it is set.
func (p *plane) calls(c memsled.Call, fail *failure.Outcome) *int {
	n := new(int)
	p.w.Agent.Fail = func(got memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if got != c {
			return nil
		}
		*n++
		return fail
	}
	return n
}

// unlinkedRunning leaves instance 1 running on its migration's source with
// the migration's target running, linked by nothing: the source was lost
// mid-migration, and the D37 stop of the target was refused (owed). The
// plane's store is f, failing nothing until its op is set.
func unlinkedRunning(t *testing.T) (p *plane, f *failing, in instancestate.ID, target vmmstate.VMM) {
	f = &failing{}
	p = newPlane(t, func(c *controlplane.Config) { f.Store, c.Store = c.Store, f })
	in = p.create(1)
	src := p.snap(in).Active
	_, err := p.cp.Migrate(p.ctx, in, p.otherSled(in))
	p.must(err)
	target = p.snap(in).Target
	p.calls(memsled.CallRequestState, &failure.Outcome{Status: 503})
	p.w.Agent.Vanish(src.ID)
	_, err = p.cp.VMMGone(p.ctx, src.ID, failure.NoSuchInstance)
	p.must(err)
	p.w.Agent.Fail = nil
	if rt := p.snap(in).Instance.Runtime; rt.ActiveVMM == target.ID || rt.TargetVMM == target.ID {
		t.Fatalf("the target is still linked: %+v", rt)
	}
	if st, held := p.w.Agent.Holds(target.ID); !held || st.IsTerminal() {
		t.Fatalf("the target is not running: %v, held %v", st, held)
	}
	return p, f, in, target
}

// holdsRoom reports whether VMM v still holds its reservation.
func (p *plane) holdsRoom(v vmmstate.VMM) bool {
	p.t.Helper()
	rs, err := p.st.ReservationListBySled(p.ctx, v.SledID)
	p.must(err)
	return slices.ContainsFunc(rs, func(r datastore.Reservation) bool { return r.VMM == v.ID })
}

// TestReapVMMRefuses: a VMM that still runs, or that its instance links
// as target, keeps its room; a store or sleds that fail are an error,
// counted, with nothing deleted.
func TestReapVMMRefuses(t *testing.T) {
	p, _, _, target := unlinkedRunning(t)
	if reaped, err := p.cp.ReapVMM(p.ctx, target.ID); err != nil || reaped || !p.holdsRoom(target) {
		t.Errorf("a running unlinked VMM: reaped %v, %v, room held %v", reaped, err, p.holdsRoom(target))
	}

	p = newPlane(t)
	in := p.create(1)
	_, err := p.cp.Migrate(p.ctx, in, p.otherSled(in))
	p.must(err)
	tgt := p.snap(in).Target
	_, err = p.st.VMMMarkFailed(p.ctx, tgt.ID, failure.FromSledAgent, p.clock()) // its update not yet run
	p.must(err)
	if reaped, err := p.cp.ReapVMM(p.ctx, tgt.ID); err != nil || reaped || !p.holdsRoom(tgt) {
		t.Errorf("a failed target still linked: reaped %v, %v", reaped, err)
	}

	for _, c := range []struct {
		name  string
		store string
		sleds bool
	}{
		{"vmm_fetch fails", "vmm_fetch", false},
		{"instance_fetch_all fails", "instance_fetch_all", false},
		{"vmm_mark_deleted fails", "vmm_mark_deleted", false},
		{"the room cannot be released", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPlane(t)
			_, abandoned := p.abandoned(1)
			if c.store != "" {
				p.cfg.Store = &failing{Store: p.st, op: c.store, err: errBoom}
			}
			if c.sleds {
				p.cfg.Sleds = noRelease{Sleds: p.w.Sleds, err: errBoom}
			}
			p.restart(cpA)
			reaped, err := p.cp.ReapVMM(p.ctx, abandoned)
			if !errors.Is(err, errBoom) || reaped {
				t.Errorf("ReapVMM: %v, %v; want the error", reaped, err)
			}
			if got := p.cp.Stats()[controlplane.TaskAbandonedVMMReaper.String()].Errors["other"]; got != 1 {
				t.Errorf("counted %d errors, want 1", got)
			}
			if row := p.must3(p.st.VMMFetch(p.ctx, abandoned)); !row.TimeDeleted.IsZero() {
				t.Error("deleted all the same")
			}
		})
	}
}

// TestOwedStopsAskedAgain: a D37 stop no sled-agent took is owed, and
// TaskOwedStops asks for it again at every pass until one takes it.
func TestOwedStopsAskedAgain(t *testing.T) {
	p, _, _, tv := unlinkedRunning(t) // the stop refused once
	target := tv.ID
	p.calls(memsled.CallRequestState, &failure.Outcome{Status: 503})
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskOwedStops)
	p.must(err)
	if _, held := p.w.Agent.Holds(target); pass.Found != 1 || pass.Stopped != 0 || !held {
		t.Errorf("a stop refused again: pass %+v, held %v", pass, held)
	}
	p.w.Agent.Fail = nil
	pass, err = p.cp.RunTask(p.ctx, controlplane.TaskOwedStops)
	p.must(err)
	if pass.Found != 1 || pass.Stopped != 1 {
		t.Errorf("the stop taken: pass %+v", pass)
	}
	if st, held := p.w.Agent.Holds(target); held && !st.IsTerminal() && st != vmmstate.SledAgentStopping {
		t.Errorf("the target %v asked to stop reports %v", target, st)
	}
	pass, err = p.cp.RunTask(p.ctx, controlplane.TaskOwedStops)
	p.must(err)
	if pass.Found != 0 {
		t.Errorf("a stop taken is asked again: pass %+v", pass)
	}
	p.tick(time.Minute)
	p.settled()
}

// TestOwedStopsEnd: an owed stop ends when the VMM ends or is gone from
// the records, without another call; a store that fails keeps it owed.
func TestOwedStopsEnd(t *testing.T) {
	for _, c := range []struct {
		name           string
		edit           func(p *plane, f *failing, target vmmstate.VMM)
		stopped, calls int
		owedStill      bool
	}{
		{"failed meanwhile", func(p *plane, _ *failing, target vmmstate.VMM) {
			_, err := p.st.VMMMarkFailed(p.ctx, target.ID, failure.FromSledAgent, p.clock())
			p.must(err)
		}, 1, 0, false},
		{"gone from the records", func(p *plane, f *failing, _ vmmstate.VMM) {
			f.op, f.err = "vmm_fetch", &datastore.Error{Op: "vmm_fetch", Kind: datastore.KindNotFound}
		}, 1, 0, false},
		{"the store fails", func(p *plane, f *failing, _ vmmstate.VMM) {
			f.op, f.err = "vmm_fetch", errBoom
		}, 0, 0, true},
		{"taken", func(*plane, *failing, vmmstate.VMM) {}, 1, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, f, _, target := unlinkedRunning(t)
			c.edit(p, f, target)
			calls := p.calls(memsled.CallRequestState, nil)
			pass, err := p.cp.RunTask(p.ctx, controlplane.TaskOwedStops)
			p.must(err)
			if pass.Found != 1 || pass.Stopped != c.stopped || *calls != c.calls {
				t.Errorf("pass %+v, %d calls; want %d stopped, %d calls", pass, *calls, c.stopped, c.calls)
			}
			f.op = ""
			pass, err = p.cp.RunTask(p.ctx, controlplane.TaskOwedStops)
			p.must(err)
			if owed := pass.Found == 1; owed != c.owedStill {
				t.Errorf("the next pass: %+v; owed still %v, want %v", pass, owed, c.owedStill)
			}
		})
	}
}

// TestRestedAsksOnlyWhatTheSagaSays: an update that did not commit stops
// nothing its plan named, and a create that did not complete starts
// nothing, whatever the records say.
func TestRestedAsksOnlyWhatTheSagaSays(t *testing.T) {
	p, q := newQueuedPlane(t)
	running := inst(1)
	_, err := p.cp.Create(p.ctx, instancestate.New(running, true, instancestate.AutoRestart{}, p.clock()))
	p.must(err)
	q.drain()
	p.boot(running)
	active := p.snap(running).Active
	calls := p.calls(memsled.CallRequestState, nil)
	p.cp.Rested(p.ctx, "test", &sagas.Update{Instance: running, Plan: instancestate.Plan{StopTargetVMM: active.ID}}, sagas.Unwound)
	if *calls != 0 {
		t.Errorf("an update that did not commit asked for %d stops", *calls)
	}
	stopped := inst(2)
	_, err = p.cp.Create(p.ctx, instancestate.New(stopped, false, instancestate.AutoRestart{}, p.clock()))
	p.must(err)
	q.drain()
	_, err = p.st.InstanceSetIntendedState(p.ctx, stopped, instancestate.IntendRunning)
	p.must(err)
	q.took = nil
	meant := instancestate.New(stopped, true, instancestate.AutoRestart{}, p.clock())
	p.cp.Rested(p.ctx, "test", &sagas.Create{Instance: meant}, sagas.Unwound)
	if len(q.sagas) != 0 {
		t.Errorf("a create that unwound began %v", q.took)
	}
}

// badWatcher answers every check with c, unanswered.
type badWatcher struct {
	controlplane.Watcher
	c failure.Check
}

func (b badWatcher) Check(context.Context, vmmstate.VMM) (instancestate.Report, failure.Check, bool) {
	return instancestate.Report{}, b.c, false
}

// TestCheckErrors: a check that cannot be made or acted on is an error of
// CheckVMM, counted, and in the watcher's pass an error of that VMM alone:
// nothing asked to stop, nothing written.
func TestCheckErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		store string
		check *failure.Check
		kind  string
	}{
		{"the VMM cannot be read", "vmm_fetch", nil, "other"},
		{"the answer cannot be recorded", "sled_report", nil, "other"},
		{"a death cannot be recorded", "vmm_mark_failed", &failure.Check{Err: &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}}, "other"},
		{"unanswered, yet healthy", "", &failure.Check{}, "other"},
		{"an outcome that does not classify", "", &failure.Check{Err: &failure.Outcome{Status: 200}}, "other"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, f, _, target := unlinkedRunning(t)
			f.op, f.err = c.store, errBoom
			if c.check != nil {
				p.cfg.Watcher = badWatcher{Watcher: p.w, c: *c.check}
				p.cfg.Store = f
				p.restart(cpA)
			}
			before := p.snap(inst(1))
			if _, err := p.cp.CheckVMM(p.ctx, target.ID); err == nil {
				t.Error("CheckVMM: no error")
			}
			pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
			p.must(err)
			if pass.Stopped != 0 {
				t.Errorf("the watcher's pass asked %d stops", pass.Stopped)
			}
			if n := p.cp.Stats()[controlplane.ReactionCheck].Errors[c.kind]; n != 1 {
				t.Errorf("CheckVMM counted %v", p.cp.Stats()[controlplane.ReactionCheck].Errors)
			}
			if n := p.cp.Stats()[controlplane.TaskInstanceWatcher.String()].Errors[c.kind]; n == 0 {
				t.Errorf("the pass counted %v", p.cp.Stats()[controlplane.TaskInstanceWatcher.String()].Errors)
			}
			f.op = ""
			if after := p.snap(inst(1)); after != before {
				t.Errorf("the records changed: %+v → %+v", before, after)
			}
		})
	}
}

// TestReactionsCount: CheckVMM and Reconcile count each call as a pass.
func TestReactionsCount(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	v := p.snap(in).Active.ID
	for range 2 {
		_, err := p.cp.CheckVMM(p.ctx, v)
		p.must(err)
		_, err = p.cp.Reconcile(p.ctx, in)
		p.must(err)
	}
	st := p.cp.Stats()
	if st[controlplane.ReactionCheck].Passes != 2 || st[controlplane.ReactionReconcile].Passes != 2 {
		t.Errorf("counted %+v and %+v; want 2 passes each", st[controlplane.ReactionCheck], st[controlplane.ReactionReconcile])
	}
}

// TestObservationEndsWithAVerdict: a proof of death, like an answer, ends
// what the watcher observed of a silent sled — here with the instance
// locked, so that it still links the failed VMM.
func TestObservationEndsWithAVerdict(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	v := p.snap(in).Active.ID
	_, err := p.st.InstanceUpdaterLock(p.ctx, in, instancestate.UpdaterIDFromUUID(id('u', 1)))
	p.must(err)
	p.calls(memsled.CallCheck, &failure.Outcome{Communication: failure.CommTimeout})
	_, err = p.cp.CheckVMM(p.ctx, v)
	p.must(err)
	if s, _ := p.cp.Snapshot(p.ctx, in); s.SledUnreachableSince.IsZero() {
		t.Fatal("a silent sled not observed")
	}
	p.calls(memsled.CallCheck, &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance})
	verdict, err := p.cp.CheckVMM(p.ctx, v)
	p.must(err)
	s, err := p.cp.Snapshot(p.ctx, in)
	p.must(err)
	if !verdict.Failed || s.Active.ID != v || !s.SledUnreachableSince.IsZero() {
		t.Errorf("after a proof of death: %+v, active %v, unreachable since %v", verdict, s.Active.ID, s.SledUnreachableSince)
	}
}

// TestReconcileLooksOnlyAtWhatIsOnItsSled: a VMM past its deadline that is
// not on its sled yet — its start saga has linked it and not registered it
// — is not checked: its saga is what to look at (D30), and a check would
// find nothing there and fail it.
func TestReconcileLooksOnlyAtWhatIsOnItsSled(t *testing.T) {
	p := newPlane(t)
	in := p.stopped(1)
	_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendRunning)
	p.must(err)
	v := vmmstate.New(vmmstate.IDFromUUID(id('v', 1)), in, sledA, p.clock())
	_, err = p.st.VMMInsert(p.ctx, v)
	p.must(err)
	_, err = p.st.InstanceMarkAsStarting(p.ctx, in, datastore.MarkAsStartingArgs{VMM: v.ID, Reason: failure.StartReasonUser, Now: p.clock()})
	p.must(err)
	p.advance(instancestate.DefaultVMMCreatingDeadline + time.Minute)
	checks := p.calls(memsled.CallCheck, nil)
	n, err := p.cp.Reconcile(p.ctx, in)
	p.must(err)
	if n.Action != instancestate.NextInspect || *checks != 0 {
		t.Errorf("Reconcile: %v, %d checks; want inspect, and no check", n.Action, *checks)
	}
	if got := p.must3(p.st.VMMFetch(p.ctx, v.ID)); got.VMM.Runtime != v.Runtime {
		t.Errorf("the VMM changed: %+v", got.VMM.Runtime)
	}
}

// TestReconcileCountsWhatFails: an action that fails is Reconcile's error,
// and counted.
func TestReconcileCountsWhatFails(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	_, err := p.st.InstanceSetIntendedState(p.ctx, in, instancestate.IntendStopped)
	p.must(err)
	p.calls(memsled.CallRequestState, &failure.Outcome{Status: 503})
	n, err := p.cp.Reconcile(p.ctx, in)
	if n.Action != instancestate.NextStop || err == nil {
		t.Fatalf("Reconcile: %v, %v; want stop, and the sled-agent's error", n.Action, err)
	}
	if got := p.cp.Stats()[controlplane.ReactionReconcile].Errors["sled_agent"]; got != 1 {
		t.Errorf("counted %v", p.cp.Stats()[controlplane.ReactionReconcile].Errors)
	}
}

// TestWatcherKeepsWhatItObserves: a pass that finds a sled silent asks
// nothing to stop and keeps the observation for the decisions.
func TestWatcherKeepsWhatItObserves(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	p.calls(memsled.CallCheck, &failure.Outcome{Communication: failure.CommTimeout})
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
	p.must(err)
	s, err := p.cp.Snapshot(p.ctx, in)
	p.must(err)
	if pass.Stopped != 0 || s.SledUnreachableSince.IsZero() {
		t.Errorf("a silent sled: pass %+v, unreachable since %v", pass, s.SledUnreachableSince)
	}
}

// leakList is reservations whose leak list is the test's.
type leakList struct {
	datastore.SledReservations
	ids []vmmstate.ID
	err error
}

func (l leakList) ReservationListLeaked(context.Context) ([]vmmstate.ID, error) { return l.ids, l.err }

// TestReaperLeakEdges: the reaper releases a listed reservation only when
// its VMM is deleted, or has no record while nothing places one — not
// when the VMM was inserted since the list was read, not when the store
// cannot say, not while a migration may still insert it.
func TestReaperLeakEdges(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	live := p.snap(in).Active
	p.cfg.Reservations = leakList{SledReservations: p.st, ids: []vmmstate.ID{live.ID}}
	p.restart(cpA)
	_, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
	p.must(err)
	if !p.holdsRoom(live) {
		t.Error("the room of a VMM inserted since the list was read was released")
	}
	p.cfg.Store = &failing{Store: p.st, op: "vmm_fetch", err: errBoom}
	p.restart(cpA)
	_, err = p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
	p.must(err)
	if !p.holdsRoom(live) || p.cp.Stats()[controlplane.TaskAbandonedVMMReaper.String()].Errors["other"] != 1 {
		t.Errorf("a VMM the store could not read: room held %v, errors %v", p.holdsRoom(live), p.cp.Stats()[controlplane.TaskAbandonedVMMReaper.String()].Errors)
	}
	p.cfg.Store, p.cfg.Reservations = p.st, leakList{SledReservations: p.st, err: errBoom}
	p.restart(cpA)
	if _, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper); !errors.Is(err, errBoom) {
		t.Errorf("a leak list that failed: %v", err)
	}

	// A migration crashed between taking the target's room and inserting
	// the target.
	for crashAfter := 1; crashAfter < 12; crashAfter++ {
		p := newPlane(t)
		in := p.create(1)
		s := &sagas.Migrate{Instance: in, Source: p.snap(in).Active.ID, Destination: p.otherSled(in)}
		_, err := p.cp.SEC().Run(p.ctx, id('g', 1), s, sagas.RunOptions{Crash: true, CrashAfter: crashAfter})
		p.must(err)
		leaked, err := p.st.ReservationListLeaked(p.ctx)
		p.must(err)
		if len(leaked) == 0 {
			continue
		}
		_, err = p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
		p.must(err)
		if after, _ := p.st.ReservationListLeaked(p.ctx); len(after) != len(leaked) {
			t.Fatalf("the reaper released the room of a migration in flight: %v → %v", leaked, after)
		}
		return
	}
	t.Fatal("no crash point left a migration's room taken before its target was inserted")
}

// TestReapVMMAVMMGoneMeanwhile: a VMM deleted between ReapVMM's read and
// its delete is not reaped twice, and is no error.
func TestReapVMMAVMMGoneMeanwhile(t *testing.T) {
	p := newPlane(t)
	_, abandoned := p.abandoned(1)
	p.cfg.Store = &failing{Store: p.st, op: "vmm_mark_deleted", err: &datastore.Error{Op: "vmm_mark_deleted", Kind: datastore.KindNotFound}}
	p.restart(cpA)
	if reaped, err := p.cp.ReapVMM(p.ctx, abandoned); reaped || err != nil {
		t.Errorf("ReapVMM of a VMM gone meanwhile: %v, %v", reaped, err)
	}
}

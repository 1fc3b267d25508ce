package controlplane_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// A pass run a piece at a time (TaskRun): what each step does, what it
// does with a record that moved on between the list and its piece, what a
// pass that ends early hands back — and what the pieces share: the
// follow-up budget, the watcher's observations, the rule that a halted
// saga's follow-ups are recovery's.

// TestTaskRunStepsAPass: the first step lists and checks nothing; each
// step after checks one VMM; the pass ends with the last piece, counted
// once, and comes to what RunTask comes to on the same fleet.
func TestTaskRunStepsAPass(t *testing.T) {
	fleet := func() *plane {
		p := newPlane(t)
		p.create(1)
		p.create(2)
		return p
	}
	p := fleet()
	checks := p.calls(memsled.CallCheck, nil)
	r, err := p.cp.BeginTask(controlplane.TaskInstanceWatcher)
	p.must(err)
	if !r.Step(p.ctx) || *checks != 0 {
		t.Fatalf("the listing step: the pass ended, or checked %d", *checks)
	}
	if pass, _ := r.Result(); pass.Found != 2 {
		t.Fatalf("listed %d VMMs, want 2", pass.Found)
	}
	steps := 0
	for r.Step(p.ctx) {
		steps++
		if *checks != min(steps, 2) {
			t.Fatalf("after %d steps: %d checks, want one a step", steps, *checks)
		}
	}
	if *checks != 2 || r.Step(p.ctx) || *checks != 2 {
		t.Errorf("a pass over: %d checks, and a step after its end ran", *checks)
	}
	if n := p.cp.Stats()[controlplane.TaskInstanceWatcher.String()].Passes; n != 1 {
		t.Errorf("counted %d passes, want 1", n)
	}
	stepped, err := r.Result()
	p.must(err)

	q := fleet()
	whole, err := q.cp.RunTask(q.ctx, controlplane.TaskInstanceWatcher)
	q.must(err)
	if diff := cmp.Diff(whole, stepped); diff != "" {
		t.Errorf("stepped pass differs from RunTask's (-whole +stepped):\n%s", diff)
	}
	p.noErrors()
}

// TestTaskRunPassesOverWhatEnded: a VMM that failed between the watcher's
// list and its check is not checked, and is no error: the list would not
// name it now.
func TestTaskRunPassesOverWhatEnded(t *testing.T) {
	p := newPlane(t)
	in := p.create(1)
	p.create(2)
	r, err := p.cp.BeginTask(controlplane.TaskInstanceWatcher)
	p.must(err)
	r.Step(p.ctx) // the list
	_, err = p.st.VMMMarkFailed(p.ctx, p.snap(in).Active.ID, failure.FromSledAgent, p.clock())
	p.must(err)
	checks := p.calls(memsled.CallCheck, nil)
	for r.Step(p.ctx) {
	}
	if pass, err := r.Result(); err != nil || *checks != 1 || pass.Stopped != 0 {
		t.Errorf("checked %d VMMs (%v), stopped %d; want only the one still listed", *checks, err, pass.Stopped)
	}
	p.noErrors()
	// CheckVMM, asked about one VMM, passes over none: a VMM that does not
	// exist is an error saying so.
	if _, err := p.cp.CheckVMM(p.ctx, vmmstate.IDFromUUID(id('v', 99))); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("CheckVMM of no VMM: %v", err)
	}
}

// TestTaskRunEndedEarly: a pass whose context is done ends at its next
// step with the context's error, not counted as one (D28); the owed stops
// it had not asked again are owed still, for the next pass.
func TestTaskRunEndedEarly(t *testing.T) {
	p, _, _, _ := unlinkedRunning(t)
	r, err := p.cp.BeginTask(controlplane.TaskOwedStops)
	p.must(err)
	if !r.Step(p.ctx) {
		t.Fatal("the list left nothing to ask")
	}
	ctx, cancel := context.WithCancel(p.ctx)
	cancel()
	if r.Step(ctx) {
		t.Fatal("a step after shutdown went on")
	}
	if pass, err := r.Result(); !errors.Is(err, context.Canceled) || pass.Found != 1 || pass.Stopped != 0 {
		t.Errorf("the pass cut short: %+v, %v", pass, err)
	}
	if errs := p.cp.Stats()[controlplane.TaskOwedStops.String()].Errors; len(errs) != 0 {
		t.Errorf("shutdown counted as errors: %v", errs)
	}
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskOwedStops)
	p.must(err)
	if pass.Found != 1 || pass.Stopped != 1 {
		t.Errorf("the next pass: %+v; want the stop owed still, and taken", pass)
	}
}

// TestBeginTaskRefuses names the tasks it accepts.
func TestBeginTaskRefuses(t *testing.T) {
	p := newPlane(t)
	r, err := p.cp.BeginTask(99)
	if r != nil || err == nil || !strings.HasSuffix(err.Error(), "(accepted: saga_recovery, saga_adoption, instance_updater, instance_reincarnation, abandoned_vmm_reaper, instance_watcher, owed_vmm_stops, saga_stalled, instance_reconciler)") {
		t.Errorf("BeginTask(99) = %v, %v", r, err)
	}
}

// TestReaperReadsNoLogWhileItPlaces: while the control plane's own
// executor drives a start, the reaper leaves a reservation with no VMM
// record alone without asking the saga log (sagas.SEC.Driving) — here a
// log that cannot list.
func TestReaperReadsNoLogWhileItPlaces(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) { c.Log = unlistable{SagaLog: c.Log} })
	in := p.stopped(1)
	x, err := p.cp.SEC().Begin(p.ctx, id('g', 1), &sagas.Start{Instance: in, Reason: failure.StartReasonUser})
	p.must(err)
	var leaked []vmmstate.ID
	for len(leaked) == 0 && !x.Done() {
		x.Next(p.ctx)
		leaked, err = p.st.ReservationListLeaked(p.ctx)
		p.must(err)
	}
	if len(leaked) == 0 {
		t.Fatal("the start took no room before inserting its VMM")
	}
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper)
	if err != nil || pass.Released != 0 {
		t.Errorf("the reaper while its own start places: %+v, %v", pass, err)
	}
	if after, _ := p.st.ReservationListLeaked(p.ctx); len(after) != len(leaked) {
		t.Errorf("room released: %v → %v", leaked, after)
	}
	for !x.Done() {
		x.Next(p.ctx)
	}
	// Nothing leaked: the log is not asked either.
	if _, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper); err != nil {
		t.Errorf("the reaper with nothing leaked: %v", err)
	}
	ghost := vmmstate.IDFromUUID(id('v', 9))
	p.must(p.st.ReservationInsert(p.ctx, datastore.Reservation{VMM: ghost, Instance: in, Sled: sledA, TimeCreated: p.clock()}))
	if _, err := p.cp.RunTask(p.ctx, controlplane.TaskAbandonedVMMReaper); !errors.Is(err, errUnlistable) {
		t.Errorf("the reaper with a reservation of no VMM once nothing of its own places: %v; want it to ask the log", err)
	}
}

var errUnlistable = errors.New("unlistable: the saga log was asked")

// unlistable is a saga log that cannot list its unfinished sagas.
type unlistable struct{ datastore.SagaLog }

func (unlistable) SagaListUnfinished(context.Context, uuid.UUID) ([]datastore.SagaRecord, error) {
	return nil, errUnlistable
}

// TestRecoveryError: a saga log recovery cannot list ends the pass with
// its error, counted.
func TestRecoveryError(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) { c.Log = unlistable{SagaLog: c.Log} })
	if _, err := p.cp.RunTask(p.ctx, controlplane.TaskSagaRecovery); !errors.Is(err, errUnlistable) {
		t.Errorf("recovery over a log that cannot list: %v", err)
	}
	if got := p.cp.Stats()[controlplane.TaskSagaRecovery.String()].Errors; got["other"] != 1 {
		t.Errorf("counted %v", got)
	}
}

// TestWatcherPassKeepsLaterObservations: an observation the control plane
// made after the watcher's pass read its list — of a VMM the list could
// not name yet — outlives the pass; one of a VMM listed is kept too.
func TestWatcherPassKeepsLaterObservations(t *testing.T) {
	p := newPlane(t)
	first := p.create(1)
	r, err := p.cp.BeginTask(controlplane.TaskInstanceWatcher)
	p.must(err)
	r.Step(p.ctx) // the list: the first instance's VMM
	later := p.create(2)
	p.calls(memsled.CallCheck, &failure.Outcome{Communication: failure.CommTimeout}) // every check times out
	if _, err := p.cp.CheckVMM(p.ctx, p.snap(later).Active.ID); err != nil {
		t.Fatal(err)
	}
	for r.Step(p.ctx) {
	}
	for _, in := range []instancestate.ID{first, later} {
		s, err := p.cp.Snapshot(p.ctx, in)
		p.must(err)
		if s.SledUnreachableSince.IsZero() {
			t.Errorf("instance %v: the observation of its silent sled was dropped", in)
		}
	}
}

// TestWatcherPassSharesItsFollowUpBudget: without a Runner, the sagas a
// watcher pass runs for what its checks found are bounded by
// FollowUpLimit for the whole pass; the rest is left to the updater.
func TestWatcherPassSharesItsFollowUpBudget(t *testing.T) {
	p := newPlane(t, func(c *controlplane.Config) { c.FollowUpLimit = 1 })
	for n := range uint64(2) {
		p.w.Agent.Vanish(p.snap(p.create(n + 1)).Active.ID)
	}
	pass, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
	if err != nil || pass.Found != 2 {
		t.Fatalf("pass: %+v, %v", pass, err)
	}
	if n := p.cp.Stats()[controlplane.TaskInstanceWatcher.String()].SagasStarted; n != 1 {
		t.Errorf("the pass ran %d sagas; want its limit, 1", n)
	}
	if ids, _ := p.st.FindInstancesNeedingUpdate(p.ctx, p.clock()); len(ids) != 1 {
		t.Errorf("left for the updater: %v; want the other instance", ids)
	}
}

// TestHaltedSagaAsksNothing: a saga that halted — here the update saga
// after a lost VMM, whose last log write failed — is recovery's, and so is
// what it asks for next: neither the reaction nor the updater's pass that
// ran it begins the restart; recovery, once it brings the update to rest,
// does.
func TestHaltedSagaAsksNothing(t *testing.T) {
	for _, how := range []string{"reaction", "updater"} {
		t.Run(how, func(t *testing.T) {
			log := &failingDone{}
			p := newPlane(t, func(c *controlplane.Config) { log.SagaLog = c.Log; c.Log = log })
			in := p.create(1)
			dead := p.snap(in).Active.ID
			p.w.Agent.Vanish(dead)
			log.fail = true
			if how == "reaction" {
				_, err := p.cp.VMMGone(p.ctx, dead, failure.NoSuchInstance)
				p.must(err)
			} else {
				_, err := sagas.RecordDeath(p.ctx, p.st, dead, failure.NoSuchInstance, p.clock())
				p.must(err)
				_, err = p.cp.RunTask(p.ctx, controlplane.TaskInstanceUpdater)
				p.must(err)
			}
			if s := p.snap(in); s.HasActive() && s.Active.ID != dead {
				t.Errorf("a halted update's restart was begun: %+v", s.Instance.Runtime)
			}
			log.fail = false
			pass, err := p.cp.RunTask(p.ctx, controlplane.TaskSagaRecovery)
			if err != nil || pass.Recovered != 1 {
				t.Fatalf("recovery: %+v, %v", pass, err)
			}
			if s := p.snap(in); !s.HasActive() || s.Active.ID == dead {
				t.Errorf("recovery did not begin the restart: %+v", s.Instance.Runtime)
			}
		})
	}
}

// failingDone is a saga log that, while fail is set, refuses to mark a
// saga done.
type failingDone struct {
	datastore.SagaLog
	fail bool
}

func (l *failingDone) SagaSetState(ctx context.Context, f datastore.Fence, id uuid.UUID, st datastore.SagaState, evs ...datastore.NodeEvent) error {
	if l.fail && st == datastore.SagaDone {
		return errors.New("failingDone: the log refused")
	}
	return l.SagaLog.SagaSetState(ctx, f, id, st, evs...)
}

// TestWatcherPassDropsWhatItNoLongerLists: an observation the watcher held
// when its pass read the list is dropped when the list no longer names its
// VMM, and kept, with the time it was first made, when it does.
func TestWatcherPassDropsWhatItNoLongerLists(t *testing.T) {
	p := newPlane(t)
	kept, gone := p.create(1), p.create(2)
	p.calls(memsled.CallCheck, &failure.Outcome{Communication: failure.CommTimeout}) // every check times out
	_, err := p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
	p.must(err)
	first, err := p.cp.Snapshot(p.ctx, kept)
	p.must(err)
	if first.SledUnreachableSince.IsZero() {
		t.Fatal("the first pass observed nothing")
	}
	// The other instance's VMM fails: the watcher lists it no more.
	_, err = p.st.VMMMarkFailed(p.ctx, p.snap(gone).Active.ID, failure.FromSledAgent, p.clock())
	p.must(err)
	p.advance(time.Minute)
	_, err = p.cp.RunTask(p.ctx, controlplane.TaskInstanceWatcher)
	p.must(err)
	if s, _ := p.cp.Snapshot(p.ctx, kept); !s.SledUnreachableSince.Equal(first.SledUnreachableSince) {
		t.Errorf("a VMM listed again: observed since %v, want %v", s.SledUnreachableSince, first.SledUnreachableSince)
	}
	if s, _ := p.cp.Snapshot(p.ctx, gone); !s.SledUnreachableSince.IsZero() {
		t.Errorf("a VMM no longer listed: still observed since %v", s.SledUnreachableSince)
	}
}

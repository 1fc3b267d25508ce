package sagas_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// stepWithFaults runs one node of x as a simulator injecting faults does:
// ensure_registered fails, and the mark-as-starting undo loses its race.
// It says which fault it injected, if any.
func stepWithFaults(f *fixture, x *sagas.Exec) string {
	switch name, undo := x.NextNode(); {
	case !undo && name == sagas.StepRegister:
		x.Fail(f.ctx)
		return "fail"
	case undo && name == sagas.StepMarkAsStarting:
		x.Skip(f.ctx)
		return "skip"
	default:
		x.Next(f.ctx)
		return ""
	}
}

// TestBeginIsRecoverable: a saga begun with SEC.Begin and stepped by its
// caller — a node failed on purpose, an undo passed over — is left, when
// its process dies after any number of steps (none included: the saga is
// in the log once Begin returns), as a log recovery finishes, nothing
// unfinished. A fault the run had not injected yet is not in the
// log, so the recovered saga completes; one it had, it unwinds; and once
// the passed-over undo's end is durable (with the next node's start),
// recovery leaves exactly the records of the run that was not cut short.
// While it runs, Recover of the same executor leaves it alone.
func TestBeginIsRecoverable(t *testing.T) {
	full := newFixture(t)
	full.stopped()
	s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
	x, err := full.sec(secA).Begin(full.ctx, sagaID, s)
	full.must(err)
	steps, failed, skipped := 0, -1, -1
	for ; !x.Done(); steps++ {
		switch stepWithFaults(full, x) {
		case "fail":
			failed = steps + 1 // the steps taken once it is injected
		case "skip":
			skipped = steps + 1
		}
	}
	if failed < 0 || skipped < 0 {
		t.Fatalf("the faults were not injected: fail after %d steps, skip after %d", failed, skipped)
	}
	if x.Outcome() != sagas.Unwound || x.Halted() != nil {
		t.Fatalf("the whole run: %v, halted %v", x.Outcome(), x.Halted())
	}
	vmms := []vmmstate.ID{s.VMM}
	want := full.world(vmms)
	full.unfinished()

	for k := range steps {
		t.Run(fmt.Sprintf("after_%d_steps", k), func(t *testing.T) {
			f := newFixture(t)
			f.stopped()
			c := f.sec(secA)
			s := &sagas.Start{Instance: instID, Reason: failure.StartReasonUser}
			x, err := c.Begin(f.ctx, sagaID, s)
			f.must(err)
			for range k {
				stepWithFaults(f, x)
			}
			if got, err := c.Recover(f.ctx); err != nil || len(got) != 0 {
				t.Fatalf("Recover while the saga is begun here: %+v, %v", got, err)
			}
			// The process dies: x is dropped, and another process under
			// the same identity recovers.
			rec, err := f.sec(secA).Recover(f.ctx)
			f.must(err)
			f.unfinished()
			wantOutcome := sagas.Completed
			if k >= failed {
				wantOutcome = sagas.Unwound
			}
			if len(rec) != 1 || rec[0].Outcome != wantOutcome {
				t.Fatalf("recovered %+v; want the one saga, %v", rec, wantOutcome)
			}
			if got := rec[0].State.(*sagas.Start).VMM; k > 1 && got != s.VMM {
				t.Errorf("recovery's saga has VMM %v; the run had chosen %v", got, s.VMM)
			}
			if k <= skipped {
				return // the passed-over undo's end is not durable: it runs
			}
			if d := cmp.Diff(want, f.world(vmms), allFields); d != "" {
				t.Errorf("what recovery left differs from the whole run (-want +got):\n%s", d)
			}
		})
	}
}

// TestRecoveredLater: a process that dies after a node's action ran and
// before its outcome was logged, and is recovered a minute later — the
// clock has moved, as it always has for a real restart — leaves the
// records of the uncrashed run, times aside: the same rows, ids, states and
// generations, every saga at rest. A step that writes a record must write
// the same record when recovery runs it again at another time.
func TestRecoveredLater(t *testing.T) {
	noTimes := cmpopts.IgnoreTypes(time.Time{})
	for _, tb := range tables {
		for _, failAt := range failPoints(tb) {
			f := newFixture(t)
			tb.setup(f)
			s := tb.saga()
			want, err := f.sec(secA).Run(f.ctx, sagaID, s, sagas.RunOptions{Options: sagas.Options{FailAt: failAt}})
			f.must(err)
			vmms := tb.vmms(s)
			wantWorld := f.world(vmms)
			for k := 1; k < want.Events; k++ { // 0: nothing durable, nothing done
				name := fmt.Sprintf("%s/fail_at=%q/crash_late_after=%d", tb.name, failAt, k)
				g := newFixture(t)
				tb.setup(g)
				got, err := g.sec(secA).Run(g.ctx, sagaID, tb.saga(), sagas.RunOptions{Options: sagas.Options{FailAt: failAt}, Crash: true, CrashAfter: k, CrashLate: true})
				g.must(err)
				if !got.Crashed {
					continue
				}
				// The late crash falls at the write the plain crash would
				// have crashed after, before it is made: the same events
				// are durable.
				h := newFixture(t)
				tb.setup(h)
				plain, err := h.sec(secA).Run(h.ctx, sagaID, tb.saga(), sagas.RunOptions{Options: sagas.Options{FailAt: failAt}, Crash: true, CrashAfter: k})
				h.must(err)
				if plain.Crashed && plain.Events != got.Events {
					t.Errorf("%s: %d events durable at the late crash, %d at the plain one", name, got.Events, plain.Events)
				}
				_, events, err := g.st.SagaFetch(g.ctx, sagaID)
				g.must(err)
				lastNode := events[len(events)-1].Node
				g.now = g.now.Add(time.Minute)
				rec, err := g.sec(secA).Recover(g.ctx)
				g.must(err)
				g.unfinished()
				if len(rec) != 1 || rec[0].Outcome != want.Outcome {
					t.Errorf("%s: recovered %+v; the uncrashed run %v", name, rec, want.Outcome)
					continue
				}
				if lastNode == sagas.StepChooseVMMID || lastNode == sagas.StepChooseMigrationIDs {
					// The ids chosen before the crash were never logged,
					// nor written anywhere: recovery chooses others.
					continue
				}
				if d := cmp.Diff(wantWorld, g.world(tb.vmms(rec[0].State)), allFields, noTimes); d != "" {
					t.Errorf("%s: what the later recovery left differs from the uncrashed run (-want +got):\n%s", name, d)
				}
			}
		}
	}
}

// TestCrashLateBeforeAnything: a late crash at zero events falls at the
// saga's first write: nothing is in the log, and Run says it crashed.
func TestCrashLateBeforeAnything(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	d, err := f.sec(secA).Run(f.ctx, sagaID, &sagas.Delete{Instance: instID}, sagas.RunOptions{Crash: true, CrashLate: true})
	if err != nil || !d.Crashed || d.Events != 0 {
		t.Fatalf("late crash at 0: %+v, %v; want crashed with nothing durable", d, err)
	}
	if _, _, err := f.st.SagaFetch(f.ctx, sagaID); !errors.Is(err, datastore.ErrNotFound) {
		t.Errorf("the log holds the saga: %v", err)
	}
}

// TestBeginWritesItsRecord: the saga Begin returns is in the log before
// any node runs — running, with no event — so that a caller may answer
// the request that began it; an id that names another saga is Begin's
// error (D29), with nothing begun and the executor driving nothing.
func TestBeginWritesItsRecord(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	c := f.sec(secA)
	log := f.watched()
	c.Log = log
	x, err := c.Begin(f.ctx, sagaID, &sagas.Delete{Instance: instID})
	if err != nil {
		t.Fatal(err)
	}
	rec, events, err := f.st.SagaFetch(f.ctx, sagaID)
	if err != nil || rec.State != datastore.SagaRunning || rec.CurrentSEC != secA || len(events) != 0 {
		t.Fatalf("the log after Begin: %+v, %d events, %v; want the saga running, owned by its executor, no event", rec, len(events), err)
	}
	// Then each node as under Run, its start appended to the record.
	for !x.Done() {
		x.Next(f.ctx)
	}
	want := []string{
		"create: ",
		"append: started delete_instance_record",
		"done: succeeded delete_instance_record",
	}
	if diff := cmp.Diff(want, log.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	other := f.sec(secB)
	x, err = other.Begin(f.ctx, sagaID, &sagas.Start{Instance: instID, Reason: failure.StartReasonUser})
	if !errors.Is(err, datastore.ErrConflict) || x != nil {
		t.Fatalf("Begin under an id naming another saga: %v, %v; want ErrConflict and no executor", x, err)
	}
	if other.Driving(sagas.KindStart) {
		t.Error("the refused saga is counted as driven")
	}
	if got, _, _ := f.st.SagaFetch(f.ctx, sagaID); got.Name != sagas.KindDelete.String() {
		t.Errorf("the log's saga is now %q; want the delete Begin wrote first", got.Name)
	}
}

// TestBegunAndHaltedIsRecoveredHere: a begun saga that halted (its
// context cancelled) is no longer this executor's to drive: the same
// executor's Recover finishes it.
func TestBegunAndHaltedIsRecoveredHere(t *testing.T) {
	f := newFixture(t)
	f.stopped()
	c := f.sec(secA)
	x, err := c.Begin(f.ctx, sagaID, &sagas.Start{Instance: instID, Reason: failure.StartReasonUser})
	f.must(err)
	x.Next(f.ctx)
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	x.Next(ctx)
	if x.Halted() == nil {
		t.Fatal("not halted")
	}
	got, err := c.Recover(f.ctx)
	f.must(err)
	if len(got) != 1 || got[0].Outcome != sagas.Completed {
		t.Fatalf("the same executor's recovery: %+v", got)
	}
	f.unfinished()
}

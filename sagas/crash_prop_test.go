package sagas_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/invariant"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestPropCrashReportsRecover: any saga, any failure point, a crash at any
// event, sled-agent reports about its VMMs delivered while its process is
// down, perhaps a second crash during the recovery — and once the
// executor has recovered and the update sagas the reports asked for have
// run, nothing is left behind: no saga unfinished, no updater lock held, no
// sled room held for a VMM that is deleted or absent, no VMM still
// creating, and the instance reads as a snapshot every invariant accepts
// (D26).
func TestPropCrashReportsRecover(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tb := tables[rapid.IntRange(0, len(tables)-1).Draw(rt, "saga")]
		failAt := rapid.SampledFrom(failPoints(tb)).Draw(rt, "fail_at")
		f := newFixture(t)
		tb.setup(f)
		s := tb.saga()
		k := rapid.IntRange(0, 16).Draw(rt, "crash_after")
		if _, err := f.sec(secA).Run(f.ctx, sagaID, s, sagas.RunOptions{Options: sagas.Options{FailAt: failAt}, Crash: true, CrashAfter: k}); err != nil {
			rt.Fatal(err)
		}
		// While the process is down, the sled-agents go on reporting.
		gen := uint32(20)
		for range rapid.IntRange(0, 3).Draw(rt, "reports") {
			tabs, err := f.st.Tables(f.ctx)
			if err != nil || len(tabs.VMMs) == 0 {
				break
			}
			v := rapid.SampledFrom(tabs.VMMs).Draw(rt, "vmm").VMM.ID
			state := rapid.SampledFrom([]vmmstate.SledAgentState{vmmstate.SledAgentRunning, vmmstate.SledAgentStopping, vmmstate.SledAgentDestroyed}).Draw(rt, "state")
			gen++
			_, err = f.st.SledReport(f.ctx, v, instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: state, Generation: generation.Of(gen), TimeUpdated: f.now}})
			if err != nil && !errors.Is(err, datastore.ErrIllegalTransition) && !errors.Is(err, datastore.ErrTerminal) && !errors.Is(err, datastore.ErrInvalidRequest) {
				rt.Fatalf("report: %v", err)
			}
		}
		if rapid.Bool().Draw(rt, "second crash") {
			x := f.sec(secA)
			sagas.CrashRecoveryAfter(x, k+rapid.IntRange(0, 6).Draw(rt, "second crash_after"))
			if _, err := x.Recover(f.ctx); err != nil {
				rt.Fatal(err)
			}
		}
		if _, err := f.sec(secA).Recover(f.ctx); err != nil {
			rt.Fatal(err)
		}
		// The update sagas the records call for, to rest.
		for i := 0; i < 4; i++ {
			ids, err := f.st.FindInstancesNeedingUpdate(f.ctx, f.now)
			if err != nil {
				rt.Fatal(err)
			}
			if len(ids) == 0 {
				break
			}
			for _, id := range ids {
				d, err := f.sec(secB).Run(f.ctx, uuid.New(), &sagas.Update{Instance: id}, sagas.RunOptions{})
				if err != nil || d.Outcome == 0 {
					rt.Fatalf("update saga: %+v, %v", d, err)
				}
			}
		}
		recs, err := f.st.SagaListUnfinished(f.ctx, uuid.Nil)
		if err != nil || len(recs) != 0 {
			rt.Fatalf("unfinished sagas: %v, %v", recs, err)
		}
		tabs, err := f.st.Tables(f.ctx)
		if err != nil {
			rt.Fatal(err)
		}
		for _, row := range tabs.Instances {
			if row.Instance.IsLocked() && row.Instance.Runtime.State != instancestate.NexusDestroyed {
				rt.Fatalf("instance %v left locked by %v", row.Instance.ID, row.Instance.UpdaterID)
			}
		}
		for _, row := range tabs.VMMs {
			if row.VMM.Runtime.State.Kind() == vmmstate.KindCreating && row.TimeDeleted.IsZero() {
				rt.Fatalf("VMM %v left creating", row.VMM.ID)
			}
		}
		for _, v := range f.w.Sleds.Reserved() {
			row, err := f.st.VMMFetch(f.ctx, v)
			if errors.Is(err, datastore.ErrNotFound) || err == nil && !row.TimeDeleted.IsZero() {
				rt.Fatalf("sled room held for VMM %v, which is deleted or absent", v)
			}
		}
		if leaked, err := f.st.ReservationListLeaked(f.ctx); err != nil || len(leaked) != 0 {
			rt.Fatalf("the store lists leaked reservations: %v, %v", leaked, err)
		}
		snap, err := f.st.InstanceFetchAll(f.ctx, instID)
		switch {
		case errors.Is(err, datastore.ErrNotFound):
		case err != nil:
			rt.Fatal(err)
		default:
			if err := invariant.CheckSnapshot(snap); err != nil {
				rt.Fatalf("the instance after recovery: %v", err)
			}
		}
	})
}

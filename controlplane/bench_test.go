package controlplane_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// benchPlane is a control plane over the in-memory store with n running
// instances spread over sleds of eight slots each, and their active VMMs.
func benchPlane(b *testing.B, n int) (*controlplane.ControlPlane, *datastore.Memory, []vmmstate.ID) {
	b.Helper()
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := datastore.NewMemory()
	var sleds []vmmstate.SledID
	for i := range (n + 7) / 8 {
		sleds = append(sleds, vmmstate.SledIDFromUUID(uuid.MustParse(fmt.Sprintf("5a000000-0000-4000-8000-%012d", i+1))))
	}
	w := memsled.NewWorld(st, clock, 8, sleds...)
	cp, err := controlplane.New(controlplane.Config{ID: cpA, Store: st, Log: st, Reservations: st,
		Agent: w.Agent, Sleds: w.Sleds, Watcher: w, Now: clock, NewID: w.Env.NewID})
	if err != nil {
		b.Fatal(err)
	}
	var vmms []vmmstate.ID
	for i := range n {
		id := inst(uint64(i + 1))
		if _, err := cp.Create(ctx, instancestate.New(id, true, instancestate.AutoRestart{}, now)); err != nil {
			b.Fatal(err)
		}
		s, err := st.InstanceFetchAll(ctx, id)
		if err != nil || !s.HasActive() {
			b.Fatalf("instance %d: %+v, %v", i, s.Instance.Runtime, err)
		}
		rep, _ := w.Agent.Boot(s.Active.ID)
		if _, err := cp.Report(ctx, s.Active.ID, rep); err != nil {
			b.Fatal(err)
		}
		vmms = append(vmms, s.Active.ID)
	}
	return cp, st, vmms
}

// BenchmarkReport is the report reaction (§12) against its baseline, the
// write alone (sagas.RecordReport on the same store): each report a newer
// generation of a running VMM, so that every one is applied. The ratio
// reaction : record is what the control plane adds to a sled-agent's
// report.
func BenchmarkReport(b *testing.B) {
	for _, how := range []string{"record", "reaction"} {
		b.Run(how, func(b *testing.B) {
			cp, st, vmms := benchPlane(b, 1)
			ctx := context.Background()
			row, err := st.VMMFetch(ctx, vmms[0])
			if err != nil {
				b.Fatal(err)
			}
			rt := vmmstate.SledAgentRuntime{State: vmmstate.SledAgentRunning, Generation: row.VMM.Runtime.Generation, TimeUpdated: row.VMM.Runtime.TimeUpdated}
			b.ReportAllocs()
			for b.Loop() {
				if rt.Generation, err = rt.Generation.Next(); err != nil {
					b.Fatal(err)
				}
				rep := instancestate.Report{VMM: rt}
				var res datastore.SledReportResult
				if how == "record" {
					res, err = sagas.RecordReport(ctx, st, vmms[0], rep)
				} else {
					res, err = cp.Report(ctx, vmms[0], rep)
				}
				if err != nil || !res.VMM.Applied {
					b.Fatalf("report: %+v, %v", res, err)
				}
			}
		})
	}
}

// BenchmarkWatcherPass is one pass of the instance watcher over fleets of
// 8 and 512 running instances, reported per VMM checked: the ratio of the
// two is how a pass scales with the fleet (1: linear).
func BenchmarkWatcherPass(b *testing.B) {
	for _, n := range []int{8, 512} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			cp, _, _ := benchPlane(b, n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				p, err := cp.RunTask(ctx, controlplane.TaskInstanceWatcher)
				if err != nil || p.Found != n {
					b.Fatalf("pass: %+v, %v", p, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/vmm")
		})
	}
}

// BenchmarkReconcilerPass is one pass of the instance reconciler over
// fleets of 8 and 512 running instances, all as their users intend: the
// in-memory store's index answers its query from the instances whose
// intent is unmet, none here, so the ratio 512 : 8 is what a quiet fleet
// costs the pass as it grows (1: nothing).
func BenchmarkReconcilerPass(b *testing.B) {
	for _, n := range []int{8, 512} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			cp, _, _ := benchPlane(b, n)
			ctx := context.Background()
			// The first query takes up the index of every row the fleet's
			// making wrote: the store's cost, once, not the pass's.
			if _, err := cp.RunTask(ctx, controlplane.TaskInstanceReconciler); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				p, err := cp.RunTask(ctx, controlplane.TaskInstanceReconciler)
				if err != nil || p.Found != 0 {
					b.Fatalf("pass: %+v, %v", p, err)
				}
			}
		})
	}
}

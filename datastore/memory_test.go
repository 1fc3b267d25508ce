package datastore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/datastore/storetest"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestMemoryConformance runs the conformance suite on the in-memory store.
func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) datastore.Store { return datastore.NewMemory() })
}

// TestMemorySagaLog runs the saga log's conformance suite on Memory.
func TestMemorySagaLog(t *testing.T) {
	storetest.RunSagaLog(t, func(*testing.T) datastore.SagaLog { return datastore.NewMemory() })
}

// The hot operations of a control plane on the in-memory store: a sled
// report, the lock and commit pair, and the writes of an update saga with
// nothing to do.

func benchStore(b testing.TB) (*datastore.Memory, instancestate.Instance, vmmstate.VMM) {
	b.Helper()
	ctx := context.Background()
	st := datastore.NewMemory()
	id := vmmstate.InstanceIDFromUUID(uuid.New())
	in := instancestate.New(id, true, instancestate.AutoRestart{}, t0)
	v := vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()), InstanceID: id, SledID: vmmstate.SledIDFromUUID(uuid.New()),
		Runtime: vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(2), TimeUpdated: t0}}
	in.Runtime.State, in.Runtime.ActiveVMM = instancestate.NexusVMM, v.ID
	if _, err := st.InstanceInsert(ctx, in); err != nil {
		b.Fatal(err)
	}
	if _, err := st.VMMInsert(ctx, v); err != nil {
		b.Fatal(err)
	}
	return st, in, v
}

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func BenchmarkSledReport(b *testing.B) {
	st, _, v := benchStore(b)
	ctx := context.Background()
	r := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentRunning, TimeUpdated: t0}}
	b.ReportAllocs()
	g := uint32(2)
	for b.Loop() {
		g++
		r.VMM.Generation = generation.Of(g)
		if _, err := st.SledReport(ctx, v.ID, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLockAndCommit(b *testing.B) {
	st, in, _ := benchStore(b)
	ctx := context.Background()
	saga := instancestate.UpdaterIDFromUUID(uuid.New())
	rt := in.Runtime
	b.ReportAllocs()
	g := uint32(1)
	for b.Loop() {
		l, err := st.InstanceUpdaterLock(ctx, in.ID, saga)
		if err != nil {
			b.Fatal(err)
		}
		g++
		rt.Generation = generation.Of(g)
		if res, err := st.InstanceCommitUpdate(ctx, in.ID, l, instancestate.Plan{Runtime: rt}); err != nil || !res.Applied {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkUpdateNothing is the store's part of an update saga with
// nothing to do (sagas.Update on a healthy instance): lock, hand the lock
// over to the child (§13.2), read, plan nothing, unlock.
func BenchmarkUpdateNothing(b *testing.B) {
	st, in, _ := benchStore(b)
	ctx := context.Background()
	parent, child := instancestate.UpdaterIDFromUUID(uuid.New()), instancestate.UpdaterIDFromUUID(uuid.New())
	b.ReportAllocs()
	for b.Loop() {
		l, err := st.InstanceUpdaterLock(ctx, in.ID, parent)
		if err != nil {
			b.Fatal(err)
		}
		if l, err = st.InstanceUpdaterInheritLock(ctx, in.ID, l, child); err != nil {
			b.Fatal(err)
		}
		s, err := st.InstanceFetchAll(ctx, in.ID)
		if err != nil {
			b.Fatal(err)
		}
		if _, required, err := instancestate.PlanUpdate(s, t0); err != nil || required {
			b.Fatal(required, err)
		}
		if res, err := st.InstanceUpdaterUnlock(ctx, in.ID, l); err != nil || !res.Applied {
			b.Fatal(res, err)
		}
	}
}

// TestMemoryReservations runs the reservations' conformance suite on
// Memory.
func TestMemoryReservations(t *testing.T) {
	storetest.RunReservations(t, func(*testing.T) storetest.ReservationStore { return datastore.NewMemory() })
}

package storetest

import (
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// The start saga's two writes of its own: linking the new VMM (§14) and
// recording why a start failed (D13).

func testMarkAsStarting(f *fixture) {
	// An instance meant to run, with nothing active, that lost a VMM (D22).
	in := f.noVMM(f.instance())
	f.expect("intend running", true, 0)(f.st.InstanceSetIntendedState(f.ctx, in.ID, instancestate.IntendRunning))
	v := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)

	_, err := f.st.InstanceMarkAsStarting(f.ctx, in.ID, datastore.MarkAsStartingArgs{VMM: f.vmmID(), Reason: failure.StartReasonUser, Now: at(5)})
	f.wantKind("a VMM that does not exist", err, datastore.KindNotFound)

	got := must(f.st.InstanceMarkAsStarting(f.ctx, in.ID, datastore.MarkAsStartingArgs{VMM: v.ID, Reason: failure.StartReasonAutoRestart, Now: at(5)}))
	rt := got.Runtime
	if rt.State != instancestate.NexusVMM || rt.ActiveVMM != v.ID || rt.Generation != gen(3) || rt.TimeLastAutoRestarted != at(5) {
		f.fatal("marked as starting: %+v; want vmm, %v active, generation 3, auto-restarted at %v", rt, v.ID, at(5))
	}
	if s := f.fetch(in.ID); s.Instance != got || s.Active != v {
		f.fatal("stored %+v, want the marked instance %+v with %v active", s.Instance, got, v.ID)
	}
	// Again with the same VMM: the same instance, nothing written.
	if again := must(f.st.InstanceMarkAsStarting(f.ctx, in.ID, datastore.MarkAsStartingArgs{VMM: v.ID, Reason: failure.StartReasonAutoRestart, Now: at(6)})); again != got {
		f.fatal("marking again gave %+v, want the same %+v", again, got)
	}
	// Another start's VMM finds this one active: a lost race (§14).
	other := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
	_, err = f.st.InstanceMarkAsStarting(f.ctx, in.ID, datastore.MarkAsStartingArgs{VMM: other.ID, Reason: failure.StartReasonUser, Now: at(7)})
	f.wantKind("another VMM is active", err, datastore.KindConflict)
	if s := f.fetch(in.ID); s.Instance != got {
		f.fatal("a refused mark wrote: %+v", s.Instance)
	}

	// The intent no longer running: a start that lost to a stop (§14).
	stopped := f.noVMM(f.instance())
	late := f.vmm(stopped.ID, f.sled(), vmmstate.Creating, 1)
	_, err = f.st.InstanceMarkAsStarting(f.ctx, stopped.ID, datastore.MarkAsStartingArgs{VMM: late.ID, Reason: failure.StartReasonUser, Now: at(5)})
	f.wantKind("intent stopped", err, datastore.KindConflict)

	f.expect("delete", true, 0)(f.st.InstanceDelete(f.ctx, stopped.ID, at(6)))
	_, err = f.st.InstanceMarkAsStarting(f.ctx, stopped.ID, datastore.MarkAsStartingArgs{VMM: late.ID, Reason: failure.StartReasonUser, Now: at(7)})
	f.wantKind("a deleted instance", err, datastore.KindNotFound)
}

func testRecordStartFailure(f *fixture) {
	in := f.noVMM(f.instance())
	sf := failure.NewStartFailure(failure.CauseInsufficientCapacity, failure.StartReasonUser, at(3))
	f.expect("record", true, 0)(f.st.InstanceRecordStartFailure(f.ctx, in.ID, sf))
	if got := f.fetch(in.ID).Instance; got.StartFailure != sf || got.Runtime != in.Runtime {
		f.fatal("recorded %+v with runtime %+v; want %+v and the runtime untouched", got.StartFailure, got.Runtime, sf)
	}
	f.expect("the same again", false, datastore.ReasonUnchanged)(f.st.InstanceRecordStartFailure(f.ctx, in.ID, sf))

	bad := sf
	bad.Reason = 0
	_, err := f.st.InstanceRecordStartFailure(f.ctx, in.ID, bad)
	f.wantKind("an invalid start failure", err, datastore.KindInvalidRequest)
	if got := f.fetch(in.ID).Instance.StartFailure; got != sf {
		f.fatal("a refused record wrote %+v", got)
	}

	f.expect("clear", true, 0)(f.st.InstanceRecordStartFailure(f.ctx, in.ID, failure.StartFailure{}))
	if got := f.fetch(in.ID).Instance; got.HasStartFailure() {
		f.fatal("cleared, still %+v", got.StartFailure)
	}
	f.expect("clear again", false, datastore.ReasonUnchanged)(f.st.InstanceRecordStartFailure(f.ctx, in.ID, failure.StartFailure{}))

	_, err = f.st.InstanceRecordStartFailure(f.ctx, f.instanceID(), sf)
	f.wantKind("no such instance", err, datastore.KindNotFound)
	f.expect("delete", true, 0)(f.st.InstanceDelete(f.ctx, in.ID, at(4)))
	_, err = f.st.InstanceRecordStartFailure(f.ctx, in.ID, sf)
	f.wantKind("a deleted instance", err, datastore.KindNotFound)
}

func (f *fixture) vmmID() vmmstate.ID { return vmmstate.IDFromUUID(f.uid('v')) }

func (f *fixture) instanceID() instancestate.ID { return vmmstate.InstanceIDFromUUID(f.uid('i')) }

package storetest

import (
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// testWritesKeepWhatTheyWereNotGiven: instance_update_runtime and a
// commit write the runtime they are given and leave the time of the last
// automatic restart as stored, even when the runtime they carry has none:
// only a start stamps it (D22). A write that cleared it would end every
// cooldown at once.
func testWritesKeepWhatTheyWereNotGiven(f *fixture) {
	id := vmmstate.InstanceIDFromUUID(f.uid('i'))
	in := instancestate.New(id, true, instancestate.AutoRestart{Policy: instancestate.PolicyBestEffort}, t0)
	in.Runtime.State, in.Runtime.TimeLastAutoRestarted = instancestate.NexusNoVMM, at(-1)
	in = must(f.st.InstanceInsert(f.ctx, in))

	rt := in.Runtime
	rt.State, rt.Generation, rt.TimeUpdated, rt.TimeLastAutoRestarted = instancestate.NexusFailed, gen(2), at(1), time.Time{}
	f.expect("a runtime without the restart time", true, 0)(f.st.InstanceUpdateRuntime(f.ctx, id, rt, instancestate.IntentUnchanged))
	if got := f.fetch(id).Instance.Runtime; got.TimeLastAutoRestarted != at(-1) || got.State != instancestate.NexusFailed {
		f.fatal("after instance_update_runtime: %+v, want time_last_auto_restarted kept at %v", got, at(-1))
	}
	// Still cooling down: the write did not end the cooldown.
	if got := must(f.st.FindReincarnatableInstances(f.ctx, at(1))); len(got) != 0 {
		f.fatal("reincarnatable inside the cooldown after a runtime write: %v", got)
	}

	l := must(f.st.InstanceUpdaterLock(f.ctx, id, f.updater()))
	rt.State, rt.Generation, rt.TimeUpdated = instancestate.NexusNoVMM, gen(3), at(2)
	f.expect("a commit without the restart time", true, 0)(f.st.InstanceCommitUpdate(f.ctx, id, l, instancestate.Plan{Runtime: rt}))
	if got := f.fetch(id).Instance.Runtime; got.TimeLastAutoRestarted != at(-1) || got.Generation != gen(3) {
		f.fatal("after the commit: %+v, want time_last_auto_restarted kept at %v", got, at(-1))
	}
}

// testTimesAreMicroseconds: every store keeps a time as StoreTime makes it
// — truncated to the microsecond, in UTC — whatever it is given, so a
// caller may pass time.Now(): nothing is refused for its nanoseconds, and
// both stores read back the same record.
func testTimesAreMicroseconds(f *fixture) {
	const ns = 1999 * time.Nanosecond // 1µs and 999ns: truncated, not rounded, to 1µs
	east := time.FixedZone("east", 2*60*60)
	odd := func(minutes int) time.Time { return at(minutes).Add(ns).In(east) }
	kept := func(minutes int) time.Time { return at(minutes).Add(time.Microsecond) }
	if got := datastore.StoreTime(odd(0)); got != kept(0) {
		f.fatal("StoreTime(%v) = %v, want %v", odd(0), got, kept(0))
	}

	id := vmmstate.InstanceIDFromUUID(f.uid('i'))
	in := instancestate.New(id, true, instancestate.AutoRestart{Cooldown: time.Minute + ns}, odd(0))
	in.Runtime.State, in.Runtime.TimeLastAutoRestarted = instancestate.NexusNoVMM, odd(-10)
	got := must(f.st.InstanceInsert(f.ctx, in))
	want := in
	want.Runtime.TimeUpdated, want.Runtime.TimeLastAutoRestarted = kept(0), kept(-10)
	want.AutoRestart.Cooldown = time.Minute + time.Microsecond
	if got != want || f.fetch(id).Instance != want {
		f.fatal("instance inserted at nanoseconds: %+v, stored %+v; want %+v", got, f.fetch(id).Instance, want)
	}
	if again := must(f.st.InstanceInsert(f.ctx, in)); again != want {
		f.fatal("a retry of the same insert: %+v, want %+v", again, want)
	}

	v := vmmstate.New(f.vmmID(), id, f.sled(), odd(1))
	if got := must(f.st.VMMInsert(f.ctx, v)); got.Runtime.TimeUpdated != kept(1) {
		f.fatal("VMM inserted at nanoseconds: %v", got.Runtime.TimeUpdated)
	}
	linked := must(f.st.InstanceMarkAsStarting(f.ctx, id, datastore.MarkAsStartingArgs{VMM: v.ID, Reason: failure.StartReasonUser, Now: odd(1)}))
	if linked.Runtime.TimeUpdated != kept(1) || f.fetch(id).Instance != linked {
		f.fatal("marked as starting at nanoseconds: %+v", linked.Runtime)
	}
	f.expect("a runtime at nanoseconds", true, 0)(f.st.VMMUpdateRuntime(f.ctx, v.ID, vmmstate.Runtime{State: vmmstate.Starting, Generation: gen(2), TimeUpdated: odd(2)}))
	r := report(vmmstate.SledAgentRunning, 3, odd(3))
	if res := must(f.st.SledReport(f.ctx, v.ID, r)); !res.VMM.Applied {
		f.fatal("a report at nanoseconds: %+v", res)
	}
	if got := must(f.st.VMMFetch(f.ctx, v.ID)).VMM.Runtime; got.TimeUpdated != kept(3) {
		f.fatal("VMM after a report at nanoseconds: %v, want %v", got.TimeUpdated, kept(3))
	}
	f.expect("marked failed at nanoseconds", true, 0)(f.st.VMMMarkFailed(f.ctx, v.ID, failure.SledOff, odd(5)))
	if got := must(f.st.VMMFetch(f.ctx, v.ID)).VMM.Runtime.TimeUpdated; got != kept(5) {
		f.fatal("VMM marked failed at nanoseconds: %v", got)
	}

	m := migration.New(migration.IDFromUUID(f.uid('m')), id, v.ID, f.vmmID(), odd(6))
	if got := must(f.st.MigrationInsert(f.ctx, m)); got.TimeCreated != kept(6) || must(f.st.MigrationFetch(f.ctx, m.ID)).Migration != got {
		f.fatal("migration inserted at nanoseconds: %+v", got)
	}
	f.expect("migration failed at nanoseconds", true, 0)(f.st.MigrationMarkFailed(f.ctx, m.ID, odd(7)))
	if got := must(f.st.MigrationFetch(f.ctx, m.ID)).Migration; got.Source.TimeUpdated != kept(7) {
		f.fatal("migration failed at nanoseconds: %+v", got)
	}
}

// testMigrationInsertNeedsTimeCreated: a migration without its creation
// time is refused alike by every store (invalid_request), nothing written.
func testMigrationInsertNeedsTimeCreated(f *fixture) {
	in := f.instance()
	m := migration.New(migration.IDFromUUID(f.uid('m')), in.ID, f.vmmID(), f.vmmID(), time.Time{})
	_, err := f.st.MigrationInsert(f.ctx, m)
	f.wantKind("a migration without time_created", err, datastore.KindInvalidRequest)
	_, err = f.st.MigrationFetch(f.ctx, m.ID)
	f.wantKind("the refused migration", err, datastore.KindNotFound)
}

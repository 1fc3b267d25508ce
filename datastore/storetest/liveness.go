package storetest

import (
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// testRestartFailuresKept: the instance record's count of failed restarts
// (D33) is stored as inserted, written by a commit whose plan sets one,
// and kept by a commit whose plan does not and by a runtime write.
func testRestartFailuresKept(f *fixture) {
	id := vmmstate.InstanceIDFromUUID(f.uid('i'))
	in := instancestate.New(id, true, instancestate.AutoRestart{}, t0)
	in.Runtime.State, in.RestartFailures = instancestate.NexusNoVMM, 3
	in = must(f.st.InstanceInsert(f.ctx, in))
	if got := f.fetch(id).Instance.RestartFailures; got != 3 || in.RestartFailures != 3 {
		f.fatal("inserted with 3 failed restarts: stored %d, answered %d", got, in.RestartFailures)
	}

	rt := in.Runtime
	rt.State, rt.Generation, rt.TimeUpdated = instancestate.NexusFailed, gen(2), at(1)
	l := must(f.st.InstanceUpdaterLock(f.ctx, id, f.updater()))
	f.expect("a commit that counts a failed restart", true, 0)(f.st.InstanceCommitUpdate(f.ctx, id, l, instancestate.Plan{Runtime: rt, RestartFailures: 4}))
	if got := f.fetch(id).Instance.RestartFailures; got != 4 {
		f.fatal("after a commit writing 4 failed restarts: %d", got)
	}

	rt.State, rt.Generation, rt.TimeUpdated = instancestate.NexusNoVMM, gen(3), at(2)
	l = must(f.st.InstanceUpdaterLock(f.ctx, id, f.updater()))
	f.expect("a commit that counts nothing", true, 0)(f.st.InstanceCommitUpdate(f.ctx, id, l, instancestate.Plan{Runtime: rt}))
	rt.Generation, rt.TimeUpdated = gen(4), at(3)
	f.expect("a runtime write", true, 0)(f.st.InstanceUpdateRuntime(f.ctx, id, rt, instancestate.IntentUnchanged))
	if got := f.fetch(id).Instance.RestartFailures; got != 4 {
		f.fatal("after writes that count nothing: %d failed restarts, want 4 kept", got)
	}
}

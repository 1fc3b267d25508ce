package instancestate_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The ids and times the examples share.
var (
	exInstance  = vmmstate.InstanceIDFromUUID(uuid.MustParse("1b000000-0000-4000-8000-000000000001"))
	exVMM       = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000a"))
	exTarget    = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000b"))
	exNewVMM    = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000c"))
	exSled      = vmmstate.SledIDFromUUID(uuid.MustParse("3d000000-0000-4000-8000-000000000001"))
	exSled2     = vmmstate.SledIDFromUUID(uuid.MustParse("3d000000-0000-4000-8000-000000000002"))
	exMigration = migration.IDFromUUID(uuid.MustParse("4e000000-0000-4000-8000-00000000000a"))
	exUpdater   = instancestate.UpdaterIDFromUUID(uuid.MustParse("5f000000-0000-4000-8000-000000000001"))
	exNow       = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
)

// exOnVMM returns the snapshot of an instance (intending to run) whose
// active VMM is in state st, at instance generation 5 and VMM generation 4.
func exOnVMM(st vmmstate.State) instancestate.Snapshot {
	in := instancestate.New(exInstance, true, instancestate.AutoRestart{}, exNow.Add(-time.Hour))
	in.Runtime.State = instancestate.NexusVMM
	in.Runtime.ActiveVMM = exVMM
	in.Runtime.Generation = generation.Of(5)
	return instancestate.Snapshot{
		Instance: in,
		Active: vmmstate.VMM{ID: exVMM, InstanceID: exInstance, SledID: exSled,
			Runtime: vmmstate.Runtime{State: st, Generation: generation.Of(4), TimeUpdated: exNow.Add(-time.Hour)}},
	}
}

// exMigrating adds a migration from the active VMM to a target VMM in
// state target, with its sides in src and tgt.
func exMigrating(s instancestate.Snapshot, target vmmstate.State, src, tgt migration.State) instancestate.Snapshot {
	s.Instance.Runtime.MigrationID, s.Instance.Runtime.TargetVMM = exMigration, exTarget
	s.Target = vmmstate.VMM{ID: exTarget, InstanceID: exInstance, SledID: exSled2,
		Runtime: vmmstate.Runtime{State: target, Generation: generation.Of(2), TimeUpdated: exNow}}
	s.Migration = migration.New(exMigration, exInstance, exVMM, exTarget, exNow)
	s.Migration.Source.State, s.Migration.Target.State = src, tgt
	return s
}

// exStopped returns the snapshot of an instance with no VMM in nexus
// state n.
func exStopped(n instancestate.NexusState) instancestate.Snapshot {
	in := instancestate.New(exInstance, true, instancestate.AutoRestart{}, exNow.Add(-time.Hour))
	in.Runtime.State = n
	in.Runtime.Generation = generation.Of(5)
	return instancestate.Snapshot{Instance: in}
}

func ExampleEffectiveState() {
	for _, c := range []struct {
		what string
		s    instancestate.Snapshot
	}{
		{"running VMM", exOnVMM(vmmstate.Running)},
		{"stopped VMM not yet unlinked", exOnVMM(vmmstate.Stopped)},
		{"start saga unwound (D10)", exOnVMM(vmmstate.SagaUnwound)},
		{"migration in flight", exMigrating(exOnVMM(vmmstate.Migrating), vmmstate.Migrating, migration.InProgress, migration.InProgress)},
		{"target's saga unwound (D12)", exMigrating(exOnVMM(vmmstate.Running), vmmstate.SagaUnwound, migration.Failed, migration.Failed)},
		{"no VMM", exStopped(instancestate.NexusNoVMM)},
	} {
		e, err := instancestate.EffectiveState(c.s)
		fmt.Printf("%-30s %v %v\n", c.what, e, err)
	}

	// An impossible snapshot is reported, not guessed (D17).
	bad := exStopped(instancestate.NexusVMM)
	_, err := instancestate.EffectiveState(bad)
	fmt.Println(err)
	// Output:
	// running VMM                    running <nil>
	// stopped VMM not yet unlinked   stopping <nil>
	// start saga unwound (D10)       stopped <nil>
	// migration in flight            migrating <nil>
	// target's saga unwound (D12)    running <nil>
	// no VMM                         stopped <nil>
	// instancestate: active_propolis_id: NULL while state is vmm breaks vmm_iff_active_propolis
}

func ExampleDecide() {
	running := exOnVMM(vmmstate.Running)
	for _, r := range instancestate.AllRequests() {
		d, _ := instancestate.Decide(running, r, exNow)
		fmt.Println(exDecision(r, d))
	}
	// Output:
	// start: already_done 200, intent running
	// stop: send_to_sled 200, intent stopped, ask the sled for stopped
	// reboot: send_to_sled 200, intent running, ask the sled for reboot
	// migrate: migrate_saga 200
	// delete: reject 400: cannot delete instance: instance is running or has not yet fully stopped
}

// exDecision prints a decision: the intent only when there is one (D16:
// never for a rejection), the sled request only when one is sent.
func exDecision(r instancestate.Request, d instancestate.Decision) string {
	line := fmt.Sprintf("%v: %v %d", r, d.Action, d.Status)
	if d.Intent != 0 {
		line += ", intent " + d.Intent.String()
	}
	if d.Action == instancestate.ActionSendToSled {
		line += ", ask the sled for " + d.SledRequest.String()
	}
	if !d.Accepted() {
		line += ": " + d.Message
	}
	return line
}

func ExampleDecide_sagaUnwound() {
	// D10: the start saga unwound and left its VMM linked. The instance
	// reads stopped, so start starts and stop is already done.
	s := exOnVMM(vmmstate.SagaUnwound)
	for _, r := range []instancestate.Request{instancestate.RequestStart, instancestate.RequestStop, instancestate.RequestReboot} {
		d, _ := instancestate.Decide(s, r, exNow)
		fmt.Println(exDecision(r, d))
	}
	// Output:
	// start: start_saga 200, intent running
	// stop: already_done 200, intent stopped
	// reboot: reject 400: cannot reboot an instance in state stopped with no VMM
}

func ExamplePlanUpdate() {
	// The guest shut itself down: the sled-agent reported the VMM destroyed.
	s := exOnVMM(vmmstate.Destroyed)
	p, needed, _ := instancestate.PlanUpdate(s, exNow)
	fmt.Println("needed:", needed)
	fmt.Println("state:", p.Runtime.State, "generation:", p.Runtime.Generation, "active VMM unlinked:", p.Runtime.ActiveVMM.IsZero())
	fmt.Println("intent:", p.Intent, "destroy active VMM:", p.DestroyActiveVMM == exVMM)
	fmt.Println("network:", p.Network.Action, "deprovision:", p.Deprovision)

	after, _ := s.Apply(p)
	e, _ := instancestate.EffectiveState(after)
	_, needed, _ = instancestate.PlanUpdate(after, exNow)
	fmt.Println("after:", e, after.Instance.IntendedState, "needed again:", needed)
	// Output:
	// needed: true
	// state: no_vmm generation: 6 active VMM unlinked: true
	// intent: guest_shutdown destroy active VMM: true
	// network: delete deprovision: true
	// after: stopped guest_shutdown needed again: false
}

func ExamplePlanUpdate_migration() {
	// The target reported the migration completed: the instance moves to
	// the target, the migration is unlinked and the reservations swapped.
	s := exMigrating(exOnVMM(vmmstate.Migrating), vmmstate.Running, migration.InProgress, migration.Completed)
	p, _, _ := instancestate.PlanUpdate(s, exNow)
	fmt.Println("active is the target:", p.Runtime.ActiveVMM == exTarget)
	fmt.Println("migration unlinked:", p.Runtime.MigrationID.IsZero(), p.Runtime.TargetVMM.IsZero())
	fmt.Println("network:", p.Network.Action, "on the target's sled:", p.Network.Sled == exSled2)
	fmt.Println("reservations swapped:", p.Reservations == instancestate.Reservations{Active: exVMM, Target: exTarget})
	after, _ := s.Apply(p)
	e, _ := instancestate.EffectiveState(after)
	fmt.Println("after:", e)
	// Output:
	// active is the target: true
	// migration unlinked: true true
	// network: update on the target's sled: true
	// reservations swapped: true
	// after: running
}

func ExampleApplyReport() {
	s := exOnVMM(vmmstate.Running)
	for _, body := range []string{
		`{"vmm_state":{"state":"stopping","gen":5,"time_updated":"2026-11-21T10:00:01Z"}}`,
		`{"vmm_state":{"state":"destroyed","gen":6,"time_updated":"2026-11-21T10:00:02Z"}}`,
		`{"vmm_state":{"state":"running","gen":5,"time_updated":"2026-11-21T10:00:01Z"}}`,
	} {
		var r instancestate.Report
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			fmt.Println(err)
			continue
		}
		var res instancestate.ReportResult
		s, res, _ = instancestate.ApplyReport(s, exVMM, r)
		fmt.Printf("%v: VMM %v@%v, update needed: %v\n", res.VMMOutcome, s.Active.Runtime.State, s.Active.Runtime.Generation, res.UpdateSagaNeeded)
	}

	// An edge the lifecycle does not have is refused; nothing changes.
	var back instancestate.Report
	_ = json.Unmarshal([]byte(`{"vmm_state":{"state":"running","gen":9,"time_updated":"2026-11-21T10:00:03Z"}}`), &back)
	s2, _, err := instancestate.ApplyReport(exOnVMM(vmmstate.Stopped), exVMM, back)
	fmt.Println(err != nil, s2.Active.Runtime.State)
	// Output:
	// applied: VMM stopping@5, update needed: false
	// applied: VMM destroyed@6, update needed: true
	// stale: VMM destroyed@6, update needed: false
	// true stopped
}

// A migration source keeps reporting after the instance moved on to the
// target: no instance links it, so ApplyReport refuses it, but its own row
// and the migration's row are still written, with their guards.
func ExampleApplyReportToRows() {
	vmm := vmmstate.Runtime{State: vmmstate.Migrating, Generation: generation.Of(4), TimeUpdated: exNow}
	mig := migration.New(exMigration, exInstance, exVMM, exTarget, exNow)

	var r instancestate.Report
	_ = json.Unmarshal([]byte(`{
		"vmm_state": {"state":"destroyed","gen":5,"time_updated":"2026-11-21T10:00:01Z"},
		"migration_out": {"migration_id":"4e000000-0000-4000-8000-00000000000a","state":"completed","gen":2,"time_updated":"2026-11-21T10:00:01Z"},
		"migration_in": null}`), &r)
	res, err := instancestate.ApplyReportToRows(exVMM, instancestate.Rows{VMM: &vmm, MigrationOut: &mig}, r)
	fmt.Println(err, res.VMMOutcome, vmm.State, res.MigrationOutOutcome, mig.Source.State, res.UpdateSagaNeeded)

	// The same report again is stale, row by row.
	res, _ = instancestate.ApplyReportToRows(exVMM, instancestate.Rows{VMM: &vmm, MigrationOut: &mig}, r)
	fmt.Println(res.VMMOutcome, res.MigrationOutOutcome)
	// Output:
	// <nil> applied destroyed applied completed true
	// stale stale
}

func ExampleReincarnate() {
	// A failed instance, restarted automatically two minutes ago.
	s := exStopped(instancestate.NexusFailed)
	s.Instance.Runtime.TimeLastAutoRestarted = exNow.Add(-2 * time.Minute)
	for _, now := range []time.Time{exNow, exNow.Add(3 * time.Minute)} {
		r, _ := instancestate.Reincarnate(s, now)
		fmt.Println(r.Needs, r.Status, r.Should, r.Why)
	}

	// With the policy never, it stays down.
	s.Instance.AutoRestart.Policy = instancestate.PolicyNever
	r, _ := instancestate.Reincarnate(s, exNow)
	fmt.Println(r.Needs, r.Status, r.Should, r.Why)
	// Output:
	// true cooling_down false the instance failed; waiting for the auto-restart cooldown to end
	// true will_reincarnate true the instance failed and intends to run: restart it
	// true nirvana false the instance failed, but its auto-restart policy is never
}

func ExampleConditions() {
	// Stopped after an automatic restart failed for want of capacity, and
	// restarted a minute ago: it says why, and when it will try again.
	s := exStopped(instancestate.NexusNoVMM)
	s.Instance.Runtime.TimeLastAutoRestarted = exNow.Add(-time.Minute)
	s.Instance, _ = s.Instance.RecordStartFailure(failure.NewStartFailure(failure.CauseInsufficientCapacity, failure.StartReasonAutoRestart, exNow.Add(-time.Minute)))
	conds, _ := instancestate.Conditions(s, exNow)
	for _, c := range conds {
		fmt.Printf("%v (%s): %s\n", c.Type, c.Reason, c.Message())
	}
	// Output:
	// StartFailed (insufficient_capacity): automatic restart failed: no sled has enough capacity (transient; a retry may succeed)
	// AutoRestartCoolingDown (cooldown): an automatic restart is due and waits for the cooldown to end at 2026-11-21T10:04:00Z
}

func ExampleNext() {
	stopRequested := exOnVMM(vmmstate.Running)
	stopRequested.Instance.IntendedState = instancestate.IntendStopped
	for _, c := range []struct {
		what string
		s    instancestate.Snapshot
	}{
		{"running as intended", exOnVMM(vmmstate.Running)},
		{"stop requested", stopRequested},
		{"VMM destroyed", exOnVMM(vmmstate.Destroyed)},
		{"failed", exStopped(instancestate.NexusFailed)},
		{"created, not started", exStopped(instancestate.NexusNoVMM)},
	} {
		n, _ := instancestate.Next(c.s, exNow)
		fmt.Printf("%-21s %v\n", c.what, n.Action)
	}
	// Output:
	// running as intended   none
	// stop requested        stop
	// VMM destroyed         run_update
	// failed                reincarnate
	// created, not started  start
}

// A background task's sweep: validate each snapshot once with Reset, then
// ask the decisions it needs of one reused Checked. A snapshot that breaks
// a rule is reported and skipped; nothing is allocated per instance.
func ExampleChecked_Reset() {
	broken := exOnVMM(vmmstate.Running)
	broken.Active.InstanceID = vmmstate.InstanceIDFromUUID(uuid.MustParse("1b000000-0000-4000-8000-0000000000ff"))
	fleet := []instancestate.Snapshot{
		exOnVMM(vmmstate.Running),
		exOnVMM(vmmstate.Destroyed),
		exStopped(instancestate.NexusFailed),
		broken,
	}
	var c instancestate.Checked
	for i := range fleet {
		if err := c.Reset(&fleet[i]); err != nil {
			fmt.Printf("%d: skipped: %v\n", i, err)
			continue
		}
		_, required, _ := c.PlanUpdate(exNow)
		fmt.Printf("%d: %-8v update %-5v reincarnate %-5v next %v\n",
			i, c.EffectiveState(), required, c.Reincarnate(exNow).Should, c.Next(exNow).Action)
	}
	// Output:
	// 0: running  update false reincarnate false next none
	// 1: stopping update true  reincarnate false next run_update
	// 2: failed   update false reincarnate true  next reincarnate
	// 3: skipped: instancestate: active_vmm.instance_id: 1b000000-0000-4000-8000-0000000000ff, but the instance is 1b000000-0000-4000-8000-000000000001 breaks ids_agree
}

func ExampleMarkAsStarting() {
	s := exStopped(instancestate.NexusFailed)
	in, err := instancestate.MarkAsStarting(s, vmmstate.New(exNewVMM, s.Instance.ID, exSled2, exNow), failure.StartReasonAutoRestart, exNow)
	fmt.Println(in.Runtime.State, in.Runtime.Generation, in.Runtime.ActiveVMM == exNewVMM, in.Runtime.TimeLastAutoRestarted.Equal(exNow), err)

	// Another saga's VMM is already running the instance: a conflict.
	_, err = instancestate.MarkAsStarting(exOnVMM(vmmstate.Running), vmmstate.New(exNewVMM, exInstance, exSled2, exNow), failure.StartReasonUser, exNow)
	fmt.Println(err)
	// Output:
	// vmm 6 true true <nil>
	// instancestate: mark as starting: instance changed state before it could be started
}

func ExampleInstance_Lock() {
	s := exOnVMM(vmmstate.Destroyed)
	in, lock, _ := s.Instance.Lock(exUpdater)
	fmt.Println("locked:", in.IsLocked(), "at", lock.Gen)

	other := instancestate.UpdaterIDFromUUID(uuid.MustParse("5f000000-0000-4000-8000-000000000002"))
	_, _, err := in.Lock(other)
	fmt.Println(err)

	p, _, _ := instancestate.PlanUpdate(s, exNow)
	in, ok, err := in.Commit(lock, p)
	fmt.Println("committed:", ok, err, "state:", in.Runtime.State, "locked:", in.IsLocked())
	_, ok, err = in.Commit(lock, p)
	fmt.Println("again:", ok, err)
	// Output:
	// locked: true at 2
	// instancestate: lock: instance already locked by another saga
	// committed: true <nil> state: no_vmm locked: false
	// again: false <nil>
}

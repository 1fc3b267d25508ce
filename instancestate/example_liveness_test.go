package instancestate_test

import (
	"fmt"
	"time"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// A VMM that has been stopping for an hour is past its deadline (D32):
// the NotProgressing condition says so, and Next asks to look — it fails
// nothing (D30).
func ExampleNotProgressing() {
	s := exOnVMM(vmmstate.Stopping) // stopping since an hour before exNow
	c, stuck, _ := instancestate.NotProgressing(s, exNow)
	fmt.Println(stuck, c.Type, c.Reason, c.Record.Kind, c.Since.Format(time.RFC3339))

	next, _ := instancestate.Next(s, exNow)
	fmt.Println(next.Action, next.Record.Kind, next.Sled == exSled)

	// With the stopping deadline off, nothing is reported.
	s.Policy.Deadlines.Stopping = instancestate.DeadlineOff
	_, stuck, _ = instancestate.NotProgressing(s, exNow)
	fmt.Println(stuck)
	// Output:
	// true NotProgressing stopping active_vmm 2026-11-21T09:00:00Z
	// inspect active_vmm true
	// false
}

// KubeVirt's restart backoff: 10 s × failures², at most 300 s (D33).
func ExampleBackoff_Wait() {
	b := instancestate.KubeVirtBackoff()
	for _, n := range []int{1, 2, 3, 5, 6, 20} {
		fmt.Printf("%d: %v\n", n, b.Wait(n))
	}
	// Output:
	// 1: 10s
	// 2: 40s
	// 3: 1m30s
	// 5: 4m10s
	// 6: 5m0s
	// 20: 5m0s
}

// A failed instance with the backoff on waits for the backoff of its count
// of failed restarts after the last automatic restart, instead of the
// fixed cooldown (D33).
func ExampleBackoff() {
	s := exStopped(instancestate.NexusFailed)
	s.Instance.Runtime.TimeLastAutoRestarted = exNow.Add(-time.Minute)
	s.Instance.RestartFailures = 3

	r, _ := instancestate.Reincarnate(s, exNow) // the fixed cooldown: 5 minutes
	fmt.Println(r.Status, r.Until.Sub(exNow))

	s.Policy.Backoff = instancestate.KubeVirtBackoff()
	r, _ = instancestate.Reincarnate(s, exNow) // 3 failures: 90 s after the last restart
	fmt.Println(r.Status, r.Until.Sub(exNow))
	// Output:
	// cooling_down 4m0s
	// cooling_down 30s
}

// A migration with no progress for longer than its deadline is aborted
// (D34): stop its target, whose halt fails it; the source keeps running.
func ExampleStalledMigration() {
	s := exMigrating(exOnVMM(vmmstate.Migrating), vmmstate.Migrating, migration.InProgress, migration.InProgress)
	s.Policy.Migration = instancestate.KubeVirtMigrationPolicy()
	now := exNow.Add(3 * time.Minute) // 150 s without progress have passed

	a, stalled, _ := instancestate.StalledMigration(s, now)
	fmt.Println(stalled, a.Reason, a.Migration == exMigration, a.StopVMM == exTarget)

	next, _ := instancestate.Next(s, now)
	fmt.Println(next.Action)
	// Output:
	// true no_progress true true
	// abort_migration
}

// While the fleet's limit of migrations in flight is reached, a migration
// request is refused with 503 (D35).
func ExampleMigrationPolicy() {
	s := exOnVMM(vmmstate.Running)
	s.Policy.Migration = instancestate.MigrationPolicy{FleetLimit: 5}
	s.MigrationsInFlight = instancestate.MigrationLoad{Fleet: 5}
	d, _ := instancestate.DecideMigrate(s, exSled2)
	fmt.Println(d.Status, d.Message)
	// Output:
	// 503 5 migrations are in flight in the fleet, its limit of 5: try again later
}

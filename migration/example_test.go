package migration_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

var (
	exMig    = migration.IDFromUUID(uuid.MustParse("6d1a0000-0000-4000-8000-000000000001"))
	exInst   = vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000001"))
	exSource = vmmstate.IDFromUUID(uuid.MustParse("5c000000-0000-4000-8000-000000000001"))
	exTarget = vmmstate.IDFromUUID(uuid.MustParse("7a000000-0000-4000-8000-000000000002"))
	exNow    = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
)

// A whole migration: the saga inserts the record, both sled-agents report
// their side, and the instance-update saga reads the outcome (§6.8, §8.2,
// §13.3).
func Example() {
	m := migration.New(exMig, exInst, exSource, exTarget, exNow)
	fmt.Println("inserted:", m.Source.State, m.Source.Generation, m.Target.State, m.Target.Generation)

	// The source's sled-agent folds Propolis's observations (§3.5) ...
	out, _, _ := migration.Fold(migration.Report{}, false, exMig, migration.InProgress, exNow.Add(time.Second))
	out, _, _ = migration.Fold(out, true, exMig, migration.Completed, exNow.Add(2*time.Second))
	// ... and Nexus writes the report with the guards of §8.2.
	m, outcome, err := m.ApplySource(exSource, out)
	fmt.Println("source report:", outcome, err)
	fmt.Println("terminal:", m.IsTerminal(), "completed:", m.EitherSideCompleted(), "failed:", m.EitherSideFailed())

	in := migration.Report{MigrationID: exMig, State: migration.Completed, Generation: out.Generation, TimeUpdated: exNow.Add(3 * time.Second)}
	m, outcome, _ = m.ApplyTarget(exTarget, in)
	fmt.Println("target report:", outcome)
	fmt.Println("now:", m.Source.State, m.Source.Generation, m.Target.State, m.Target.Generation)
	// Output:
	// inserted: pending 1 pending 1
	// source report: applied <nil>
	// terminal: true completed: true failed: false
	// target report: applied
	// now: completed 3 completed 3
}

// A report that is not newer than the side is dropped without error (D5);
// one from a VMM that is not that side is refused, stale or not (§8.2).
func ExampleRecord_ApplyTarget() {
	m := migration.New(exMig, exInst, exSource, exTarget, exNow)
	in := migration.Report{MigrationID: exMig, State: migration.InProgress, Generation: generation.Of(2), TimeUpdated: exNow}

	m, outcome, err := m.ApplyTarget(exTarget, in)
	fmt.Println(outcome, err, m.Target)

	_, outcome, err = m.ApplyTarget(exTarget, in) // delivered again
	fmt.Println(outcome, err)

	_, _, err = m.ApplyTarget(exSource, in) // the source VMM cannot write the target side
	var me *migration.Error
	fmt.Println(errors.Is(err, migration.ErrWrongVMM), errors.As(err, &me), me.Field)
	// Output:
	// applied <nil> 7a000000-0000-4000-8000-000000000002 in_progress@2
	// stale <nil>
	// true true target_propolis_id
}

// A side that has an outcome keeps it: a newer report for a terminal side
// changes nothing (D6).
func ExampleRecord_ApplySource() {
	m := migration.New(exMig, exInst, exSource, exTarget, exNow)
	done := migration.Report{MigrationID: exMig, State: migration.Completed, Generation: generation.Of(3), TimeUpdated: exNow}
	m, outcome, _ := m.ApplySource(exSource, done)
	fmt.Println(outcome, m.Source)

	late := migration.Report{MigrationID: exMig, State: migration.Failed, Generation: generation.Of(4), TimeUpdated: exNow}
	m, outcome, _ = m.ApplySource(exSource, late)
	fmt.Println(outcome, m.Source)
	// Output:
	// applied 5c000000-0000-4000-8000-000000000001 completed@3
	// unchanged 5c000000-0000-4000-8000-000000000001 completed@3
}

// The migrate saga's unwinding fails the sides still in flight (§8.3); a
// side that already has an outcome keeps it, and a second call is a no-op.
func ExampleRecord_MarkFailed() {
	m := migration.New(exMig, exInst, exSource, exTarget, exNow)
	m, _, _ = m.ApplySource(exSource, migration.Report{MigrationID: exMig, State: migration.Completed, Generation: generation.Of(2), TimeUpdated: exNow})

	m, outcome, _ := m.MarkFailed(exNow.Add(time.Minute))
	fmt.Println(outcome, m.Source.State, m.Source.Generation, m.Target.State, m.Target.Generation)
	_, outcome, _ = m.MarkFailed(exNow.Add(2 * time.Minute))
	fmt.Println(outcome)
	// Output:
	// applied completed 2 failed 2
	// unchanged
}

// A report whose migration_in and migration_out name one migration is
// refused before anything is applied (§8.2 step 1).
func ExampleCheckInOut() {
	rep := migration.Report{MigrationID: exMig, State: migration.InProgress, Generation: generation.Of(2), TimeUpdated: exNow}
	fmt.Println(migration.CheckInOut(&rep, nil))
	err := migration.CheckInOut(&rep, &rep)
	fmt.Println(errors.Is(err, migration.ErrSameMigration))
	// Output:
	// <nil>
	// true
}

// The sled-agent's side of §3.5: a target starts pending at generation 1,
// each change of state bumps the generation, repeats change nothing, and a
// new migration starts again at 2.
func ExampleFold() {
	cur := migration.Registered(exMig, exNow)
	fmt.Println(cur.State, cur.Generation)
	for _, obs := range []migration.State{migration.InProgress, migration.InProgress, migration.Completed} {
		var changed bool
		cur, changed, _ = migration.Fold(cur, true, exMig, obs, exNow)
		fmt.Println(cur.State, cur.Generation, changed)
	}
	next := migration.IDFromUUID(uuid.MustParse("6d1a0000-0000-4000-8000-000000000002"))
	cur, _, _ = migration.Fold(cur, true, next, migration.InProgress, exNow)
	fmt.Println(cur.State, cur.Generation)
	// Output:
	// pending 1
	// in_progress 2 true
	// in_progress 2 false
	// completed 3 true
	// in_progress 2
}

// A VMM that halts fails its migrations still in flight; a completed one
// stays completed (§3.5).
func ExampleHalt() {
	inFlight := migration.Report{MigrationID: exMig, State: migration.InProgress, Generation: generation.Of(2), TimeUpdated: exNow}
	halted, changed, _ := migration.Halt(inFlight, exNow.Add(time.Second))
	fmt.Println(halted.State, halted.Generation, changed)

	done := migration.Report{MigrationID: exMig, State: migration.Completed, Generation: generation.Of(3), TimeUpdated: exNow}
	halted, changed, _ = migration.Halt(done, exNow.Add(time.Second))
	fmt.Println(halted.State, halted.Generation, changed)
	// Output:
	// failed 3 true
	// completed 3 false
}

func ExampleParseState() {
	s, err := migration.ParseState("in_progress")
	fmt.Println(s, s.IsTerminal(), err)
	_, err = migration.ParseState("succeeded")
	fmt.Println(errors.Is(err, migration.ErrUnknown))
	fmt.Println(err)
	fmt.Println(migration.State(0))
	// Output:
	// in_progress false <nil>
	// true
	// migration.State: unknown value "succeeded" (accepted: pending, in_progress, failed, completed)
	// migration.State(0)
}

// The rows of the edge table the diagrams print.
func ExampleSuccessors() {
	for _, s := range migration.AllStates() {
		fmt.Println(s, "→", migration.Successors(s))
	}
	// Output:
	// pending → [in_progress failed completed]
	// in_progress → [failed completed]
	// failed → []
	// completed → []
}

// The sled-agent's MigrationRuntimeState on the wire (§3.2).
func ExampleReport_UnmarshalJSON() {
	var rep migration.Report
	err := json.Unmarshal([]byte(`{"migration_id":"6d1a0000-0000-4000-8000-000000000001","state":"completed","gen":3,"time_updated":"2026-11-21T10:00:03Z"}`), &rep)
	fmt.Println(rep, err)

	err = json.Unmarshal([]byte(`{"migration_id":"6d1a0000-0000-4000-8000-000000000001","state":"completed","gen":3}`), &rep)
	fmt.Println(err)
	// Output:
	// 6d1a0000-0000-4000-8000-000000000001 completed@3 <nil>
	// time_updated: missing (accepted: an RFC 3339 time such as 2026-11-21T10:00:00Z)
}

func ExampleRecord_Validate() {
	m := migration.New(exMig, exInst, exSource, exSource, exNow)
	fmt.Println(m.Validate())
	// Output:
	// migration: target side: target_propolis_id = 5c000000-0000-4000-8000-000000000001, want a VMM other than source_propolis_id: invalid migration record
}

// The migration object of the vmlife snapshot document: the migration
// table's columns, a side not yet reported has a null time (§5.4).
func ExampleRecord_MarshalJSON() {
	m := migration.New(exMig, exInst, exSource, exTarget, exNow)
	b, _ := json.MarshalIndent(m, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "id": "6d1a0000-0000-4000-8000-000000000001",
	//   "instance_id": "1a000000-0000-4000-8000-000000000001",
	//   "source_propolis_id": "5c000000-0000-4000-8000-000000000001",
	//   "target_propolis_id": "7a000000-0000-4000-8000-000000000002",
	//   "source_state": "pending",
	//   "source_gen": 1,
	//   "time_source_updated": null,
	//   "target_state": "pending",
	//   "target_gen": 1,
	//   "time_target_updated": null,
	//   "time_created": "2026-11-21T10:00:00Z"
	// }
}

package instancestate

import (
	"fmt"
	"testing"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// want is an expected Decision, written from §10 (and D10, D16).
type want struct {
	action  Action
	status  int
	message string
	sled    SledRequest
}

func checkWant(t *testing.T, what string, r Request, d Decision, w want) {
	t.Helper()
	checkD16(t, what, r, d)
	if d.Action != w.action || d.Status != w.status || (w.message != "" && d.Message != w.message) || d.SledRequest != w.sled {
		t.Errorf("%s: got {%v %d %q %v}, want {%v %d %q %v}", what, d.Action, d.Status, d.Message, d.SledRequest, w.action, w.status, w.message, w.sled)
	}
}

func decide(t *testing.T, s Snapshot, r Request) Decision {
	t.Helper()
	d, err := Decide(s, r, t1)
	if err != nil {
		t.Fatalf("Decide(%v): %v", r, err)
	}
	return d
}

var allExternal = vmmstate.AllExternal()

// caseA is §10.2 case A (no active VMM), every E and every verb: run,
// reboot, stop and migrate. Only stop has non-refusals.
func caseA(e State, verb string) want {
	switch e {
	case Stopped:
		if verb == "stop" {
			return want{action: ActionAlreadyDone, status: 200}
		}
		return want{action: ActionReject, status: 400, message: "cannot " + verb + " an instance in state stopped with no VMM"}
	case Creating:
		return want{action: ActionReject, status: 400, message: "cannot change instance state while it is still being created"}
	case Failed:
		if verb == "stop" {
			return want{action: ActionUpdateRuntime, status: 200}
		}
		return want{action: ActionReject, status: 400, message: "instance state cannot be changed from failed"}
	case Destroyed:
		return want{action: ActionReject, status: 400, message: "instance state cannot be changed from destroyed"}
	default:
		return want{action: ActionReject, status: 500, message: "instance is active but not resident on a sled"}
	}
}

// TestCaseARefusalEveryE walks every E of §10.2 case A's refusals through
// noVMMRefusal, including the rows no valid snapshot reaches ("anything
// else": an active state without a VMM).
func TestCaseARefusalEveryE(t *testing.T) {
	for _, e := range allExternal {
		for _, verb := range []string{"run", "reboot", "stop", "migrate"} {
			w := caseA(e, verb)
			if w.action != ActionReject {
				continue // stop's no-ops are Decide's own; see TestCaseA
			}
			d := noVMMRefusal(e, verb)
			if d.Action != ActionReject || d.Status != w.status || d.Message != w.message || d.Intent != 0 {
				t.Errorf("%v, %s: got %+v, want %+v", e, verb, d, w)
			}
		}
	}
}

// TestCaseA decides stop and reboot for every E an instance without a
// resident VMM can have: the four nexus states without a VMM, and a
// saga_unwound active VMM, which is no VMM (D10).
func TestCaseA(t *testing.T) {
	cases := []struct {
		name string
		b    builder
		e    State
	}{
		{"no_vmm", snap(), Stopped},
		{"creating", snap().nexus(NexusCreating), Creating},
		{"failed", snap().nexus(NexusFailed), Failed},
		{"destroyed", snap().nexus(NexusDestroyed), Destroyed},
		{"saga_unwound active", snap().vmm(vmmstate.SagaUnwound), Stopped},
		{"saga_unwound active, failed migration", snap().vmm(vmmstate.SagaUnwound).migration(migration.Failed, migration.Failed).target(vmmstate.SagaUnwound), Stopped},
	}
	for _, c := range cases {
		s := c.b.valid(t)
		if got, _ := EffectiveState(s); got != c.e {
			t.Fatalf("%s: E = %v, want %v", c.name, got, c.e)
		}
		for _, r := range []Request{RequestStop, RequestReboot} {
			w := caseA(c.e, r.String())
			if c.e == Destroyed {
				w = deleted // D23
			}
			checkWant(t, c.name+" "+r.String(), r, decide(t, s, r), w)
		}
	}
}

// deleted is D23's answer to any request on a deleted instance.
var deleted = want{action: ActionReject, status: 404, message: `not found: instance with id "1b000000-0000-4000-8000-000000000001"`}

// TestD23DeletedInstanceIsNotFound: every request on a deleted instance
// answers 404, as Omicron's API does for a record it no longer finds.
func TestD23DeletedInstanceIsNotFound(t *testing.T) {
	s := snap().nexus(NexusDestroyed).intent(IntendDestroyed).valid(t)
	for _, r := range AllRequests() {
		checkWant(t, "deleted, "+r.String(), r, decide(t, s, r), deleted)
	}
	if d, err := DecideMigrate(s, sled2); err != nil || d.Status != 404 {
		t.Errorf("DecideMigrate on a deleted instance: %+v, %v", d, err)
	}
	// The delete saga's record step stays idempotent (§8.1): a replay on
	// the deleted record changes nothing and is no error.
	if in, err := Delete(s, t1); err != nil || in != s.Instance {
		t.Errorf("Delete replayed: %+v, %v", in.Runtime, err)
	}
}

// TestD23RebootWithNoEdgeIsRefusedLocally: a reboot whose VMM has no D7
// edge to rebooting (stopping, stopped, failed, destroyed) could only fail
// at the sled-agent; vmlife answers the API's 400 itself.
func TestD23RebootWithNoEdgeIsRefusedLocally(t *testing.T) {
	for _, st := range []vmmstate.State{vmmstate.Stopping, vmmstate.Stopped, vmmstate.Destroyed, vmmstate.Failed(failure.FromSledAgent)} {
		d := decide(t, snap().vmm(st).valid(t), RequestReboot)
		if d.Action != ActionReject || d.Status != 400 || d.Intent != 0 {
			t.Errorf("reboot of a %v VMM: %+v; want a local 400 writing no intent (D16)", st, d)
		}
	}
	for _, st := range []vmmstate.State{vmmstate.Creating, vmmstate.Starting, vmmstate.Running, vmmstate.Rebooting, vmmstate.Migrating} {
		if d := decide(t, snap().vmm(st).valid(t), RequestReboot); d.Action != ActionSendToSled {
			t.Errorf("reboot of a %v VMM: %+v; want it sent to the sled", st, d)
		}
	}
}

// TestCaseAStopFailedUpdatesRuntime: stopping a failed instance writes
// no_vmm at generation+1 stamped now, every other runtime field unchanged
// (§10.2), along a nexus edge.
func TestCaseAStopFailedUpdatesRuntime(t *testing.T) {
	s := snap().nexus(NexusFailed).lastAutoRestart(t0).valid(t)
	d := decide(t, s, RequestStop)
	wantRT := s.Instance.Runtime
	wantRT.State, wantRT.Generation, wantRT.TimeUpdated = NexusNoVMM, gen(instGen+1), t1
	if d.Action != ActionUpdateRuntime || d.Runtime != wantRT || d.Intent != IntendStopped {
		t.Fatalf("got %+v, want update_runtime to %+v with intent stopped", d, wantRT)
	}
	if !CanMove(NexusFailed, NexusNoVMM) {
		t.Fatal("failed → no_vmm is not a nexus edge")
	}
	// At the largest generation nothing can be written: an error, not a wrap.
	_, err := Decide(snap().nexus(NexusFailed).gen(maxGen()).valid(t), RequestStop, t1)
	checkRuleErr(t, "stop at max generation", err, "", "state_generation")
}

// caseB is §10.2 case B: a request sent to the active VMM's sled.
func caseB(e State, r Request) want {
	switch e {
	case Repairing, Failed, Destroyed:
		return want{action: ActionReject, status: 400, message: fmt.Sprintf("instance state cannot be changed from state %q", e.String())}
	}
	sled := map[Request]SledRequest{RequestStop: SledRequestStopped, RequestReboot: SledRequestReboot, RequestStart: SledRequestRunning}[r]
	return want{action: ActionSendToSled, status: 200, sled: sled}
}

// TestCaseBEveryE walks every E of §10.2 case B through toSled, including
// the refusals (failed, destroyed, repairing) no valid snapshot with a
// resident VMM reaches.
func TestCaseBEveryE(t *testing.T) {
	for _, e := range allExternal {
		for _, c := range []struct {
			r      Request
			req    SledRequest
			intent IntendedState
		}{{RequestStop, SledRequestStopped, IntendStopped}, {RequestReboot, SledRequestReboot, IntendRunning}} {
			base := snap().vmm(vmmstate.Running).build()
			d := base.toSled(e, c.req, c.intent)
			checkWant(t, fmt.Sprintf("%v %v", e, c.r), c.r, d, caseB(e, c.r))
		}
	}
}

// TestCaseB decides stop and reboot for every resident active VMM state,
// with no migration, one in flight and one failed: each is sent to the
// sled with the right request, whatever E is.
func TestCaseB(t *testing.T) {
	for _, st := range allVMMStates {
		if st == vmmstate.SagaUnwound {
			continue // not resident (D10): case A
		}
		for name, b := range map[string]builder{
			"no migration":     snap().vmm(st),
			"migration":        snap().vmm(st).migration(migration.InProgress, migration.Pending).target(vmmstate.Migrating),
			"failed migration": snap().vmm(st).migration(migration.Failed, migration.InProgress).target(vmmstate.Migrating),
		} {
			s := b.valid(t)
			e, _ := EffectiveState(s)
			for _, r := range []Request{RequestStop, RequestReboot} {
				w := caseB(e, r)
				if r == RequestReboot && w.action == ActionSendToSled && st != vmmstate.Rebooting && !vmmstate.CanTransition(st.Kind(), vmmstate.KindRebooting) {
					// D23: no edge to rebooting, refused locally.
					w = want{action: ActionReject, status: 400, message: "cannot reboot an instance whose VMM is " + st.Kind().String()}
				}
				checkWant(t, fmt.Sprintf("%v, %s, E %v, %v", st, name, e, r), r, decide(t, s, r), w)
			}
		}
	}
}

// startWant is §10.3 for every E, with D10: "stopped with a saga_unwound
// active VMM" starts.
func startWant(e State) want {
	switch e {
	case Starting, Running, Rebooting, Migrating:
		return want{action: ActionAlreadyDone, status: 200}
	case Stopped, Failed:
		return want{action: ActionStartSaga, status: 200}
	case Stopping:
		return want{action: ActionReject, status: 409, message: "instance must finish stopping before it can be started"}
	default:
		return want{action: ActionReject, status: 409, message: fmt.Sprintf("instance is in state %v but it must be stopped to be started", e)}
	}
}

// TestStartEveryE decides start for every nexus state without a VMM, every
// active VMM state, and every migration over a running VMM, against §10.3's
// row for the E each reads.
func TestStartEveryE(t *testing.T) {
	var cases []builder
	for _, n := range []NexusState{NexusCreating, NexusNoVMM, NexusFailed, NexusDestroyed} {
		cases = append(cases, snap().nexus(n))
	}
	for _, st := range allVMMStates {
		cases = append(cases, snap().vmm(st))
		for _, src := range allSideStates {
			cases = append(cases, snap().vmm(st).migration(src, migration.InProgress).target(vmmstate.Migrating))
		}
	}
	seen := map[State]bool{}
	for _, b := range cases {
		s := b.valid(t)
		e, _ := EffectiveState(s)
		seen[e] = true
		w := startWant(e)
		if e == Destroyed {
			w = deleted // D23
		}
		checkWant(t, fmt.Sprintf("start, E %v, active %v", e, s.Active.Runtime.State), RequestStart, decide(t, s, RequestStart), w)
	}
	// Every E but repairing, which nothing derives (§2.1).
	if len(seen) != len(allExternal)-1 || seen[Repairing] {
		t.Fatalf("start was decided for E in %v, want all but repairing", seen)
	}
}

// TestStartUnitTests replays §10.3's unit tests.
func TestStartUnitTests(t *testing.T) {
	ok := func(name string, b builder) {
		t.Helper()
		if d := decide(t, b.valid(t), RequestStart); !d.Accepted() {
			t.Errorf("%s: %+v, want accepted", name, d)
		}
	}
	ok("no_vmm, no VMM", snap())
	ok("vmm, saga_unwound VMM", snap().vmm(vmmstate.SagaUnwound))
	for _, st := range []vmmstate.State{vmmstate.Starting, vmmstate.Running, vmmstate.Rebooting, vmmstate.Migrating} {
		d := decide(t, snap().vmm(st).valid(t), RequestStart)
		if d.Action != ActionAlreadyDone {
			t.Errorf("vmm, %v VMM: %+v, want already_done (idempotent)", st, d)
		}
	}
	if d := decide(t, snap().nexus(NexusCreating).valid(t), RequestStart); d.Accepted() {
		t.Errorf("creating, no VMM: %+v, want rejected", d)
	}
}

// TestMigrateChecksInOrder walks §10.5's checks: each alone, then pairs
// to show the earlier check wins. (Local storage is outside vmlife's
// records.) Decide makes every check but the destination's.
func TestMigrateChecksInOrder(t *testing.T) {
	mustRun := want{action: ActionReject, status: 400, message: "instance must be running before it can migrate"}
	onDest := want{action: ActionReject, status: 400, message: "instance is already running on destination sled"}
	already := want{action: ActionReject, status: 409, message: "instance is already migrating"}
	accepted := want{action: ActionMigrateSaga, status: 200}

	type row struct {
		name string
		b    builder
		dest vmmstate.SledID
		w    want
	}
	rows := []row{
		{"no VMM", snap(), sled2, mustRun},
		{"failed", snap().nexus(NexusFailed), sled2, mustRun},
		{"saga_unwound VMM (D10: no VMM)", snap().vmm(vmmstate.SagaUnwound), sled2, mustRun},
		{"running, same sled", snap().vmm(vmmstate.Running), sled1, onDest},
		{"running, migrating already", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Pending).target(vmmstate.Migrating), sled2, already},
		{"running, leftovers of an unwound migration", snap().vmm(vmmstate.Running).migration(migration.Failed, migration.Failed).target(vmmstate.SagaUnwound), sled2, already},
		{"check 2 before 3", snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.Pending).target(vmmstate.Migrating), sled1, onDest},
		{"check 1 before 3", snap().vmm(vmmstate.Rebooting).migration(migration.InProgress, migration.Pending).target(vmmstate.Migrating), sled2, mustRun},
		{"check 1 before 2", snap().vmm(vmmstate.Rebooting), sled1, mustRun},
		{"running", snap().vmm(vmmstate.Running), sled2, accepted},
	}
	for _, st := range allVMMStates {
		if st != vmmstate.Running {
			rows = append(rows, row{"active " + st.String(), snap().vmm(st), sled2, mustRun})
		}
	}
	for _, r := range rows {
		s := r.b.valid(t)
		d, err := DecideMigrate(s, r.dest)
		if err != nil {
			t.Fatal(err)
		}
		checkWant(t, "DecideMigrate "+r.name, RequestMigrate, d, r.w)
		// Decide has no destination: check 2 never applies.
		w := r.w
		if w == onDest {
			w = map[bool]want{true: already, false: accepted}[s.HasMigration()]
		}
		checkWant(t, "Decide "+r.name, RequestMigrate, decide(t, s, RequestMigrate), w)
	}
	_, err := DecideMigrate(snap().nexus(NexusVMM).build(), sled2)
	checkRuleErr(t, "DecideMigrate on an invalid snapshot", err, RuleVMMIffActive, "active_propolis_id")
}

// TestDeleteOutcomes is §10.6 with §8.1's deletion rule: no_vmm and failed
// run the delete saga, destroyed is already done (idempotent), any linked
// active VMM — saga_unwound included (D10) — refuses, other states refuse
// with their label.
func TestDeleteOutcomes(t *testing.T) {
	linked := want{action: ActionReject, status: 400, message: "cannot delete instance: instance is running or has not yet fully stopped"}
	cases := []struct {
		name string
		b    builder
		w    want
	}{
		{"no_vmm", snap(), want{action: ActionDeleteSaga, status: 200}},
		{"failed", snap().nexus(NexusFailed), want{action: ActionDeleteSaga, status: 200}},
		{"destroyed", snap().nexus(NexusDestroyed).intent(IntendDestroyed), deleted}, // D23; the saga step stays idempotent (TestD23DeletedInstanceIsNotFound)
		{"creating", snap().nexus(NexusCreating), want{action: ActionReject, status: 400, message: `instance cannot be deleted in state "creating"`}},
	}
	for _, c := range cases {
		checkWant(t, c.name, RequestDelete, decide(t, c.b.valid(t), RequestDelete), c.w)
	}
	for _, st := range allVMMStates {
		checkWant(t, "active "+st.String(), RequestDelete, decide(t, snap().vmm(st).valid(t), RequestDelete), linked)
	}
}

// TestD10SagaUnwoundActiveRequests: with a saga_unwound active VMM, start
// runs the start saga, stop is already done, reboot and migrate are refused
// exactly as with no VMM, and delete is refused until the update plan
// unlinks the VMM (D11), then accepted.
func TestD10SagaUnwoundActiveRequests(t *testing.T) {
	for _, i := range AllIntendedStates() {
		s := snap().vmm(vmmstate.SagaUnwound).intent(i).valid(t)
		none := snap().intent(i).valid(t) // the same instance with no VMM
		checkWant(t, "start", RequestStart, decide(t, s, RequestStart), want{action: ActionStartSaga, status: 200})
		checkWant(t, "stop", RequestStop, decide(t, s, RequestStop), want{action: ActionAlreadyDone, status: 200})
		for _, r := range []Request{RequestReboot, RequestMigrate} {
			got, asNone := decide(t, s, r), decide(t, none, r)
			if got.Accepted() || got != asNone {
				t.Errorf("%v: %+v, want the refusal given with no VMM, %+v", r, got, asNone)
			}
		}
		d := decide(t, s, RequestDelete)
		checkWant(t, "delete while linked", RequestDelete, d, want{action: ActionReject, status: 400, message: "cannot delete instance: instance is running or has not yet fully stopped"})

		p, ok, err := PlanUpdate(s, t1)
		if err != nil || !ok {
			t.Fatalf("PlanUpdate: %v, %v; want the unwound VMM unlinked (D11)", ok, err)
		}
		after, err := s.Apply(p)
		if err != nil {
			t.Fatal(err)
		}
		checkWant(t, "delete once unlinked", RequestDelete, decide(t, after, RequestDelete), want{action: ActionDeleteSaga, status: 200})
	}
}

// TestD16EveryDecision sweeps the corpus with every request: a rejected
// request never carries an intent, an accepted one carries exactly its
// request's (start and reboot → running, stop → stopped, delete →
// destroyed, migrate → none), and Decide leaves the snapshot as it was.
func TestD16EveryDecision(t *testing.T) {
	accepted, rejected := map[Request]int{}, map[Request]int{}
	for _, s := range corpus(t) {
		before := s
		for _, r := range AllRequests() {
			d := decide(t, s, r)
			checkD16(t, fmt.Sprintf("%v on %v/%v", r, s.Instance.Runtime.State, s.Active.Runtime.State), r, d)
			if d.Accepted() {
				accepted[r]++
			} else {
				rejected[r]++
			}
		}
		if s != before {
			t.Fatal("Decide changed its snapshot")
		}
	}
	for _, r := range AllRequests() {
		if accepted[r] == 0 || rejected[r] == 0 {
			t.Errorf("%v: %d accepted, %d rejected; the sweep must see both", r, accepted[r], rejected[r])
		}
	}
}

// TestDecideRefusesBadInput: an invalid request or snapshot is an error,
// never a Decision (D3, D17).
func TestDecideRefusesBadInput(t *testing.T) {
	for _, r := range []Request{0, RequestDelete + 1, 255} {
		d, err := Decide(snap().valid(t), r, t1)
		checkRuleErr(t, fmt.Sprintf("request %d", r), err, "", "request")
		if d != (Decision{}) {
			t.Errorf("request %d: %+v came with the error", r, d)
		}
	}
	for _, r := range AllRequests() {
		_, err := Decide(snap().vmm(vmmstate.Running).nexus(NexusNoVMM).build(), r, t1)
		checkRuleErr(t, r.String()+" on an invalid snapshot", err, RuleVMMIffActive, "active_propolis_id")
	}
	// A permanent start failure does not stop a user's start (D15 only
	// holds back automatic ones).
	s := snap().startFailure(failure.CauseAffinityUnsatisfiable, false).valid(t)
	checkWant(t, "start after a permanent failure", RequestStart, decide(t, s, RequestStart), want{action: ActionStartSaga, status: 200})
}

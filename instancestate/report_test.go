package instancestate

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// vmmReport is a report of the VMM alone, in state st at generation g.
func vmmReport(st vmmstate.State, g uint32) Report {
	return Report{VMM: vmmstate.Runtime{State: st, Generation: gen(g), TimeUpdated: t1}.SledAgent()}
}

// side is a migration side as a sled-agent reports it.
func side(id migration.ID, st migration.State, g uint32) *migration.Report {
	return &migration.Report{MigrationID: id, State: st, Generation: gen(g), TimeUpdated: t1}
}

func applyOK(t *testing.T, what string, s Snapshot, vmm vmmstate.ID, r Report) (Snapshot, ReportResult) {
	t.Helper()
	out, res, err := ApplyReport(s, vmm, r)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := out.Validate(); err != nil {
		t.Fatalf("%s: the report left an invalid snapshot: %v", what, err)
	}
	return out, res
}

// refused asserts §8.2's all-or-nothing rule: an error, the snapshot as
// it was, and a zero result.
func refused(t *testing.T, what string, s Snapshot, vmm vmmstate.ID, r Report, sentinel error) error {
	t.Helper()
	out, res, err := ApplyReport(s, vmm, r)
	if err == nil || !errors.Is(err, sentinel) {
		t.Fatalf("%s: error %v, want %v", what, err, sentinel)
	}
	if out != s || res != (ReportResult{}) {
		t.Fatalf("%s: a refused report changed the snapshot or came with a result %+v", what, res)
	}
	return err
}

// TestReportSameMigrationInAndOut: §8.2 step 1, before anything else —
// even the VMM's own update is not written.
func TestReportSameMigrationInAndOut(t *testing.T) {
	s := snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating).valid(t)
	r := vmmReport(vmmstate.Stopping, activeGen+1)
	r.MigrationIn, r.MigrationOut = side(migM, migration.Completed, 3), side(migM, migration.Completed, 3)
	refused(t, "same migration", s, vmmA, r, migration.ErrSameMigration)
}

// TestReportUnknownVMM: a report must come from the snapshot's active or
// target VMM. One that does not is a *NotLinkedError naming the VMMs the
// instance does link — and not an invalid record: such reports are normal
// (the watcher polls unreaped VMMs).
func TestReportUnknownVMM(t *testing.T) {
	s := snap().vmm(vmmstate.Running).valid(t)
	for name, id := range map[string]vmmstate.ID{"unlinked VMM": vmmC, "nil id": {}, "target of no migration": vmmB} {
		err := refused(t, name, s, id, vmmReport(vmmstate.Stopping, activeGen+1), ErrUnknownVMM)
		var nl *NotLinkedError
		if !errors.As(err, &nl) || nl.VMM != id || nl.Active != vmmA || !nl.Target.IsZero() {
			t.Errorf("%s: %v, want a *NotLinkedError for %v naming active %v and no target", name, err, id, vmmA)
		}
		if errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: %v matches ErrInvalidRecord", name, err)
		}
	}
	refused(t, "no VMM at all", snap().valid(t), vmmA, vmmReport(vmmstate.Stopping, 9), ErrUnknownVMM)
	_, _, err := ApplyReport(snap().nexus(NexusVMM).build(), vmmA, vmmReport(vmmstate.Running, 9))
	checkRuleErr(t, "invalid snapshot", err, RuleVMMIffActive, "active_propolis_id")
}

// TestReportStale: a report not newer than the stored runtime is a no-op,
// not an error (D5), and needs no update even when it is terminal.
func TestReportStale(t *testing.T) {
	s := snap().vmm(vmmstate.Running).valid(t)
	for _, g := range []uint32{1, activeGen} {
		for _, st := range []vmmstate.State{vmmstate.Stopping, vmmstate.Destroyed, vmmstate.Failed(failure.FromSledAgent)} {
			out, res := applyOK(t, "stale", s, vmmA, vmmReport(st, g))
			if out != s || res != (ReportResult{VMMOutcome: vmmstate.Stale}) {
				t.Errorf("%v@%d: %+v, changed %v; want stale, nothing written", st, g, res, out != s)
			}
		}
	}
}

// TestReportIllegalEdge: a newer report along no edge of D7 is refused
// with the snapshot unchanged, and the error keeps the report.
func TestReportIllegalEdge(t *testing.T) {
	cases := []struct {
		from, to vmmstate.State
		sentinel error
	}{
		{vmmstate.Stopped, vmmstate.Running, vmmstate.ErrIllegalTransition},
		{vmmstate.Stopping, vmmstate.Starting, vmmstate.ErrIllegalTransition},
		{vmmstate.Destroyed, vmmstate.Running, vmmstate.ErrTerminal},
		{vmmstate.SagaUnwound, vmmstate.Running, vmmstate.ErrIllegalTransition},
	}
	for _, c := range cases {
		s := snap().vmm(c.from).valid(t)
		r := vmmReport(c.to, activeGen+1)
		err := refused(t, fmt.Sprintf("%v → %v", c.from, c.to), s, vmmA, r, c.sentinel)
		var te *vmmstate.TransitionError
		if !errors.As(err, &te) || te.From != s.Active.Runtime || te.Report != r.VMM.Runtime() {
			t.Errorf("%v → %v: %v does not keep the stored runtime and the report", c.from, c.to, err)
		}
	}
	// A migration side the report cannot write refuses the VMM's update
	// too (one transaction): here the active VMM reports itself as the
	// migration's target.
	s := snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating).valid(t)
	r := vmmReport(vmmstate.Stopping, activeGen+1)
	r.MigrationIn = side(migM, migration.Completed, 3)
	refused(t, "wrong side", s, vmmA, r, migration.ErrWrongVMM)
	// So does a side moving back to pending.
	r = vmmReport(vmmstate.Migrating, activeGen+1)
	r.MigrationOut = side(migM, migration.Pending, 3)
	refused(t, "side back to pending", s, vmmA, r, migration.ErrIllegalTransition)
}

// TestReportUpdateSagaNeeded is §12 step 2: an update is needed exactly
// when something terminal was written — the VMM reached destroyed or
// failed, or a migration side completed or failed — for the active and
// the target VMM alike, and never for a non-terminal change, a stale
// report, or a terminal VMM reported terminal again.
func TestReportUpdateSagaNeeded(t *testing.T) {
	// Every report a running active VMM may send.
	for _, st := range vmmstate.AllSledAgentStates() {
		s := snap().vmm(vmmstate.Running).valid(t)
		r := Report{VMM: vmmstate.SledAgentRuntime{State: st, Generation: gen(activeGen + 1), TimeUpdated: t1}}
		out, res := applyOK(t, st.String(), s, vmmA, r)
		if !res.VMMUpdated || res.VMMOutcome != vmmstate.Applied || out.Active.Runtime != r.VMM.Runtime() {
			t.Errorf("running → %v: %+v", st, res)
		}
		if res.UpdateSagaNeeded != st.IsTerminal() {
			t.Errorf("running → %v: update needed %v, want %v", st, res.UpdateSagaNeeded, st.IsTerminal())
		}
		if out.Instance != s.Instance {
			t.Errorf("running → %v: a report changed the instance record", st)
		}
	}
	// The target VMM's own reports, terminal or not.
	for _, st := range []vmmstate.State{vmmstate.Running, vmmstate.Destroyed, vmmstate.Failed(failure.FromSledAgent)} {
		s := snap().vmm(vmmstate.Running).migration(migration.InProgress, migration.InProgress).target(vmmstate.Migrating).valid(t)
		out, res := applyOK(t, "target "+st.String(), s, vmmB, vmmReport(st, targetGen+1))
		if !res.VMMUpdated || out.Target.Runtime.State != st || out.Active != s.Active || res.UpdateSagaNeeded != st.IsTerminal() {
			t.Errorf("target → %v: %+v", st, res)
		}
	}
	// A terminal VMM reported terminal again at a newer generation:
	// unchanged (D6), nothing written, no update.
	s := snap().vmm(vmmstate.Failed(failure.SledOff)).valid(t)
	out, res := applyOK(t, "failed again", s, vmmA, vmmReport(vmmstate.Failed(failure.FromSledAgent), activeGen+1))
	if out != s || res != (ReportResult{VMMOutcome: vmmstate.Unchanged}) {
		t.Errorf("failed again: %+v", res)
	}
	// Every migration side state, each side: only a written terminal one
	// needs an update.
	for _, role := range migration.AllRoles() {
		for _, st := range []migration.State{migration.InProgress, migration.Completed, migration.Failed} {
			s := snap().vmm(vmmstate.Migrating).migration(migration.Pending, migration.Pending).target(vmmstate.Migrating).valid(t)
			var r Report
			var vmm vmmstate.ID
			if role == migration.Source {
				vmm, r = vmmA, vmmReport(vmmstate.Migrating, activeGen)
				r.MigrationOut = side(migM, st, sideGen+1)
			} else {
				vmm, r = vmmB, vmmReport(vmmstate.Migrating, targetGen)
				r.MigrationIn = side(migM, st, sideGen+1)
			}
			out, res := applyOK(t, fmt.Sprintf("%v %v", role, st), s, vmm, r)
			want := ReportResult{VMMOutcome: vmmstate.Stale, UpdateSagaNeeded: st.IsTerminal()}
			if role == migration.Source {
				want.MigrationOutUpdated, want.MigrationOutOutcome = true, vmmstate.Applied
			} else {
				want.MigrationInUpdated, want.MigrationInOutcome = true, vmmstate.Applied
			}
			if res != want || out.Migration.Side(role).State != st || out.Migration.Side(role.Other()) != s.Migration.Side(role.Other()) {
				t.Errorf("%v side → %v: %+v, want %+v", role, st, res, want)
			}
			// The same report again is stale: nothing written, no update.
			_, res = applyOK(t, "again", out, vmm, r)
			again := ReportResult{VMMOutcome: vmmstate.Stale, MigrationOutOutcome: vmmstate.Stale}
			if role == migration.Target {
				again = ReportResult{VMMOutcome: vmmstate.Stale, MigrationInOutcome: vmmstate.Stale}
			}
			if res != again {
				t.Errorf("%v side → %v again: %+v, want stale", role, st, res)
			}
		}
	}
}

// TestReportFoldedVMMMovesBothCopies: once the instance runs on its linked
// target (§13.3), the active and target records are one VMM and a report
// moves both.
func TestReportFoldedVMMMovesBothCopies(t *testing.T) {
	s := snap().vmm(vmmstate.Destroyed).migration(migration.Completed, migration.InProgress).target(vmmstate.Running).folded().valid(t)
	out, res := applyOK(t, "folded", s, vmmB, vmmReport(vmmstate.Stopping, targetGen+1))
	if !res.VMMUpdated || out.Active.Runtime.State != vmmstate.Stopping || out.Active != out.Target {
		t.Fatalf("folded: %+v, active %v, target %v", res, out.Active, out.Target)
	}
}

// TestReportSideOfUnheldMigration: a side naming a migration the snapshot
// does not hold (already unlinked) is not written and is no error.
func TestReportSideOfUnheldMigration(t *testing.T) {
	s := snap().vmm(vmmstate.Running).valid(t)
	r := vmmReport(vmmstate.Stopping, activeGen+1)
	r.MigrationOut = side(migN, migration.Completed, 3)
	out, res := applyOK(t, "unheld migration", s, vmmA, r)
	if res.MigrationOutUpdated || res.UpdateSagaNeeded || out.Active.Runtime.State != vmmstate.Stopping {
		t.Fatalf("%+v", res)
	}
}

// TestReplayVMMAndMigrationUpdateRuntime replays §21.3's
// test_vmm_and_migration_update_runtime.
func TestReplayVMMAndMigrationUpdateRuntime(t *testing.T) {
	// VMMs 1 (vmmA) and 2 (vmmB) running; migration 1 (migM) from 1 to 2,
	// both sides pending at generation 1.
	s := snap().vmm(vmmstate.Running).migration(migration.Pending, migration.Pending).target(vmmstate.Running).valid(t)
	s.Migration.Source.Generation, s.Migration.Target.Generation = gen(1), gen(1)
	s.Migration.Source.TimeUpdated, s.Migration.Target.TimeUpdated = time.Time{}, time.Time{}

	// vmm1: stopping, migration_out completed at 2.
	r1 := vmmReport(vmmstate.Stopping, activeGen+1)
	r1.MigrationOut = side(migM, migration.Completed, 2)
	s, res := applyOK(t, "vmm1", s, vmmA, r1)
	if !res.VMMUpdated || !res.MigrationOutUpdated || res.MigrationInUpdated {
		t.Fatalf("vmm1: %+v", res)
	}
	// vmm2: running at the same generation (unchanged, stale), migration_in
	// completed at 2.
	r2 := vmmReport(vmmstate.Running, targetGen)
	r2.MigrationIn = side(migM, migration.Completed, 2)
	s, res = applyOK(t, "vmm2", s, vmmB, r2)
	if res.VMMUpdated || !res.MigrationInUpdated || res.MigrationOutUpdated {
		t.Fatalf("vmm2: %+v", res)
	}
	want1 := migration.Record{ID: migM, InstanceID: instID, TimeCreated: t0,
		Source: migration.Side{VMM: vmmA, State: migration.Completed, Generation: gen(2), TimeUpdated: t1},
		Target: migration.Side{VMM: vmmB, State: migration.Completed, Generation: gen(2), TimeUpdated: t1}}
	if s.Migration != want1 {
		t.Fatalf("migration 1: %v, want %v", s.Migration, want1)
	}

	// Migration 2 (migN) from 2 to 3 (vmmC), the instance on 2.
	s2 := snap().build()
	s2.Instance.Runtime = Runtime{State: NexusVMM, Generation: gen(instGen + 2), TimeUpdated: t1, ActiveVMM: vmmB, TargetVMM: vmmC, MigrationID: migN}
	s2.Active = s.Target
	s2.Target = vmmRecord(vmmC, sled3, vmmstate.Running, 2)
	s2.Migration = migration.New(migN, instID, vmmB, vmmC, t1)
	if err := s2.Validate(); err != nil {
		t.Fatal(err)
	}
	// vmm2: destroyed, migration_in = migration 1's old report, migration_out
	// completed at 2.
	r3 := vmmReport(vmmstate.Destroyed, targetGen+1)
	r3.MigrationIn = r2.MigrationIn
	r3.MigrationOut = side(migN, migration.Completed, 2)
	s2, res = applyOK(t, "vmm2 destroyed", s2, vmmB, r3)
	if !res.VMMUpdated || res.MigrationInUpdated || !res.MigrationOutUpdated || !res.UpdateSagaNeeded {
		t.Fatalf("vmm2 destroyed: %+v", res)
	}
	// vmm3: running (newer), migration_in failed at 2.
	r4 := vmmReport(vmmstate.Running, 3)
	r4.MigrationIn = side(migN, migration.Failed, 2)
	s2, res = applyOK(t, "vmm3", s2, vmmC, r4)
	if !res.VMMUpdated || !res.MigrationInUpdated || !res.UpdateSagaNeeded {
		t.Fatalf("vmm3: %+v", res)
	}
	if m := s2.Migration; m.Source.State != migration.Completed || m.Target.State != migration.Failed || m.Source.Generation != gen(2) || m.Target.Generation != gen(2) {
		t.Fatalf("migration 2: %v, want source completed@2, target failed@2", m)
	}
	// Migration 1 was not touched: the snapshot that held it is as it was.
	if s.Migration != want1 {
		t.Fatal("migration 1 changed")
	}
}

// TestReportJSON: the sled-agent form, strictly decoded (D3): vmm_state
// required, migration sides null or absent, no other key; and the round
// trip is byte-identical.
func TestReportJSON(t *testing.T) {
	good := []string{
		`{"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z"},"migration_in":null,"migration_out":null}`,
		`{"vmm_state":{"state":"failed","gen":5,"time_updated":"2026-11-21T10:01:00Z"},"migration_in":{"migration_id":"4e000000-0000-4000-8000-00000000000a","state":"failed","gen":3,"time_updated":"2026-11-21T10:01:00Z"},"migration_out":null}`,
		`{"vmm_state":{"state":"stopping","gen":5,"time_updated":"2026-11-21T10:01:00Z"},"migration_in":null,"migration_out":{"migration_id":"4e000000-0000-4000-8000-00000000000a","state":"completed","gen":2,"time_updated":"2026-11-21T10:01:00Z"}}`,
	}
	for _, g := range good {
		var r Report
		if err := json.Unmarshal([]byte(g), &r); err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		b, err := json.Marshal(r)
		if err != nil || string(b) != g {
			t.Fatalf("round trip of %s gave %s, %v", g, b, err)
		}
	}
	var r Report
	if err := json.Unmarshal([]byte(`{"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z"}}`), &r); err != nil || r.MigrationIn != nil || r.MigrationOut != nil {
		t.Fatalf("absent sides: %+v, %v", r, err)
	}
	// D20: keys a newer sled-agent added are ignored at every level of
	// its report, so the report is applied, not lost.
	newer := `{"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z","cpu":"turin"},"extra":{"a":[1]},` +
		`"migration_in":{"migration_id":"4e000000-0000-4000-8000-00000000000a","state":"failed","gen":3,"time_updated":"2026-11-21T10:01:00Z","why":"x"}}`
	var rn Report
	if err := json.Unmarshal([]byte(newer), &rn); err != nil || rn.VMM.State != vmmstate.SledAgentRunning || rn.MigrationIn == nil || rn.MigrationIn.State != migration.Failed {
		t.Fatalf("D20: a newer sled-agent's report: %+v, %v", rn, err)
	}
	bad := map[string]string{
		"missing vmm_state": `{"migration_in":null}`,
		"unknown state":     `{"vmm_state":{"state":"saga_unwound","gen":4,"time_updated":"2026-11-21T10:01:00Z"}}`,
		"bad side":          `{"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z"},"migration_in":{"migration_id":"x"}}`,
		"duplicate key":     `{"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z"},"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z"}}`,
		"not an object":     `[]`,
		"null":              `null`,
	}
	for name, b := range bad {
		before := Report{MigrationIn: side(migM, migration.Pending, 1)}
		r := before
		if err := r.UnmarshalJSON([]byte(b)); err == nil {
			t.Errorf("%s: %s decoded", name, b)
		}
		if r.MigrationIn != before.MigrationIn || r.VMM != before.VMM || r.MigrationOut != nil {
			t.Errorf("%s: a failed decode changed the report", name)
		}
	}
}

// TestReportSaysWhatItDidNotWrite: a side naming a migration the instance
// does not link is not written, and the result says so (the CLI shows it),
// instead of dropping it silently.
func TestReportSaysWhatItDidNotWrite(t *testing.T) {
	s := snap().vmm(vmmstate.Running).valid(t)
	r := vmmReport(vmmstate.Running, activeGen+1)
	r.MigrationIn = side(migN, migration.Failed, 5)
	_, res := applyOK(t, "unlinked side", s, vmmA, r)
	if !res.MigrationInNotLinked || res.MigrationInUpdated || res.MigrationInOutcome != 0 || res.MigrationOutNotLinked || res.VMMOutcome != vmmstate.Applied {
		t.Fatalf("%+v", res)
	}
}

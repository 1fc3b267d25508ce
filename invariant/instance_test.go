package invariant_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/invariant"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

var (
	inst  = vmmstate.InstanceIDFromUUID(uuid.MustParse("1b000000-0000-4000-8000-000000000001"))
	vmmA  = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000a"))
	vmmB  = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-00000000000b"))
	sled1 = vmmstate.SledIDFromUUID(uuid.MustParse("3d000000-0000-4000-8000-000000000001"))
	sled2 = vmmstate.SledIDFromUUID(uuid.MustParse("3d000000-0000-4000-8000-000000000002"))
	migM  = migration.IDFromUUID(uuid.MustParse("4e000000-0000-4000-8000-00000000000a"))
	upd1  = instancestate.UpdaterIDFromUUID(uuid.MustParse("5f000000-0000-4000-8000-000000000001"))
	t0    = instancetest.Reference.Add(-time.Minute)
)

// migrating is an instance running on vmmA, migrating to vmmB: the source
// side in progress, the target pending.
func migrating() instancestate.Snapshot {
	return instancestate.Snapshot{
		Instance: instancestate.Instance{
			ID: inst,
			Runtime: instancestate.Runtime{
				State: instancestate.NexusVMM, Generation: generation.Of(5), TimeUpdated: t0,
				ActiveVMM: vmmA, TargetVMM: vmmB, MigrationID: migM,
			},
			IntendedState: instancestate.IntendRunning,
			UpdaterGen:    generation.Of(3),
		},
		Active: vmmstate.VMM{ID: vmmA, InstanceID: inst, SledID: sled1,
			Runtime: vmmstate.Runtime{State: vmmstate.Migrating, Generation: generation.Of(4), TimeUpdated: t0}},
		Target: vmmstate.VMM{ID: vmmB, InstanceID: inst, SledID: sled2,
			Runtime: vmmstate.Runtime{State: vmmstate.Migrating, Generation: generation.Of(2), TimeUpdated: t0}},
		Migration: migration.Record{ID: migM, InstanceID: inst, TimeCreated: t0,
			Source: migration.Side{VMM: vmmA, State: migration.InProgress, Generation: generation.Of(2), TimeUpdated: t0},
			Target: migration.Side{VMM: vmmB, State: migration.Pending, Generation: generation.Initial()}},
	}
}

// CheckStep accepts what the library does and names each broken rule.
func TestCheckStepCatches(t *testing.T) {
	base := migrating()
	if err := invariant.CheckSnapshotStep(base, base); err != nil {
		t.Fatalf("no change: %v", err)
	}
	// The library's own steps pass.
	report := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentDestroyed, Generation: generation.Of(5), TimeUpdated: t0}}
	reported, _, err := instancestate.ApplyReport(base, vmmA, report)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := instancestate.PlanUpdate(reported, t0)
	planned, err := reported.Apply(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, step := range map[string][2]instancestate.Snapshot{"report": {base, reported}, "plan": {reported, planned}} {
		if err := step[1].Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := invariant.CheckSnapshotStep(step[0], step[1]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	bad := map[string]struct {
		mutate func(s *instancestate.Snapshot)
		want   string // in the message: the rule that broke
	}{
		"instance id": {want: "instance id changed", mutate: func(s *instancestate.Snapshot) { s.Instance.ID = vmmstate.InstanceID{} }},
		"state_generation back": {want: "state_generation went back", mutate: func(s *instancestate.Snapshot) {
			s.Instance.Runtime.Generation = generation.Of(4)
		}},
		"runtime changed at the same generation": {want: "runtime changed at generation", mutate: func(s *instancestate.Snapshot) {
			s.Instance.Runtime.TimeLastAutoRestarted = t0
		}},
		"nexus state off the edges": {want: "nexus state moved vmm → creating", mutate: func(s *instancestate.Snapshot) {
			s.Instance.Runtime = instancestate.Runtime{State: instancestate.NexusCreating, Generation: generation.Of(6)}
			s.Active, s.Target, s.Migration = vmmstate.VMM{}, vmmstate.VMM{}, migration.Record{}
		}},
		"updater_gen back": {want: "updater_gen went back", mutate: func(s *instancestate.Snapshot) { s.Instance.UpdaterGen = generation.Of(2) }},
		"lock taken at the same updater_gen": {want: "lock changed hands", mutate: func(s *instancestate.Snapshot) {
			s.Instance.UpdaterID = upd1
		}},
		"VMM generation back": {want: "generation never decreases", mutate: func(s *instancestate.Snapshot) {
			s.Active.Runtime.Generation = generation.Of(3)
		}},
		"VMM changed at the same generation": {want: "moves the generation forward", mutate: func(s *instancestate.Snapshot) {
			s.Active.Runtime.State = vmmstate.Running
		}},
		"VMM off its edges": {want: "follows an edge", mutate: func(s *instancestate.Snapshot) {
			s.Active.Runtime = vmmstate.Runtime{State: vmmstate.Creating, Generation: generation.Of(5), TimeUpdated: t0}
		}},
		"VMM moved sled": {want: "moved: VMM", mutate: func(s *instancestate.Snapshot) { s.Active.SledID = sled2 }},
		"migration side back": {want: "generation went back", mutate: func(s *instancestate.Snapshot) {
			s.Migration.Source.Generation = generation.Initial()
		}},
		"migration side back to pending": {want: "in_progress → pending, which is no edge", mutate: func(s *instancestate.Snapshot) {
			s.Migration.Source.State, s.Migration.Source.Generation = migration.Pending, generation.Of(3)
		}},
		"migration changed its VMMs": {want: "changed the record's identity", mutate: func(s *instancestate.Snapshot) {
			s.Migration.Target.VMM = vmmA
		}},
		"valid to invalid": {want: "became invalid", mutate: func(s *instancestate.Snapshot) {
			s.Instance.Runtime.Generation = generation.Of(6)
			s.Instance.Runtime.TargetVMM = vmmstate.ID{} // the target record stays
		}},
	}
	for name, c := range bad {
		after := base
		c.mutate(&after)
		if err := invariant.CheckSnapshotStep(base, after); !errors.Is(err, invariant.ErrInvariant) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: CheckStep = %v, want ErrInvariant saying %q", name, err, c.want)
		}
	}

	// A terminal VMM and a terminal side never change (D6).
	dead := base
	dead.Active.Runtime.State = vmmstate.Failed(failure.SledOff)
	revived := dead
	revived.Active.Runtime = vmmstate.Runtime{State: vmmstate.Failed(failure.FromSledAgent), Generation: generation.Of(9), TimeUpdated: t0}
	if err := invariant.CheckSnapshotStep(dead, revived); !errors.Is(err, invariant.ErrInvariant) {
		t.Errorf("failed VMM changed its reason: CheckStep = %v", err)
	}
	done := base
	done.Migration.Source.State = migration.Completed
	undone := done
	undone.Migration.Source.State, undone.Migration.Source.Generation = migration.Failed, generation.Of(7)
	if err := invariant.CheckSnapshotStep(done, undone); !errors.Is(err, invariant.ErrInvariant) {
		t.Errorf("completed side failed: CheckStep = %v", err)
	}
}

// CheckSnapshot refuses an invalid snapshot with the rule it breaks, and
// accepts the largest generation, where only writes can fail.
func TestCheckSnapshotCatches(t *testing.T) {
	s := migrating()
	if err := invariant.CheckSnapshot(s); err != nil {
		t.Fatal(err)
	}
	s.Instance.Runtime.MigrationID = migration.ID{}
	err := invariant.CheckSnapshot(s)
	if !errors.Is(err, invariant.ErrInvariant) || !errors.Is(err, instancestate.ErrInvalidRecord) {
		t.Errorf("CheckSnapshot(invalid) = %v, want ErrInvariant and ErrInvalidRecord", err)
	}

	top, err := generation.FromInt64(generation.Max)
	if err != nil {
		t.Fatal(err)
	}
	s = migrating()
	s.Active.Runtime.State = vmmstate.Destroyed // a plan is required and cannot be written
	s.Instance.Runtime.Generation = top
	if err := invariant.CheckSnapshot(s); err != nil {
		t.Errorf("CheckSnapshot at the largest generation: %v", err)
	}
}

// CheckExplained accepts every way the library explains an instance that
// is meant to run and is not running, and reports one that is not
// explained.
func TestCheckExplained(t *testing.T) {
	now := instancetest.Reference
	stopped := instancestate.Snapshot{Instance: instancestate.Instance{
		ID:            inst,
		Runtime:       instancestate.Runtime{State: instancestate.NexusNoVMM, Generation: generation.Of(5), TimeUpdated: t0},
		IntendedState: instancestate.IntendRunning,
		UpdaterGen:    generation.Of(3),
	}}
	failed := stopped
	failed.Instance.Runtime.State = instancestate.NexusFailed
	unwound := migrating()
	unwound.Instance.Runtime.TargetVMM, unwound.Instance.Runtime.MigrationID = vmmstate.ID{}, migration.ID{}
	unwound.Target, unwound.Migration = vmmstate.VMM{}, migration.Record{}
	unwound.Active.Runtime.State = vmmstate.SagaUnwound

	explained := map[string]instancestate.Snapshot{
		"running":         with(migrating(), func(s *instancestate.Snapshot) { s.Active.Runtime.State = vmmstate.Running }),
		"migrating":       migrating(),
		"stopped: start":  stopped,
		"failed: restart": failed,
		"failed, cooling down": with(failed, func(s *instancestate.Snapshot) {
			s.Instance.Runtime.TimeLastAutoRestarted = t0
		}),
		"failed, policy never": with(failed, func(s *instancestate.Snapshot) {
			s.Instance.AutoRestart.Policy = instancestate.PolicyNever
		}),
		"stopped, start failed permanently": with(stopped, func(s *instancestate.Snapshot) {
			s.Instance.StartFailure = failure.NewStartFailure(failure.CauseAffinityUnsatisfiable, failure.StartReasonUser, t0)
		}),
		"stopped, locked": with(stopped, func(s *instancestate.Snapshot) {
			s.Instance.UpdaterID = upd1
		}),
		"unwound: run the update": unwound,
		"destroyed": with(stopped, func(s *instancestate.Snapshot) {
			s.Instance.Runtime.State = instancestate.NexusDestroyed
		}),
		"stopped, intended stopped": with(stopped, func(s *instancestate.Snapshot) {
			s.Instance.IntendedState = instancestate.IntendStopped
		}),
	}
	for name, s := range explained {
		if err := invariant.CheckExplained(s, now); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// At the largest generation the update plan cannot be written, so Next
	// cannot ask for it; with auto-restart off nothing else says why the
	// unwound instance reads stopped.
	top, err := generation.FromInt64(generation.Max)
	if err != nil {
		t.Fatal(err)
	}
	stuck := with(unwound, func(s *instancestate.Snapshot) {
		s.Instance.Runtime.Generation = top
		s.Instance.AutoRestart.Policy = instancestate.PolicyNever
	})
	if err := invariant.CheckExplained(stuck, now); !errors.Is(err, invariant.ErrUnexplained) || !errors.Is(err, invariant.ErrInvariant) {
		t.Errorf("unexplained: CheckExplained = %v, want ErrUnexplained", err)
	}
	if err := invariant.CheckExplained(instancestate.Snapshot{}, now); !errors.Is(err, instancestate.ErrInvalidRecord) {
		t.Errorf("invalid snapshot: CheckExplained = %v, want ErrInvalidRecord", err)
	}
}

func with(s instancestate.Snapshot, f func(*instancestate.Snapshot)) instancestate.Snapshot {
	f(&s)
	return s
}

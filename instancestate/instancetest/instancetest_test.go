package instancetest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/vmmstate/vmmtest"

	"github.com/vmlife/vmlife/invariant"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/instancestate/instancetest"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// examples is how many values the coverage tests draw. Every label they
// count is reached well within it (the rarest, one of 64 shape × side
// combinations, about 30 times), and drawing them takes a fraction of a
// second.
const examples = 4000

// validGenerated checks what Snapshot promises beyond Validate: records
// vmmtest and migrationtest accept, generations in 1..1000, and times
// within Window before Reference.
func validGenerated(s instancestate.Snapshot) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if !instancetest.ShapeOf(s).IsValid() {
		return fmt.Errorf("no shape")
	}
	for _, v := range []vmmstate.VMM{s.Active, s.Target} {
		if v.ID.IsZero() {
			continue
		}
		if err := invariant.CheckVMM(v); err != nil {
			return err
		}
	}
	if s.HasMigration() {
		if err := invariant.CheckMigration(s.Migration); err != nil {
			return err
		}
	}
	in := s.Instance
	for what, g := range map[string]uint64{
		"state_generation": in.Runtime.Generation.Uint64(), "updater_gen": in.UpdaterGen.Uint64(),
		"active": s.Active.Runtime.Generation.Uint64(), "target": s.Target.Runtime.Generation.Uint64(),
		"source side": s.Migration.Source.Generation.Uint64(), "target side": s.Migration.Target.Generation.Uint64(),
	} {
		if g > 1000 {
			return fmt.Errorf("%s at generation %d", what, g)
		}
	}
	for _, at := range []time.Time{
		in.Runtime.TimeUpdated, in.Runtime.TimeLastAutoRestarted, in.StartFailure.Time,
		s.Active.Runtime.TimeUpdated, s.Target.Runtime.TimeUpdated, s.SledUnreachableSince,
		s.Migration.TimeCreated, s.Migration.Source.TimeUpdated, s.Migration.Target.TimeUpdated,
	} {
		if !at.IsZero() && (at.After(instancetest.Reference) || at.Before(instancetest.Reference.Add(-instancetest.Window))) {
			return fmt.Errorf("time %v outside the window", at)
		}
	}
	if in.AutoRestart.Cooldown < 0 || in.AutoRestart.Cooldown > instancetest.Window {
		return fmt.Errorf("cooldown %v", in.AutoRestart.Cooldown)
	}
	return nil
}

// Snapshot and SnapshotWithShape draw only valid snapshots, of the shape
// asked for.
func TestSnapshotIsValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		if err := validGenerated(s); err != nil {
			t.Fatalf("%v\n%+v", err, s)
		}
		shape := rapid.SampledFrom(instancetest.AllShapes()).Draw(t, "shape")
		s = instancetest.SnapshotWithShape(shape).Draw(t, "shaped")
		if err := validGenerated(s); err != nil {
			t.Fatalf("%v: %v\n%+v", shape, err, s)
		}
		if got := instancetest.ShapeOf(s); got != shape {
			t.Fatalf("SnapshotWithShape(%v) drew a %v", shape, got)
		}
	})
}

// SnapshotWithShape fails the test that draws from it with an invalid shape.
func TestSnapshotWithInvalidShapeFails(t *testing.T) {
	for _, shape := range []instancetest.Shape{0, instancetest.Shape(len(instancetest.AllShapes()) + 1)} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "is not a shape") {
					t.Errorf("SnapshotWithShape(%d): recovered %v, want a failure naming the shape", shape, r)
				}
			}()
			instancetest.SnapshotWithShape(shape).Example(1)
		}()
	}
}

func TestShapeOf(t *testing.T) {
	s := instancetest.SnapshotWithShape(instancetest.ShapeMigrationSource).Example(1)
	if got := instancetest.ShapeOf(s); got != instancetest.ShapeMigrationSource {
		t.Fatalf("ShapeOf = %v", got)
	}
	s.Instance.Runtime.TargetVMM = vmmstate.ID{} // the target record is still there: invalid
	if got := instancetest.ShapeOf(s); got != 0 {
		t.Errorf("ShapeOf(invalid) = %v, want the zero Shape", got)
	}
	if got := instancetest.Shape(0).String(); got != "instancetest.Shape(0)" {
		t.Errorf("Shape(0).String() = %q", got)
	}
	for _, sh := range instancetest.AllShapes() {
		if !sh.IsValid() || strings.HasPrefix(sh.String(), "instancetest.") {
			t.Errorf("shape %d: valid %v, %q", uint8(sh), sh.IsValid(), sh.String())
		}
	}
}

// cover counts labels and reports the wanted ones never seen.
type cover map[string]int

func (c cover) add(format string, args ...any) { c[fmt.Sprintf(format, args...)]++ }

func (c cover) want(t *testing.T, format string, args ...any) {
	t.Helper()
	if l := fmt.Sprintf(format, args...); c[l] == 0 {
		t.Errorf("never drew %s", l)
	}
}

func startFailureLabel(in instancestate.Instance) string {
	switch {
	case !in.HasStartFailure():
		return "none"
	case in.StartFailure.Transient:
		return "transient"
	}
	return "permanent"
}

// Snapshot reaches every shape and, within them, every state the brief of
// the generator promises: each one is counted over many draws and must
// occur at least once.
func TestSnapshotCoversEveryShape(t *testing.T) {
	c := cover{}
	for i := range examples {
		s := instancetest.Snapshot().Example(i)
		shape := instancetest.ShapeOf(s)
		in := s.Instance
		c.add("shape %v", shape)
		c.add("intent %v", in.IntendedState)
		c.add("policy %v", in.AutoRestart.Policy)
		c.add("cooldown configured %v", in.AutoRestart.Cooldown != 0)
		c.add("auto-restarted %v", !in.Runtime.TimeLastAutoRestarted.IsZero())
		c.add("locked %v", in.IsLocked())
		c.add("sled unreachable %v", !s.SledUnreachableSince.IsZero())
		c.add("%v start failure %s", shape, startFailureLabel(in))
		c.add("%v cause %v", startFailureLabel(in), in.StartFailure.Cause)
		k, _ := in.Reincarnatability(instancetest.Reference)
		c.add("reincarnatability %v", k)
		if s.HasActive() {
			c.add("%v active %v", shape, s.Active.Runtime.State)
		}
		if s.HasTarget() {
			c.add("%v target %v", shape, s.Target.Runtime.State)
		}
		if s.HasMigration() {
			c.add("%v sides %v/%v", shape, s.Migration.Source.State, s.Migration.Target.State)
		}
	}
	for _, sh := range instancetest.AllShapes() {
		c.want(t, "shape %v", sh)
		for _, f := range []string{"none", "transient", "permanent"} {
			c.want(t, "%v start failure %s", sh, f)
		}
	}
	for _, i := range instancestate.AllIntendedStates() {
		c.want(t, "intent %v", i)
	}
	for _, cause := range failure.AllCauses() {
		c.want(t, "transient cause %v", cause)
		c.want(t, "permanent cause %v", cause)
	}
	for _, p := range []instancestate.AutoRestartPolicy{0, instancestate.PolicyNever, instancestate.PolicyBestEffort} {
		c.want(t, "policy %v", p)
	}
	for _, b := range []bool{false, true} {
		c.want(t, "cooldown configured %v", b)
		c.want(t, "auto-restarted %v", b)
		c.want(t, "locked %v", b)
		c.want(t, "sled unreachable %v", b)
	}
	for _, k := range []instancestate.Reincarnatability{instancestate.WillReincarnate, instancestate.CoolingDown, instancestate.Nirvana} {
		c.want(t, "reincarnatability %v", k)
	}
	active := []instancetest.Shape{instancetest.ShapeVMM, instancetest.ShapeMigrationSource,
		instancetest.ShapeMigrationSourceTargetUnlinked, instancetest.ShapeMigrationTarget, instancetest.ShapeMigrationTargetUnlinked}
	for _, st := range vmmstate.AllStates() {
		for _, sh := range active {
			c.want(t, "%v active %v", sh, st)
		}
		// Folded in, the target is the active VMM: ShapeMigrationTarget's
		// target states are its active states.
		c.want(t, "%v target %v", instancetest.ShapeMigrationSource, st)
	}
	for _, sh := range active[1:] {
		for _, src := range migration.AllStates() {
			for _, dst := range migration.AllStates() {
				c.want(t, "%v sides %v/%v", sh, src, dst)
			}
		}
	}
}

// Now draws near the snapshot: between a minute before its latest time and
// an hour after, or within a nanosecond of a cooldown's end — on both sides
// of it.
func TestNowIsNear(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		now := instancetest.Now(s).Draw(t, "now")
		last := s.Instance.Runtime.TimeLastAutoRestarted
		end := last.Add(s.Instance.AutoRestart.EffectiveCooldown())
		lo, hi := instancetest.Reference.Add(-instancetest.Window-time.Minute), end.Add(time.Hour)
		if hi.Before(instancetest.Reference.Add(time.Hour)) {
			hi = instancetest.Reference.Add(time.Hour)
		}
		if now.Before(lo) || now.After(hi) {
			t.Fatalf("now %v outside [%v, %v]", now, lo, hi)
		}
	})
	c := cover{}
	for i := range examples {
		s := instancetest.Snapshot().Example(i)
		last := s.Instance.Runtime.TimeLastAutoRestarted
		if last.IsZero() {
			continue
		}
		end := last.Add(s.Instance.AutoRestart.EffectiveCooldown())
		now := instancetest.Now(s).Example(examples + i)
		c.add("cooldown end %+d", now.Compare(end))
		if d := now.Sub(end); d >= -1 && d <= 1 {
			c.add("at the boundary %d", d)
		}
	}
	for _, d := range []int{-1, 0, 1} {
		c.want(t, "cooldown end %+d", d)
		c.want(t, "at the boundary %d", d)
	}
}

// Every drawn report does to its snapshot what its Kind says.
func TestReportKindsHold(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		r := instancetest.Report(s).Draw(t, "report")
		after, res, err := instancestate.ApplyReport(s, r.VMM, r.Report)
		if err != nil && after != s {
			t.Fatalf("%v report refused (%v), yet the snapshot changed", r.Kind, err)
		}
		switch r.Kind {
		case instancetest.ReportLegal:
			if err != nil {
				t.Fatalf("legal report refused: %v\n%+v", err, r)
			}
			if res.VMMOutcome != vmmstate.Applied && res.VMMOutcome != vmmstate.Unchanged {
				t.Fatalf("legal report was %v", res.VMMOutcome)
			}
		case instancetest.ReportStale, instancetest.ReportDuplicate:
			if err != nil || after != s || res.VMMOutcome != vmmstate.Stale {
				t.Fatalf("%v report: %v, outcome %v, changed %v", r.Kind, err, res.VMMOutcome, after != s)
			}
		case instancetest.ReportIllegal:
			if err == nil {
				t.Fatalf("illegal report accepted: %+v", r)
			}
		case instancetest.ReportWrongMigration:
			if after != s {
				t.Fatalf("a report about the wrong migration changed the snapshot")
			}
			if err != nil && !errors.Is(err, migration.ErrWrongVMM) {
				t.Fatalf("wrong migration refused with %v, want migration.ErrWrongVMM", err)
			}
		case instancetest.ReportUnknownVMM:
			if !errors.Is(err, instancestate.ErrUnknownVMM) {
				t.Fatalf("a report from an unlinked VMM: %v, want ErrUnknownVMM", err)
			}
		default:
			t.Fatalf("kind %v", r.Kind)
		}
		if err == nil {
			if err := invariant.CheckSnapshotStep(s, after); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Report draws every kind, and legal reports both change snapshots and
// (for a terminal VMM) leave them alone.
func TestReportCovers(t *testing.T) {
	c := cover{}
	for i := range examples {
		s := instancetest.Snapshot().Example(i)
		r := instancetest.Report(s).Example(examples + i) // a seed of its own: the same seed would correlate its draws with the snapshot's
		after, _, err := instancestate.ApplyReport(s, r.VMM, r.Report)
		c.add("%v changed %v refused %v", r.Kind, after != s, err != nil)
		if r.Report.MigrationIn != nil || r.Report.MigrationOut != nil {
			c.add("%v with a side", r.Kind)
		}
	}
	for _, l := range []string{
		"legal changed true refused false", "legal changed false refused false",
		"stale changed false refused false", "duplicate changed false refused false",
		"illegal changed false refused true",
		"wrong_migration changed false refused true", "wrong_migration changed false refused false",
		"unknown_vmm changed false refused true",
		"legal with a side", "stale with a side", "duplicate with a side",
	} {
		c.want(t, "%s", l)
	}
}

// ReportSequence is what faithful sled-agents send: applied in order, every
// report is accepted and its VMM runtime applied; per VMM, generations
// strictly increase and nothing follows a halt.
func TestReportSequenceIsFaithful(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		seq := instancetest.ReportSequence(s).Draw(t, "sequence")
		halted := map[vmmstate.ID]bool{}
		cur := s
		for i, r := range seq {
			if r.Kind != instancetest.ReportLegal {
				t.Fatalf("report %d is %v", i, r.Kind)
			}
			if halted[r.VMM] {
				t.Fatalf("report %d from VMM %v after it halted", i, r.VMM)
			}
			after, res, err := instancestate.ApplyReport(cur, r.VMM, r.Report)
			if err != nil {
				t.Fatalf("report %d refused: %v\n%+v", i, err, r)
			}
			if res.VMMOutcome != vmmstate.Applied {
				t.Fatalf("report %d: VMM %v", i, res.VMMOutcome)
			}
			if err := invariant.CheckSnapshotStep(cur, after); err != nil {
				t.Fatalf("report %d: %v", i, err)
			}
			halted[r.VMM] = r.Report.VMM.State.IsTerminal()
			cur = after
		}
	})
}

// Shuffled delivers every report one to three times.
func TestShuffledDeliversEverything(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := instancetest.Snapshot().Draw(t, "snapshot")
		seq := instancetest.ReportSequence(s).Draw(t, "sequence")
		got := vmmtest.Shuffled(seq).Draw(t, "delivery")
		for i, r := range seq {
			n := 0
			for _, d := range got {
				if d.VMM == r.VMM && d.Report.VMM == r.Report.VMM {
					n++
				}
			}
			if n < 1 || n > 3 {
				t.Fatalf("report %d delivered %d times", i, n)
			}
		}
		if len(got) < len(seq) || len(got) > 3*len(seq) {
			t.Fatalf("%d reports delivered as %d", len(seq), len(got))
		}
	})
}

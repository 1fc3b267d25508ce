// Command migration live-migrates a running instance twice: once
// successfully, with the target finishing first (§21.4), and once with the
// target failing. It prints the instance, both VMMs and both sides of the
// migration after every step.
//
// What to watch: while a migration is in flight the instance shows
// migrating (§7 rule 1); when it succeeds the update plan moves the
// instance onto the target VMM and clears the migration once the target
// itself reports completed (§13.3); when it fails, the instance follows its
// source VMM, which never stopped running (D12).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/vmlife/vmlife/examples/internal/demo"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "migration:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	c := demo.NewClock()
	a, b, cc := demo.VMM(1), demo.VMM(2), demo.VMM(3)
	p := demo.Printer{W: w, Names: map[vmmstate.ID]string{a: "A", b: "B", cc: "C"}}

	s, err := runningOn(c, a)
	if err != nil {
		return err
	}
	p.Show("running on A (sled 1)", s)

	// 1. A migration A → B that succeeds, the target finishing first.
	fmt.Fprintln(w, "\n-- migration A → B succeeds --")
	if s, err = startMigration(p, c, s, migration.IDFromUUID(demo.Instance(0x101).UUID()), b, demo.Sled(2)); err != nil {
		return err
	}
	s = p.Apply(s, a, withOut(demo.VMMReport(vmmstate.SledAgentMigrating, 4, c.Tick()), s.Migration.ID, migration.InProgress, 2))
	s = p.Apply(s, b, withIn(demo.VMMReport(vmmstate.SledAgentMigrating, 3, c.Tick()), s.Migration.ID, migration.InProgress, 2))
	p.Show("both sides in progress", s)
	s = p.Apply(s, b, withIn(demo.VMMReport(vmmstate.SledAgentRunning, 4, c.Tick()), s.Migration.ID, migration.Completed, 3))
	if s, err = p.Update(s, c.Tick()); err != nil {
		return err
	}
	fmt.Fprintln(w, "   (A's own reports now go to its own record: the instance no longer links it)")

	// 2. A migration B → C whose target fails: C's sled-agent reports it
	// failed, and its in-flight migration side failed with it (§3.5).
	fmt.Fprintln(w, "\n-- migration B → C fails --")
	if s, err = startMigration(p, c, s, migration.IDFromUUID(demo.Instance(0x102).UUID()), cc, demo.Sled(3)); err != nil {
		return err
	}
	s = p.Apply(s, b, withOut(demo.VMMReport(vmmstate.SledAgentMigrating, 5, c.Tick()), s.Migration.ID, migration.InProgress, 2))
	p.Show("source in progress", s)
	s = p.Apply(s, cc, withIn(demo.VMMReport(vmmstate.SledAgentFailed, 3, c.Tick()), s.Migration.ID, migration.Failed, 2))
	p.Show("target failed: B decides (D12)", s)
	if s, err = p.Update(s, c.Tick()); err != nil {
		return err
	}
	s = p.Apply(s, b, withOut(demo.VMMReport(vmmstate.SledAgentRunning, 6, c.Tick()), s.Migration.ID, migration.Failed, 3))
	p.Show("B still running", s)
	return nil
}

// runningOn returns an instance that a start saga has placed on VMM vmm,
// which its sled-agent reports running.
func runningOn(c *demo.Clock, vmm vmmstate.ID) (instancestate.Snapshot, error) {
	s := instancestate.Snapshot{Instance: instancestate.New(demo.Instance(1), true, instancestate.AutoRestart{}, c.Tick())}
	var err error
	if s.Instance, _, err = instancestate.FinishCreate(s.Instance, c.Tick()); err != nil {
		return s, err
	}
	rec := vmmstate.New(vmm, s.Instance.ID, demo.Sled(1), c.Tick())
	if s.Instance, err = instancestate.MarkAsStarting(s, rec, failure.StartReasonAutoStart, c.T); err != nil {
		return s, err
	}
	s.Active = rec
	if s.Active.Runtime, _, err = s.Active.Runtime.Transition(vmmstate.Starting, c.Tick()); err != nil {
		return s, err
	}
	s, _, err = instancestate.ApplyReport(s, vmm, demo.VMMReport(vmmstate.SledAgentRunning, 3, c.Tick()))
	return s, err
}

// startMigration is the migrate saga's part (§15): the request is accepted,
// the target VMM and the migration record are inserted, the ids are linked
// to the instance (§8.1), and the target is registered as migrating.
func startMigration(p demo.Printer, c *demo.Clock, s instancestate.Snapshot, id migration.ID, target vmmstate.ID, sled vmmstate.SledID) (instancestate.Snapshot, error) {
	s, d, err := p.Request(s, instancestate.RequestMigrate, c.Tick())
	if err != nil || !d.Accepted() {
		return s, fmt.Errorf("migrate not accepted: %v %v", d.Message, err)
	}
	src := s.Active.ID
	tgt := vmmstate.New(target, s.Instance.ID, sled, c.Tick())
	if s.Instance, err = instancestate.SetMigrationIDs(s, src, id, target, c.Tick()); err != nil {
		return s, err
	}
	s.Target = tgt
	s.Migration = migration.New(id, s.Instance.ID, src, target, c.T)
	if s.Target.Runtime, _, err = s.Target.Runtime.Transition(vmmstate.Migrating, c.Tick()); err != nil {
		return s, err
	}
	p.Show("migrate saga linked the target", s)
	return s, nil
}

func side(id migration.ID, st migration.State, gen uint32, r instancestate.Report) *migration.Report {
	return &migration.Report{MigrationID: id, State: st, Generation: generation.Of(gen), TimeUpdated: r.VMM.TimeUpdated}
}

// withOut adds the source side (migration_out) to a report.
func withOut(r instancestate.Report, id migration.ID, st migration.State, gen uint32) instancestate.Report {
	r.MigrationOut = side(id, st, gen, r)
	return r
}

// withIn adds the target side (migration_in) to a report.
func withIn(r instancestate.Report, id migration.ID, st migration.State, gen uint32) instancestate.Report {
	r.MigrationIn = side(id, st, gen, r)
	return r
}

package instancetest

import (
	"slices"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/vmmstate/vmmtest"
)

// ReportKind says what a drawn report is, and so what
// instancestate.ApplyReport must do with it on the snapshot it was drawn for.
// The zero value is invalid.
type ReportKind uint8

// The kinds of report.
const (
	// ReportLegal: newer than the stored VMM, along an edge a sled-agent
	// may report (D7), its migration sides folded as a sled-agent folds
	// them (§3.5). ApplyReport accepts it.
	ReportLegal ReportKind = iota + 1
	// ReportStale: a generation not newer than the stored one, for the VMM
	// and any side it carries. ApplyReport accepts it and changes nothing
	// (D5).
	ReportStale
	// ReportDuplicate: the stored runtime and sides sent again. ApplyReport
	// accepts it and changes nothing.
	ReportDuplicate
	// ReportIllegal: newer, but along no edge of the VMM's table (D7), or
	// naming the same migration in and out (§8.2 step 1). ApplyReport
	// refuses it and returns the snapshot unchanged.
	ReportIllegal
	// ReportWrongMigration: a stored VMM runtime sent again with a migration
	// side naming another migration (ignored: that migration is no longer
	// linked) or the snapshot's migration on the side this VMM does not
	// play (refused: migration.ErrWrongVMM). Either way the snapshot is
	// returned unchanged.
	ReportWrongMigration
	// ReportUnknownVMM: from a VMM the snapshot does not link. ApplyReport
	// refuses it with instancestate.ErrUnknownVMM.
	ReportUnknownVMM
)

var reportKinds = enum.New[ReportKind]("instancetest.ReportKind", false,
	"legal", "stale", "duplicate", "illegal", "wrong_migration", "unknown_vmm")

// AllReportKinds returns every kind of report.
func AllReportKinds() []ReportKind { return reportKinds.All() }

// IsValid reports whether k is one of the kinds.
func (k ReportKind) IsValid() bool { return reportKinds.Valid(k) }

// String returns the kind's name ("wrong_migration"), or
// "instancetest.ReportKind(n)".
func (k ReportKind) String() string { return reportKinds.String(k) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (k ReportKind) GoString() string { return reportKinds.GoString(k) }

// SledReport is a sled-agent report addressed to one VMM: the arguments of
// instancestate.ApplyReport, and what kind of report it is.
type SledReport struct {
	VMM    vmmstate.ID
	Report instancestate.Report
	Kind   ReportKind
}

// linkedVMMs returns the snapshot's distinct VMM records, active first.
func linkedVMMs(s instancestate.Snapshot) []vmmstate.VMM {
	var out []vmmstate.VMM
	if s.HasActive() {
		out = append(out, s.Active)
	}
	if s.HasTarget() && s.Target.ID != s.Active.ID {
		out = append(out, s.Target)
	}
	return out
}

// roleOf returns the side of the snapshot's migration that VMM id plays, or
// the zero Role.
func roleOf(s instancestate.Snapshot, id vmmstate.ID) migration.Role {
	switch {
	case !s.HasMigration():
		return 0
	case s.Migration.Source.VMM == id:
		return migration.Source
	case s.Migration.Target.VMM == id:
		return migration.Target
	}
	return 0
}

// stranger returns a VMM id the snapshot does not link.
func stranger(s instancestate.Snapshot) vmmstate.ID {
	seed := family(s)
	for i := uint16(vmmStranger); ; i-- {
		id := vmmstate.IDFromUUID(derive(seed, tagVMM, i))
		if id != s.Instance.Runtime.ActiveVMM && id != s.Instance.Runtime.TargetVMM &&
			id != s.Active.ID && id != s.Target.ID && id != s.Migration.Source.VMM && id != s.Migration.Target.VMM {
			return id
		}
	}
}

// sledOptions splits the eight sled-agent states by whether a report of one
// may follow a VMM of kind k (Observe): vmmtest.ReportableNext — the same
// reportable kind at a newer generation, or an edge of the table (D7) — and,
// for a terminal kind, itself again, which is absorbed (D6).
func sledOptions(k vmmstate.Kind) (legal, illegal []vmmstate.SledAgentState) {
	next := vmmtest.ReportableNext(k)
	for _, sa := range vmmstate.AllSledAgentStates() {
		to := sa.State().Kind()
		if slices.Contains(next, to) || to == k && k.IsTerminal() {
			legal = append(legal, sa)
		} else {
			illegal = append(illegal, sa)
		}
	}
	return legal, illegal
}

// bump returns g+n, or false past the largest generation.
func bump(g generation.Generation, n int) (generation.Generation, bool) {
	out, err := generation.FromUint64(g.Uint64() + uint64(n))
	return out, err == nil
}

// sideOf returns the snapshot's migration side role as the report its VMM's
// sled-agent would send for it.
func sideOf(s instancestate.Snapshot, role migration.Role) migration.Report {
	side := s.Migration.Side(role)
	return migration.Report{MigrationID: s.Migration.ID, State: side.State, Generation: side.Generation, TimeUpdated: side.TimeUpdated}
}

// put sets the side of r that role's sled-agent sends (migration_out for the
// source, migration_in for the target) to a copy of rep.
func put(r *instancestate.Report, role migration.Role, rep migration.Report) {
	if role == migration.Source {
		r.MigrationOut = &rep
	} else {
		r.MigrationIn = &rep
	}
}

// later returns a time 1 s to 10 min after t.
func later(t *rapid.T, at time.Time, label string) time.Time {
	return at.Add(time.Duration(rapid.IntRange(1, 600).Draw(t, label)) * time.Second)
}

// Report draws one sled-agent report about one of the snapshot's VMMs (the
// active or the target), mostly legal but sometimes stale, duplicated,
// illegal or about the wrong migration, and sometimes from a VMM the
// snapshot does not link — always, for a snapshot that links none. Kind
// says which, and what ApplyReport must do with it on s (see ReportKind).
func Report(s instancestate.Snapshot) *rapid.Generator[SledReport] {
	return rapid.Custom(func(t *rapid.T) SledReport {
		vmms := linkedVMMs(s)
		kind := ReportUnknownVMM
		if len(vmms) > 0 {
			// Legal reports are the common case: half of all draws.
			kind = rapid.SampledFrom([]ReportKind{
				ReportLegal, ReportLegal, ReportLegal, ReportLegal, ReportLegal,
				ReportStale, ReportDuplicate, ReportIllegal, ReportWrongMigration, ReportUnknownVMM,
			}).Draw(t, "kind")
		}
		if kind == ReportUnknownVMM {
			return SledReport{VMM: stranger(s), Kind: kind, Report: instancestate.Report{
				VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentRunning, Generation: drawGen(t, "gen"), TimeUpdated: Reference},
			}}
		}
		v := rapid.SampledFrom(vmms).Draw(t, "vmm")
		return drawReport(t, s, v, kind)
	})
}

func drawReport(t *rapid.T, s instancestate.Snapshot, v vmmstate.VMM, kind ReportKind) SledReport {
	out := SledReport{VMM: v.ID, Kind: kind}
	rt, role := v.Runtime, roleOf(s, v.ID)
	// The duplicate of what is stored: the start of the stale, illegal and
	// wrong-migration reports too.
	dup := instancestate.Report{VMM: rt.SledAgent()}
	if role.IsValid() {
		put(&dup, role, sideOf(s, role))
	}

	switch kind {
	case ReportLegal:
		legal, _ := sledOptions(rt.State.Kind())
		g, ok := bump(rt.Generation, rapid.IntRange(1, 3).Draw(t, "gen_step"))
		if !ok {
			out.Kind, out.Report = ReportDuplicate, dup
			return out
		}
		sa := rapid.SampledFrom(legal).Draw(t, "state")
		now := later(t, rt.TimeUpdated, "time_updated")
		out.Report.VMM = vmmstate.SledAgentRuntime{State: sa, Generation: g, TimeUpdated: now}
		if role.IsValid() && rapid.Bool().Draw(t, "carries_side") {
			cur, next := sideOf(s, role), migration.Report{}
			var err error
			if sa.IsTerminal() {
				next, _, err = migration.Halt(cur, now) // §3.5: a halted VMM fails its sides in flight
			} else {
				obs := rapid.SampledFrom([]migration.State{migration.InProgress, migration.Completed, migration.Failed}).Draw(t, "side_observed")
				next, _, err = migration.Fold(cur, true, s.Migration.ID, obs, now)
			}
			if err != nil {
				next = cur
			}
			put(&out.Report, role, next)
		}

	case ReportStale:
		n := rapid.Uint64Range(0, rt.Generation.Uint64()).Draw(t, "gen")
		g, _ := generation.FromUint64(n)
		out.Report.VMM = vmmstate.SledAgentRuntime{
			State:       rapid.SampledFrom(vmmstate.AllSledAgentStates()).Draw(t, "state"),
			Generation:  g,
			TimeUpdated: later(t, rt.TimeUpdated, "time_updated"),
		}
		if role.IsValid() && rapid.Bool().Draw(t, "carries_side") {
			side := sideOf(s, role)
			n := rapid.Uint64Range(0, side.Generation.Uint64()).Draw(t, "side_gen")
			side.Generation, _ = generation.FromUint64(n)
			side.State = rapid.SampledFrom(migration.AllStates()).Draw(t, "side_state")
			put(&out.Report, role, side)
		}

	case ReportDuplicate:
		out.Report = dup

	case ReportIllegal:
		_, illegal := sledOptions(rt.State.Kind())
		g, ok := bump(rt.Generation, 1)
		if ok && len(illegal) > 0 && rapid.Bool().Draw(t, "illegal_edge") {
			out.Report.VMM = vmmstate.SledAgentRuntime{
				State:       rapid.SampledFrom(illegal).Draw(t, "state"),
				Generation:  g,
				TimeUpdated: later(t, rt.TimeUpdated, "time_updated"),
			}
			break
		}
		// §8.2 step 1: the same migration in and out, refused before
		// anything else is looked at.
		id := s.Migration.ID
		if !s.HasMigration() {
			id = migration.IDFromUUID(derive(family(s), tagMigration, 0xffff))
		}
		side := migration.Report{MigrationID: id, State: migration.InProgress, Generation: generation.Of(2), TimeUpdated: Reference}
		out.Report = instancestate.Report{VMM: dup.VMM, MigrationIn: &side}
		other := side
		out.Report.MigrationOut = &other

	case ReportWrongMigration:
		out.Report = instancestate.Report{VMM: dup.VMM}
		if role.IsValid() && rapid.Bool().Draw(t, "wrong_side") {
			// The snapshot's migration, on the side this VMM does not play.
			wrong := role.Other()
			side := sideOf(s, wrong)
			side.Generation, _ = bump(side.Generation, 1)
			side.State = migration.InProgress
			put(&out.Report, wrong, side)
			break
		}
		side := migration.Report{
			MigrationID: migration.IDFromUUID(derive(family(s), tagMigration, 0xfffe)),
			State:       rapid.SampledFrom(migration.AllStates()).Draw(t, "side_state"),
			Generation:  drawGen(t, "side_gen"),
			TimeUpdated: Reference,
		}
		put(&out.Report, rapid.SampledFrom(migration.AllRoles()).Draw(t, "side_role"), side)
	}
	return out
}

// sledAgent is the state a sled-agent keeps about one VMM (§3.5).
type sledAgent struct {
	vmm    vmmstate.ID
	kind   vmmstate.Kind         // the last state reported, or stored
	gen    generation.Generation // its generation
	now    time.Time
	role   migration.Role   // the migration side the VMM plays, if any
	side   migration.Report // that side, as the sled-agent holds it
	halted bool
}

// ReportSequence draws what the sled-agents running the snapshot's linked
// VMMs would send, in the order they send it (§3.5): each report is a
// Propolis observation of a state vmmtest.ReportableNext allows (D7), at the next
// generation; a VMM that is a side of the snapshot's migration folds
// migration observations into that side (migration.Fold) and fails it when
// the VMM halts (migration.Halt); nothing follows a halt. A VMM already
// failed or destroyed sends nothing. Every report is ReportLegal for the
// snapshot as it stands when the report arrives in order; delivered in any
// other order (Shuffled), none is refused, since a late report is only
// stale. The sequence may be empty.
func ReportSequence(s instancestate.Snapshot) *rapid.Generator[[]SledReport] {
	return rapid.Custom(func(t *rapid.T) []SledReport {
		var agents []*sledAgent
		for _, v := range linkedVMMs(s) {
			a := &sledAgent{
				vmm: v.ID, kind: v.Runtime.State.Kind(), gen: v.Runtime.Generation,
				now: latest(s), role: roleOf(s, v.ID), halted: v.Runtime.State.IsTerminal(),
			}
			if a.role.IsValid() {
				a.side = sideOf(s, a.role)
			}
			agents = append(agents, a)
		}
		var out []SledReport
		steps := rapid.IntRange(0, 10).Draw(t, "steps")
		for range steps {
			var live []*sledAgent
			for _, a := range agents {
				if !a.halted {
					live = append(live, a)
				}
			}
			if len(live) == 0 {
				break
			}
			a := live[rapid.IntRange(0, len(live)-1).Draw(t, "agent")]
			g, ok := bump(a.gen, 1) // §3.5: every observation bumps the generation
			if !ok {
				a.halted = true
				continue
			}
			legal, _ := sledOptions(a.kind)
			sa := rapid.SampledFrom(legal).Draw(t, "state")
			a.now = a.now.Add(time.Duration(rapid.IntRange(1, 60).Draw(t, "after")) * time.Second)
			rep := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: sa, Generation: g, TimeUpdated: a.now}}
			if a.role.IsValid() {
				changed := false
				if sa.IsTerminal() {
					if next, ch, err := migration.Halt(a.side, a.now); err == nil {
						a.side, changed = next, ch
					}
				} else if rapid.Bool().Draw(t, "migration_observed") {
					obs := rapid.SampledFrom([]migration.State{migration.InProgress, migration.Completed, migration.Failed}).Draw(t, "side_observed")
					if next, ch, err := migration.Fold(a.side, true, s.Migration.ID, obs, a.now); err == nil {
						a.side, changed = next, ch
					}
				}
				// A null side means "no update for this side" (§3.2): a
				// sled-agent may leave an unchanged side out.
				if changed || rapid.Bool().Draw(t, "carries_side") {
					put(&rep, a.role, a.side)
				}
			}
			a.kind, a.gen = sa.State().Kind(), g
			a.halted = sa.IsTerminal()
			out = append(out, SledReport{VMM: a.vmm, Report: rep, Kind: ReportLegal})
		}
		return out
	})
}

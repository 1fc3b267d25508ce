package instancetest

import (
	"encoding/binary"
	"time"

	"github.com/vmlife/vmlife/invariant"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Reference is the time generated snapshots are built around: every record
// was last written within Window before it, and Now draws times near it. It
// is the "now" of docs/cli.md's example snapshot document, and the time at
// which invariant's checkers read a snapshot that records none.
var Reference = invariant.Reference

// Window is how far before Reference the generated records' times reach.
// It is longer than every cooldown Snapshot draws but one, so that at
// Reference an automatic restart may be due, cooling down, or long past.
const Window = 2 * time.Hour

// Ids are derived from one drawn seed: the first eight bytes are the seed,
// the rest say which record the id names. Ids of one snapshot are distinct,
// ids of snapshots drawn from different seeds are too, and a shrunk
// counterexample prints short, readable ids.
const (
	tagInstance byte = iota + 1
	tagVMM
	tagSled
	tagMigration
	tagUpdater
)

// The VMM ids of a generated snapshot.
const (
	vmmActive   = 1      // the active VMM; a migration's source while the instance runs there
	vmmTarget   = 2      // a migration's target VMM
	vmmSource   = 3      // a migration's source once the instance moved to the target (not linked)
	vmmStranger = 0xffff // a VMM no snapshot links: reports from it are refused
)

// derive returns the id of record (tag, index) in the family of seed.
func derive(seed [8]byte, tag byte, index uint16) uuid.UUID {
	var u uuid.UUID
	copy(u[:8], seed[:])
	u[8] = 0x80 // the RFC 4122 variant: never the nil UUID
	u[9] = tag
	binary.BigEndian.PutUint16(u[14:], index)
	return u
}

// family returns the seed the ids of snapshot s derive from: the first
// eight bytes of its instance id.
func family(s instancestate.Snapshot) [8]byte {
	var seed [8]byte
	u := s.Instance.ID.UUID()
	copy(seed[:], u[:8])
	return seed
}

// Snapshot draws a valid snapshot (it passes Validate, D17) of any shape. The
// shape is drawn first, simplest first, so a failing case shrinks to the
// simplest shape that still fails. Within a shape everything is drawn:
//
//   - the intended state (all four, whatever the shape), the auto-restart
//     policy (never, best_effort or unset), the cooldown (unset or 1 s to
//     2 h), and time_last_auto_restarted (unset, or within Window before
//     Reference);
//   - the updater lock (held or free), a start failure (none, or any cause
//     and reason, transient or permanent whatever the cause's default), and
//     SledUnreachableSince (zero or set);
//   - the active and target VMMs in any vmmstate state, saga_unwound and
//     every failure reason included;
//   - each migration side as the migrate saga inserted it (pending at
//     generation 1, never updated) or in any state at a later generation.
//
// Generations lie in 1..1000, far from the largest, so every operation
// can still bump them. Times lie within Window before Reference.
func Snapshot() *rapid.Generator[instancestate.Snapshot] {
	return rapid.Custom(func(t *rapid.T) instancestate.Snapshot {
		return drawSnapshot(t, rapid.SampledFrom(AllShapes()).Draw(t, "shape"))
	})
}

// SnapshotWithShape draws a valid snapshot of the given shape, everything
// else drawn as Snapshot does. An invalid shape fails the test that draws.
func SnapshotWithShape(shape Shape) *rapid.Generator[instancestate.Snapshot] {
	return rapid.Custom(func(t *rapid.T) instancestate.Snapshot {
		if !shape.IsValid() {
			t.Fatalf("instancetest.SnapshotWithShape: %v is not a shape", shape)
		}
		return drawSnapshot(t, shape)
	})
}

func drawSnapshot(t *rapid.T, shape Shape) instancestate.Snapshot {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], rapid.Uint64().Draw(t, "seed"))
	inst := vmmstate.InstanceIDFromUUID(derive(seed, tagInstance, 0))

	in := instancestate.Instance{
		ID: inst,
		Runtime: instancestate.Runtime{
			Generation:  drawGen(t, "state_generation"),
			TimeUpdated: drawPast(t, "time_state_updated"),
		},
		IntendedState: rapid.SampledFrom(instancestate.AllIntendedStates()).Draw(t, "intended_state"),
		AutoRestart:   drawAutoRestart(t),
		UpdaterGen:    drawGen(t, "updater_gen"),
	}
	if rapid.Bool().Draw(t, "auto_restarted") {
		in.Runtime.TimeLastAutoRestarted = drawPast(t, "time_last_auto_restarted")
	}
	if rapid.Bool().Draw(t, "locked") {
		n := rapid.IntRange(1, 3).Draw(t, "updater")
		in.UpdaterID = instancestate.UpdaterIDFromUUID(derive(seed, tagUpdater, uint16(n)))
	}
	if rapid.Bool().Draw(t, "start_failed") {
		f := failure.NewStartFailure(
			rapid.SampledFrom(failure.AllCauses()).Draw(t, "start_failure.cause"),
			rapid.SampledFrom(failure.AllStartReasons()).Draw(t, "start_failure.reason"),
			drawPast(t, "start_failure.time"))
		// A caller that knows better may override the cause's default
		// transience (failure.StartFailure), so both occur for every cause.
		if rapid.Bool().Draw(t, "start_failure.transient_overridden") {
			f.Transient = !f.Transient
		}
		in.StartFailure = f
	}

	s := instancestate.Snapshot{Instance: in}
	if rapid.Bool().Draw(t, "sled_unreachable") {
		s.SledUnreachableSince = drawPast(t, "sled_unreachable_since")
	}

	rt := &s.Instance.Runtime
	vmmID := func(i uint16) vmmstate.ID { return vmmstate.IDFromUUID(derive(seed, tagVMM, i)) }
	switch shape {
	case ShapeCreating:
		rt.State = instancestate.NexusCreating
	case ShapeNoVMM:
		rt.State = instancestate.NexusNoVMM
		if rapid.Bool().Draw(t, "vmm_lost") {
			// D22: the update plan left it without a VMM and said why.
			s.Instance.VMMLost = instancestate.VMMLost{
				Cause: rapid.SampledFrom(instancestate.AllLostCauses()).Draw(t, "vmm_lost.cause"),
				Time:  drawPast(t, "vmm_lost.time"),
			}
		}
	case ShapeFailed:
		rt.State = instancestate.NexusFailed
	case ShapeDestroyed:
		rt.State = instancestate.NexusDestroyed
	case ShapeVMM:
		rt.State = instancestate.NexusVMM
		s.Active = drawVMM(t, "active_vmm", seed, vmmID(vmmActive), inst)
		rt.ActiveVMM = s.Active.ID
	case ShapeStaleMigrationNoVMM, ShapeStaleMigrationOtherVMM:
		// D21: the migration ran between two VMMs the instance no longer
		// runs on; its target may still be linked.
		src, dst := vmmID(vmmSource), vmmID(vmmTarget)
		s.Migration = drawMigration(t, migration.IDFromUUID(derive(seed, tagMigration, 1)), inst, src, dst)
		rt.MigrationID = s.Migration.ID
		if rapid.Bool().Draw(t, "stale_target_linked") {
			s.Target = drawVMM(t, "target_vmm", seed, dst, inst)
			rt.TargetVMM = dst
		}
		if shape == ShapeStaleMigrationNoVMM {
			rt.State = rapid.SampledFrom([]instancestate.NexusState{
				instancestate.NexusNoVMM, instancestate.NexusFailed, instancestate.NexusDestroyed}).Draw(t, "state")
			break
		}
		rt.State = instancestate.NexusVMM
		s.Active = drawVMM(t, "active_vmm", seed, vmmID(vmmActive), inst)
		rt.ActiveVMM = s.Active.ID
	default:
		onTarget := shape == ShapeMigrationTarget || shape == ShapeMigrationTargetUnlinked
		targetLinked := shape == ShapeMigrationSource || shape == ShapeMigrationTarget
		src, dst, active := vmmID(vmmActive), vmmID(vmmTarget), vmmID(vmmActive)
		if onTarget {
			src, active = vmmID(vmmSource), dst
		}
		rt.State = instancestate.NexusVMM
		s.Migration = drawMigration(t, migration.IDFromUUID(derive(seed, tagMigration, 1)), inst, src, dst)
		rt.MigrationID = s.Migration.ID
		s.Active = drawVMM(t, "active_vmm", seed, active, inst)
		rt.ActiveVMM = active
		switch {
		case targetLinked && onTarget:
			s.Target = s.Active // one VMM, linked twice: one record
		case targetLinked:
			s.Target = drawVMM(t, "target_vmm", seed, dst, inst)
		}
		if targetLinked {
			rt.TargetVMM = dst
		}
	}
	return s
}

// drawGen draws a generation in 1..1000.
func drawGen(t *rapid.T, label string) generation.Generation {
	return generation.Of(uint32(rapid.IntRange(1, 1000).Draw(t, label)))
}

// drawPast draws a time within Window before Reference, to the second.
func drawPast(t *rapid.T, label string) time.Time {
	return Reference.Add(-time.Duration(rapid.IntRange(0, int(Window/time.Second)).Draw(t, label)) * time.Second)
}

func drawAutoRestart(t *rapid.T) instancestate.AutoRestart {
	var a instancestate.AutoRestart
	a.Policy = rapid.SampledFrom([]instancestate.AutoRestartPolicy{
		0, instancestate.PolicyNever, instancestate.PolicyBestEffort,
	}).Draw(t, "auto_restart_policy")
	if rapid.Bool().Draw(t, "cooldown_configured") {
		a.Cooldown = time.Duration(rapid.IntRange(1, int(Window/time.Second)).Draw(t, "auto_restart_cooldown")) * time.Second
	}
	return a
}

// drawVMM draws a VMM record of instance inst with id id, in any state, on
// one of four sleds.
func drawVMM(t *rapid.T, label string, seed [8]byte, id vmmstate.ID, inst vmmstate.InstanceID) vmmstate.VMM {
	sled := rapid.IntRange(1, 4).Draw(t, label+".sled")
	return vmmstate.VMM{
		ID:         id,
		InstanceID: inst,
		SledID:     vmmstate.SledIDFromUUID(derive(seed, tagSled, uint16(sled))),
		Runtime: vmmstate.Runtime{
			State:       rapid.SampledFrom(vmmstate.AllStates()).Draw(t, label+".state"),
			Generation:  drawGen(t, label+".gen"),
			TimeUpdated: drawPast(t, label+".time_updated"),
		},
	}
}

// drawMigration draws a migration record from src to dst with sides in any
// combination of states.
func drawMigration(t *rapid.T, id migration.ID, inst vmmstate.InstanceID, src, dst vmmstate.ID) migration.Record {
	side := func(label string, vmm vmmstate.ID) migration.Side {
		if rapid.Bool().Draw(t, label+".untouched") {
			// As the migrate saga inserted it: every write raises the
			// generation above 1 (§3.5, §8.2).
			return migration.Side{VMM: vmm, State: migration.Pending, Generation: generation.Initial()}
		}
		return migration.Side{
			VMM:         vmm,
			State:       rapid.SampledFrom(migration.AllStates()).Draw(t, label+".state"),
			Generation:  generation.Of(uint32(rapid.IntRange(2, 1000).Draw(t, label+".gen"))),
			TimeUpdated: drawPast(t, label+".time_updated"),
		}
	}
	return migration.Record{
		ID:          id,
		InstanceID:  inst,
		Source:      side("source", src),
		Target:      side("target", dst),
		TimeCreated: drawPast(t, "migration.time_created"),
	}
}

// Now draws a time near the snapshot's own: close to the latest time it
// records, or — when the instance was restarted automatically — at the end
// of its cooldown, a nanosecond either side of it included. Offsets reach a
// minute before (clocks disagree) to an hour after.
func Now(s instancestate.Snapshot) *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		points := []time.Time{latest(s)}
		if last := s.Instance.Runtime.TimeLastAutoRestarted; !last.IsZero() {
			points = append(points, last.Add(s.Instance.AutoRestart.EffectiveCooldown()))
		}
		at := rapid.SampledFrom(points).Draw(t, "near")
		off := rapid.OneOf(
			rapid.Int64Range(-1, 1),
			rapid.Int64Range(-int64(time.Minute), int64(time.Hour)),
		).Draw(t, "offset")
		return at.Add(time.Duration(off))
	})
}

// latest is invariant.Latest.
func latest(s instancestate.Snapshot) time.Time { return invariant.Latest(s) }

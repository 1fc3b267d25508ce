package instancetest

import (
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/internal/enum"
)

// Shape is the coarse form of a snapshot: which records the instance links
// and, in a migration, which side it runs on. Every valid snapshot has
// exactly one (ShapeOf). The zero value is invalid.
type Shape uint8

// The shapes, from the simplest: rapid shrinks a failing case towards the
// first.
const (
	// ShapeCreating: the create saga is in flight; nothing is linked.
	ShapeCreating Shape = iota + 1
	// ShapeNoVMM: stopped with no VMM, perhaps after a failed start.
	ShapeNoVMM
	// ShapeFailed: failed, no VMM linked.
	ShapeFailed
	// ShapeDestroyed: deleted.
	ShapeDestroyed
	// ShapeVMM: an active VMM, in any state, and no migration.
	ShapeVMM
	// ShapeMigrationSource: a migration is linked, the instance still runs
	// on its source, and the target VMM is linked.
	ShapeMigrationSource
	// ShapeMigrationSourceTargetUnlinked: a migration is linked and the
	// instance runs on its source, but the target VMM is not linked (the
	// update plan unlinked it).
	ShapeMigrationSourceTargetUnlinked
	// ShapeMigrationTarget: a migration is linked and the update plan has
	// moved the instance to its target (§13.3), which is both the active
	// and the linked target VMM until the target reports completion.
	ShapeMigrationTarget
	// ShapeMigrationTargetUnlinked: a migration is linked and the instance
	// runs on its target, whose id is no longer linked as the target.
	// Validate accepts it, though no update plan leaves it behind (the plan
	// unlinks the target id of a folded-in migration only together with
	// the VMM itself): it stands for records written by other code.
	ShapeMigrationTargetUnlinked
	// ShapeStaleMigrationNoVMM: failed, stopped or deleted with no VMM, but
	// still linking a migration (and perhaps its target): the watcher
	// failed the VMM mid-migration (D21).
	ShapeStaleMigrationNoVMM
	// ShapeStaleMigrationOtherVMM: an active VMM that is neither side of
	// the linked migration: a start kept an earlier migration's ids (D21).
	ShapeStaleMigrationOtherVMM
)

var shapes = enum.New[Shape]("instancetest.Shape", false,
	"creating", "no_vmm", "failed", "destroyed", "vmm",
	"migration_source", "migration_source_target_unlinked",
	"migration_target", "migration_target_unlinked",
	"stale_migration_no_vmm", "stale_migration_other_vmm")

// AllShapes returns every shape, simplest first.
func AllShapes() []Shape { return shapes.All() }

// IsValid reports whether s is one of the shapes.
func (s Shape) IsValid() bool { return shapes.Valid(s) }

// String returns the shape's name ("migration_source"), or
// "instancetest.Shape(n)".
func (s Shape) String() string { return shapes.String(s) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (s Shape) GoString() string { return shapes.GoString(s) }

// ShapeOf returns the shape of snap, or the zero Shape when snap does not
// validate (D17).
func ShapeOf(snap instancestate.Snapshot) Shape {
	if snap.Validate() != nil {
		return 0
	}
	rt := snap.Instance.Runtime
	if snap.HasMigration() && (!snap.HasActive() || rt.ActiveVMM != snap.Migration.Source.VMM && rt.ActiveVMM != snap.Migration.Target.VMM) {
		if snap.HasActive() {
			return ShapeStaleMigrationOtherVMM
		}
		return ShapeStaleMigrationNoVMM
	}
	switch rt.State {
	case instancestate.NexusCreating:
		return ShapeCreating
	case instancestate.NexusNoVMM:
		return ShapeNoVMM
	case instancestate.NexusFailed:
		return ShapeFailed
	case instancestate.NexusDestroyed:
		return ShapeDestroyed
	}
	// Validate: state vmm with an active VMM, and a migration only then.
	switch {
	case !snap.HasMigration():
		return ShapeVMM
	case rt.ActiveVMM == snap.Migration.Source.VMM && snap.HasTarget():
		return ShapeMigrationSource
	case rt.ActiveVMM == snap.Migration.Source.VMM:
		return ShapeMigrationSourceTargetUnlinked
	case snap.HasTarget():
		return ShapeMigrationTarget
	default:
		return ShapeMigrationTargetUnlinked
	}
}

package migrationtest

import (
	"time"

	"github.com/vmlife/vmlife/vmmstate/vmmtest"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Epoch returns the earliest time the generators draw,
// 2026-11-21T10:00:00Z; drawn times lie within a few days after it, in UTC.
func Epoch() time.Time { return time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC) }

// State draws any of the four valid states.
func State() *rapid.Generator[migration.State] {
	return rapid.SampledFrom(migration.AllStates())
}

// Role draws Source or Target.
func Role() *rapid.Generator[migration.Role] {
	return rapid.SampledFrom(migration.AllRoles())
}

// uuidGen draws a non-nil UUID. Small values come first, so shrunk
// counterexamples print short ids.
func uuidGen() *rapid.Generator[uuid.UUID] {
	return rapid.Custom(func(t *rapid.T) uuid.UUID {
		var u uuid.UUID
		hi := rapid.Uint64().Draw(t, "hi")
		lo := rapid.Uint64Min(1).Draw(t, "lo")
		for i := range 8 {
			u[i] = byte(hi >> (56 - 8*i))
			u[8+i] = byte(lo >> (56 - 8*i))
		}
		return u
	})
}

// ID draws a non-nil migration id.
func ID() *rapid.Generator[migration.ID] {
	return rapid.Map(uuidGen(), migration.IDFromUUID)
}

// Report draws any report a decoder would accept: a non-nil id, a valid
// state, any generation in 0..Max and a time.
func Report() *rapid.Generator[migration.Report] {
	return rapid.Custom(func(t *rapid.T) migration.Report {
		return migration.Report{
			MigrationID: ID().Draw(t, "migration_id"),
			State:       State().Draw(t, "state"),
			Generation:  vmmtest.Generation().Draw(t, "gen"),
			TimeUpdated: vmmtest.Time().Draw(t, "time_updated"),
		}
	})
}

// side draws one side of a record: a side at generation 1 is the one the
// migrate saga inserted (pending, never updated); a later one has any
// state, a generation above 1 (the largest included, rarely) and a time.
func side(vmm vmmstate.ID) *rapid.Generator[migration.Side] {
	return rapid.Custom(func(t *rapid.T) migration.Side {
		if rapid.IntRange(0, 3).Draw(t, "untouched") == 0 {
			return migration.Side{VMM: vmm, State: migration.Pending, Generation: generation.Initial()}
		}
		n := rapid.OneOf(rapid.Int64Range(2, 12), rapid.Int64Range(generation.Max-1, generation.Max)).Draw(t, "gen")
		g, err := generation.FromInt64(n)
		if err != nil {
			t.Fatalf("FromInt64(%d): %v", n, err)
		}
		return migration.Side{VMM: vmm, State: State().Draw(t, "state"), Generation: g, TimeUpdated: vmmtest.Time().Draw(t, "time")}
	})
}

// Record draws a valid migration record (it passes CheckRecord): non-nil
// ids, distinct source and target VMMs, and any combination of side states
// and generations, including a side at the largest generation.
func Record() *rapid.Generator[migration.Record] {
	return rapid.Custom(func(t *rapid.T) migration.Record {
		src := vmmtest.ID().Draw(t, "source_propolis_id")
		dst := vmmtest.ID().Draw(t, "target_propolis_id")
		if dst == src {
			u := dst.UUID()
			u[15] ^= 0xff
			dst = vmmstate.IDFromUUID(u)
		}
		return migration.Record{
			ID:          ID().Draw(t, "id"),
			InstanceID:  vmmtest.InstanceID().Draw(t, "instance_id"),
			Source:      side(src).Draw(t, "source"),
			Target:      side(dst).Draw(t, "target"),
			TimeCreated: vmmtest.Time().Draw(t, "time_created"),
		}
	})
}

// NewRecord draws a record as a migrate saga inserts it (migration.New):
// both sides pending at generation 1.
func NewRecord() *rapid.Generator[migration.Record] {
	return rapid.Custom(func(t *rapid.T) migration.Record {
		r := Record().Draw(t, "record")
		return migration.New(r.ID, r.InstanceID, r.Source.VMM, r.Target.VMM, r.TimeCreated)
	})
}

// The observations a sled-agent folds into one side (§3.5): the migration
// states Propolis reports map to in_progress, completed or failed (never
// pending); an observation may carry no migration at all; the VMM may halt.
const (
	obsInProgress = iota
	obsCompleted
	obsFailed
	obsNone
	obsHalt
)

// SideReports draws the sequence of reports the sled-agent running role's
// VMM would send for that side of r, starting from the side as r holds it
// (§3.5): a target still at generation 1 first sends its registration
// (pending, generation 1); then each observation is folded with
// migration.Fold, or the VMM halts (migration.Halt), and every change is
// one report. Generations strictly increase, every report carries r.ID, and
// nothing follows a terminal report. The sequence may be empty.
func SideReports(r migration.Record, role migration.Role) *rapid.Generator[[]migration.Report] {
	return rapid.Custom(func(t *rapid.T) []migration.Report {
		s := r.Side(role)
		now := r.TimeCreated
		if s.TimeUpdated.After(now) {
			now = s.TimeUpdated
		}
		cur := migration.Report{MigrationID: r.ID, State: s.State, Generation: s.Generation, TimeUpdated: s.TimeUpdated}
		have := true
		var out []migration.Report
		if s.Generation == generation.Initial() {
			if role == migration.Target {
				now = now.Add(time.Second)
				cur = migration.Registered(r.ID, now)
				out = append(out, cur)
			} else {
				have = false // §3.5: a source has no side until Propolis reports one
			}
		}
		steps := rapid.IntRange(0, 6).Draw(t, "observations")
		for range steps {
			if have && cur.State.IsTerminal() {
				break // nothing follows an outcome (D6)
			}
			now = now.Add(time.Duration(rapid.Int64Range(1, int64(time.Minute)).Draw(t, "after")))
			obs := rapid.IntRange(obsInProgress, obsHalt).Draw(t, "observation")
			var (
				next    migration.Report
				changed bool
				err     error
			)
			switch obs {
			case obsNone:
				continue
			case obsHalt:
				if !have {
					return out // the VMM halted before it knew of the migration
				}
				next, changed, err = migration.Halt(cur, now)
			default:
				state := [...]migration.State{obsInProgress: migration.InProgress, obsCompleted: migration.Completed, obsFailed: migration.Failed}[obs]
				next, changed, err = migration.Fold(cur, have, r.ID, state, now)
			}
			if err != nil {
				return out // the side is at the largest generation: it cannot move
			}
			if changed {
				cur, have = next, true
				out = append(out, cur)
			}
			if obs == obsHalt {
				return out // a halted VMM is observed no more
			}
		}
		return out
	})
}

package instancetest

import (
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/instancestate"
)

// Policy draws a valid liveness policy (D32–D35): each deadline the
// default, off, or 1 s to 2 h; the restart backoff off, or on with each
// field its default or 1 s to 1 h; each migration bound none, or 1 s to
// 1 h, or a limit of 1 to 10. Every duration is whole seconds, so the
// snapshot document writes it exactly.
func Policy() *rapid.Generator[instancestate.Policy] {
	return rapid.Custom(func(t *rapid.T) instancestate.Policy {
		secs := func(label string, lo, hi int) time.Duration {
			return time.Duration(rapid.IntRange(lo, hi).Draw(t, label)) * time.Second
		}
		deadline := func(label string) time.Duration {
			switch rapid.IntRange(0, 2).Draw(t, label+" kind") {
			case 0:
				return 0
			case 1:
				return instancestate.DeadlineOff
			}
			return secs(label, 1, 7200)
		}
		orZero := func(label string, lo, hi int) time.Duration {
			if rapid.Bool().Draw(t, label+" set") {
				return secs(label, lo, hi)
			}
			return 0
		}
		var p instancestate.Policy
		p.Deadlines = instancestate.Deadlines{
			InstanceCreating: deadline("instance_creating"), VMMCreating: deadline("vmm_creating"),
			Starting: deadline("starting"), Stopping: deadline("stopping"),
			Rebooting: deadline("rebooting"), Migrating: deadline("migrating"),
		}
		if rapid.Bool().Draw(t, "backoff") {
			p.Backoff = instancestate.Backoff{Base: secs("base", 1, 3600), Cap: orZero("cap", 1, 3600),
				StableAfter: orZero("stable", 1, 3600), PlacementRetry: orZero("placement_retry", 1, 3600)}
		}
		p.Migration = instancestate.MigrationPolicy{
			ProgressDeadline: orZero("progress_deadline", 1, 3600), BudgetPerGiB: orZero("budget_per_gib", 1, 3600),
			FleetLimit: rapid.IntRange(0, 10).Draw(t, "fleet_limit"), SledLimit: rapid.IntRange(0, 10).Draw(t, "sled_limit"),
		}
		return p
	})
}

// WithLiveness draws a snapshot as Snapshot does and gives it the
// liveness inputs: a Policy, a memory size (0 to 1024 GiB) and counts of
// migrations in flight (0 to 12 each).
func WithLiveness() *rapid.Generator[instancestate.Snapshot] {
	return rapid.Custom(func(t *rapid.T) instancestate.Snapshot {
		s := Snapshot().Draw(t, "snapshot")
		s.Policy = Policy().Draw(t, "policy")
		s.MemoryGiB = rapid.IntRange(0, 1024).Draw(t, "memory_gib")
		s.MigrationsInFlight = instancestate.MigrationLoad{
			Fleet: rapid.IntRange(0, 12).Draw(t, "in flight in the fleet"),
			Sled:  rapid.IntRange(0, 12).Draw(t, "in flight out of the sled"),
		}
		if rapid.Bool().Draw(t, "a saga works on it") {
			// D30: an unfinished saga, its last event up to an hour back.
			since := s.Instance.Runtime.TimeUpdated.Add(-time.Duration(rapid.IntRange(0, 3600).Draw(t, "saga quiet for (s)")) * time.Second)
			s.Saga = instancestate.SagaProgress{ID: uuid.UUID{0x67, 15: byte(rapid.IntRange(1, 255).Draw(t, "saga"))},
				Name:  rapid.SampledFrom([]string{"create", "start", "migrate", "update", "delete"}).Draw(t, "saga name"),
				Node:  rapid.SampledFrom([]string{"", "alloc_server", "ensure_registered", "commit_instance_updates"}).Draw(t, "saga node"),
				Since: since}
		}
		return s
	})
}

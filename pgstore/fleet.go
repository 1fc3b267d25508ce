package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// The fleet queries whose answer is a decision of the library (the update
// plan, reincarnation) read the live instances with the rows they link in
// one read-only transaction and ask the same decision Memory asks; the
// ones that are plain filters are plain SQL, their state lists read from
// vmmstate's kind table.

// FindInstancesNeedingUpdate implements datastore.Store.
func (s *Store) FindInstancesNeedingUpdate(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	return s.decideFleet(ctx, true, func(m *datastore.Memory) ([]instancestate.ID, error) {
		return m.FindInstancesNeedingUpdate(ctx, now)
	})
}

// FindReincarnatableInstances implements datastore.Store.
func (s *Store) FindReincarnatableInstances(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	return s.decideFleet(ctx, false, func(m *datastore.Memory) ([]instancestate.ID, error) {
		return m.FindReincarnatableInstances(ctx, now)
	})
}

// decideFleet loads every live instance (only the unlocked ones when
// unlocked is set) with its linked rows into a Memory and runs decide.
func (s *Store) decideFleet(ctx context.Context, unlocked bool, decide func(*datastore.Memory) ([]instancestate.ID, error)) ([]instancestate.ID, error) {
	var out []instancestate.ID
	err := s.inTx(ctx, true, func(tx pgx.Tx) error {
		const live = `FROM instance WHERE time_deleted IS NULL AND (NOT $1 OR updater_id IS NULL)`
		var t datastore.Tables
		rows, err := tx.Query(ctx, `SELECT `+instanceColumns+` `+live, unlocked)
		if err != nil {
			return err
		}
		if t.Instances, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.InstanceRow, error) { return scanInstance(r) }); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+vmmColumns+` FROM vmm WHERE id IN
			(SELECT active_propolis_id `+live+` UNION SELECT target_propolis_id `+live+`)`, unlocked)
		if err != nil {
			return err
		}
		if t.VMMs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.VMMRow, error) { return scanVMM(r) }); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+migrationColumns+` FROM migration WHERE id IN
			(SELECT migration_id `+live+`)`, unlocked)
		if err != nil {
			return err
		}
		if t.Migrations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.MigrationRow, error) { return scanMigration(r) }); err != nil {
			return err
		}
		m := datastore.NewMemory()
		if err := m.Load(ctx, t); err != nil {
			return err
		}
		out, err = decide(m)
		return err
	})
	return out, err
}

// kindsWhere lists the VMM kinds for which keep is true, as the state
// column's values.
func kindsWhere(keep func(vmmstate.Kind) bool) []string {
	var out []string
	for _, k := range vmmstate.AllKinds() {
		if keep(k) {
			out = append(out, k.String())
		}
	}
	return out
}

var (
	destroyableKinds = kindsWhere(vmmstate.Kind.IsDestroyable)
	onSledKinds      = kindsWhere(vmmstate.Kind.ExistsOnSled)
)

// VMMListAbandoned implements datastore.Store (§8.2): destroyable VMMs,
// not deleted, that their instance — deleted or not — links neither as
// active nor as target.
func (s *Store) VMMListAbandoned(ctx context.Context) ([]vmmstate.ID, error) {
	return s.listVMMs(ctx, `SELECT v.id FROM vmm v LEFT JOIN instance i ON i.id = v.instance_id
		WHERE v.time_deleted IS NULL AND v.state::TEXT = ANY($1)
		AND (i.id IS NULL OR ((i.active_propolis_id IS NULL OR i.active_propolis_id <> v.id)
			AND (i.target_propolis_id IS NULL OR i.target_propolis_id <> v.id)))
		ORDER BY v.id`, destroyableKinds)
}

// VMMListBySled implements datastore.Store (§8.1): the VMMs on sled that
// exist on it (§4.2), not deleted.
func (s *Store) VMMListBySled(ctx context.Context, sled vmmstate.SledID) ([]vmmstate.ID, error) {
	return s.listVMMs(ctx, `SELECT id FROM vmm
		WHERE sled_id = $2 AND time_deleted IS NULL AND state::TEXT = ANY($1)
		ORDER BY id`, onSledKinds, uuidOf(sled.UUID()))
}

func (s *Store) listVMMs(ctx context.Context, sql string, args ...any) ([]vmmstate.ID, error) {
	var out []vmmstate.ID
	err := s.inTx(ctx, true, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (vmmstate.ID, error) {
			var u pgtype.UUID
			err := r.Scan(&u)
			return vmmstate.IDFromUUID(u.Bytes), err
		})
		return err
	})
	return out, err
}

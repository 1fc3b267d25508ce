package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// The fleet queries whose answer is a decision of the library (the update
// plan, reincarnation) read the live instances with the rows they link, a
// page at a time in one read-only transaction, and ask the same decision
// Memory asks; the ones that are plain filters are plain SQL, their state
// lists read from vmmstate's kind table.
//
// Unlike the operations on rows (run), these still load what they read
// into a datastore.Memory: a page is a thousand instances with the rows
// they link, which Memory's maps index by id, where a datastore.Tables
// would scan; the query writes nothing back, so there is no difference to
// find; and the decision is the in-memory store's own fleet query, whose
// loop over its instances is the rule.

// FindInstancesNeedingUpdate implements datastore.Store.
func (s *Store) FindInstancesNeedingUpdate(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	return call(s, ctx, "find_instances_needing_update", func(ctx context.Context) ([]instancestate.ID, error) {
		return s.decideFleet(ctx, true, func(m *datastore.Memory) ([]instancestate.ID, error) {
			return m.FindInstancesNeedingUpdate(ctx, now)
		})
	})
}

// FindReincarnatableInstances implements datastore.Store.
func (s *Store) FindReincarnatableInstances(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	return call(s, ctx, "find_reincarnatable_instances", func(ctx context.Context) ([]instancestate.ID, error) {
		return s.decideFleet(ctx, false, func(m *datastore.Memory) ([]instancestate.ID, error) {
			return m.FindReincarnatableInstances(ctx, now)
		})
	})
}

// FindInstancesToReconcile implements datastore.Store.
func (s *Store) FindInstancesToReconcile(ctx context.Context, now time.Time) ([]instancestate.ID, error) {
	return call(s, ctx, "find_instances_to_reconcile", func(ctx context.Context) ([]instancestate.ID, error) {
		return s.decideFleet(ctx, true, func(m *datastore.Memory) ([]instancestate.ID, error) {
			return m.FindInstancesToReconcile(ctx, now)
		})
	})
}

// fleetPage is how many instances a fleet query reads into memory at a
// time, unless a test set another (Store.fleetPage).
const fleetPage = 1000

// decideFleet runs decide over every live instance (only the unlocked ones
// when unlocked is set), a page of instances at a time in id order, each
// page loaded with the rows it links into a fresh Memory. The pages are
// read in one read-only SERIALIZABLE transaction, so together they are one
// consistent snapshot of the fleet, and what is held in memory is one page
// and the answer, however large the fleet. decide answers in id order
// (sortIDs), so the pages' answers, appended, are too.
func (s *Store) decideFleet(ctx context.Context, unlocked bool, decide func(*datastore.Memory) ([]instancestate.ID, error)) ([]instancestate.ID, error) {
	page := s.fleetPage
	if page <= 0 {
		page = fleetPage
	}
	var out []instancestate.ID
	err := s.inTx(ctx, true, func(tx pgx.Tx) error {
		// A retried transaction starts again, from the nil UUID: below
		// every instance id (none is nil).
		out = out[:0]
		after := pgtype.UUID{Valid: true}
		for {
			t, last, err := readFleetPage(ctx, tx, unlocked, after, page)
			if err != nil || len(t.Instances) == 0 {
				return err
			}
			m := datastore.NewMemory()
			if err := m.Load(ctx, t); err != nil {
				return fmt.Errorf("pgstore: a stored row breaks vmlife's rules: %w", err)
			}
			ids, err := decide(m)
			if err != nil {
				return err
			}
			out = append(out, ids...)
			if len(t.Instances) < page {
				return nil
			}
			after = last
		}
	})
	return out, err
}

// readFleetPage reads the next page of live instances after the id after,
// at most n, in id order, with the VMM and migration rows they link, and
// returns the last instance id read.
func readFleetPage(ctx context.Context, tx pgx.Tx, unlocked bool, after pgtype.UUID, n int) (datastore.Tables, pgtype.UUID, error) {
	var t datastore.Tables
	rows, err := tx.Query(ctx, `SELECT `+instanceColumns+` FROM instance
		WHERE time_deleted IS NULL AND (NOT $1 OR updater_id IS NULL) AND id > $2
		ORDER BY id LIMIT $3`, unlocked, after, n)
	if err != nil {
		return t, after, err
	}
	if t.Instances, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.InstanceRow, error) { return scanInstance(r) }); err != nil || len(t.Instances) == 0 {
		return t, after, err
	}
	var vmms, migs []pgUUID
	for _, row := range t.Instances {
		rt := &row.Instance.Runtime
		vmms = append(vmms, uuidOf(rt.ActiveVMM.UUID()), uuidOf(rt.TargetVMM.UUID()))
		migs = append(migs, uuidOf(rt.MigrationID.UUID()))
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT `+vmmColumns+` FROM vmm WHERE id = ANY($1)`, present(vmms)).Query(func(rows pgx.Rows) error {
		var err error
		t.VMMs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.VMMRow, error) { return scanVMM(r) })
		return err
	})
	b.Queue(`SELECT `+migrationColumns+` FROM migration WHERE id = ANY($1)`, present(migs)).Query(func(rows pgx.Rows) error {
		var err error
		t.Migrations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.MigrationRow, error) { return scanMigration(r) })
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return t, after, err
	}
	return t, uuidOf(t.Instances[len(t.Instances)-1].Instance.ID.UUID()), nil
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
	bySledKinds      = kindsWhere(datastore.ListedBySled)
)

// VMMListAbandoned implements datastore.Store (§8.2): destroyable VMMs,
// not deleted, that their instance — deleted or not — links neither as
// active nor as target.
func (s *Store) VMMListAbandoned(ctx context.Context) ([]vmmstate.ID, error) {
	return call(s, ctx, "vmm_list_abandoned", func(ctx context.Context) ([]vmmstate.ID, error) {
		return s.listVMMs(ctx, `SELECT v.id FROM vmm v LEFT JOIN instance i ON i.id = v.instance_id
			WHERE v.time_deleted IS NULL AND v.state::TEXT = ANY($1)
			AND (i.id IS NULL OR ((i.active_propolis_id IS NULL OR i.active_propolis_id <> v.id)
				AND (i.target_propolis_id IS NULL OR i.target_propolis_id <> v.id)))
			ORDER BY v.id`, destroyableKinds)
	})
}

// VMMListBySled implements datastore.Store (§8.1, §18): the VMMs on sled
// the watcher checks (datastore.ListedBySled), not deleted, joined by their
// own instance id to an instance that is not deleted.
func (s *Store) VMMListBySled(ctx context.Context, sled vmmstate.SledID) ([]vmmstate.ID, error) {
	return call(s, ctx, "vmm_list_by_sled", func(ctx context.Context) ([]vmmstate.ID, error) {
		return s.listVMMs(ctx, `SELECT v.id FROM vmm v JOIN instance i ON i.id = v.instance_id
			WHERE v.sled_id = $2 AND v.time_deleted IS NULL AND v.state::TEXT = ANY($1) AND i.time_deleted IS NULL
			ORDER BY v.id`, bySledKinds, uuidOf(sled.UUID()))
	})
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

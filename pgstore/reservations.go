package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/vmmstate"
)

// The sleds' reservations (datastore.SledReservations) on PostgreSQL:
// table sled_resource_vmm (schema/0004_sled_resource_vmm.sql). Every
// operation is one statement in a SERIALIZABLE transaction sent as one
// batch, as the saga log's are (oneTrip): one round trip. The rules are
// datastore's guards, the ones Memory calls.

var _ datastore.SledReservations = (*Store)(nil)

// reservationColumns are sled_resource_vmm's columns, in resvScan's order.
const reservationColumns = `id, sled_id, instance_id, time_created`

// resvScan holds one row of reservationColumns as scanned; id is NULL when
// there was no row (a LEFT JOIN's).
type resvScan struct {
	id, sled, instance pgtype.UUID
	created            pgtype.Timestamptz
}

func (r *resvScan) dest() []any { return []any{&r.id, &r.sled, &r.instance, &r.created} }

// reservation reads the scanned row: nil when there was none.
func (r *resvScan) reservation() *datastore.Reservation {
	if !r.id.Valid {
		return nil
	}
	return &datastore.Reservation{VMM: vmmstate.IDFromUUID(r.id.Bytes), Sled: vmmstate.SledIDFromUUID(r.sled.Bytes),
		Instance: vmmstate.InstanceIDFromUUID(r.instance.Bytes), TimeCreated: timeFrom(r.created)}
}

// reservationInsert: the row inserted unless the VMM holds one, and the
// row under the VMM's id read in the same statement, so that an identical
// retry (datastore.CheckReservationRetry) is told from another reservation.
const reservationInsert = `WITH ins AS (INSERT INTO sled_resource_vmm (` + reservationColumns + `)
		VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING 1)
	SELECT (SELECT count(*) FROM ins), r.id, r.sled_id, r.instance_id, r.time_created
	FROM (SELECT 1) AS one LEFT JOIN sled_resource_vmm AS r ON r.id = $1`

// ReservationInsert implements datastore.SledReservations.
func (s *Store) ReservationInsert(ctx context.Context, r datastore.Reservation) error {
	const op = "reservation_insert"
	return s.call0(ctx, op, func(ctx context.Context) error {
		if err := datastore.CheckReservation(op, r); err != nil {
			return err
		}
		r := datastore.StoreReservation(r)
		var inserted int64
		var old resvScan
		return s.oneTrip(ctx, false, func(b *pgx.Batch) {
			b.Queue(reservationInsert, uuidOf(r.VMM.UUID()), uuidOf(r.Sled.UUID()), uuidOf(r.Instance.UUID()),
				instant(r.TimeCreated)).QueryRow(func(row pgx.Row) error {
				old = resvScan{}
				return row.Scan(append([]any{&inserted}, old.dest()...)...)
			})
		}, func() error {
			if inserted == 1 {
				return nil
			}
			stored := old.reservation()
			if stored == nil { // taken by a writer the snapshot did not see
				return errRetry
			}
			return datastore.CheckReservationRetry(op, *stored, r)
		})
	})
}

// reservationDelete releases a VMM's reservation and counts what it released.
const reservationDelete = `WITH del AS (DELETE FROM sled_resource_vmm WHERE id = $1 RETURNING 1)
	SELECT count(*) FROM del`

// ReservationDelete implements datastore.SledReservations.
func (s *Store) ReservationDelete(ctx context.Context, vmm vmmstate.ID) (datastore.Result, error) {
	return call(s, ctx, "reservation_delete", func(ctx context.Context) (datastore.Result, error) {
		var deleted int64
		err := s.oneTrip(ctx, false, func(b *pgx.Batch) {
			b.Queue(reservationDelete, uuidOf(vmm.UUID())).QueryRow(func(row pgx.Row) error { return row.Scan(&deleted) })
		}, func() error { return nil })
		if err != nil {
			return datastore.Result{}, err
		}
		return datastore.ReservationDeleted(deleted > 0), nil
	})
}

// reservationsBySled reads a sled's reservations through Omicron's index
// lookup_vmm_resource_by_sled.
const reservationsBySled = `SELECT ` + reservationColumns + ` FROM sled_resource_vmm WHERE sled_id = $1 ORDER BY id`

// ReservationListBySled implements datastore.SledReservations.
func (s *Store) ReservationListBySled(ctx context.Context, sled vmmstate.SledID) ([]datastore.Reservation, error) {
	return call(s, ctx, "reservation_list_by_sled", func(ctx context.Context) ([]datastore.Reservation, error) {
		var out []datastore.Reservation
		err := s.oneTrip(ctx, true, func(b *pgx.Batch) {
			b.Queue(reservationsBySled, uuidOf(sled.UUID())).Query(func(rows pgx.Rows) error {
				var err error
				out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (datastore.Reservation, error) {
					var c resvScan
					if err := r.Scan(c.dest()...); err != nil {
						return datastore.Reservation{}, err
					}
					return *c.reservation(), nil
				})
				return err
			})
		}, func() error { return nil })
		return out, err
	})
}

// reservationsLeaked reads every reservation with its VMM's row beside it,
// looked up by the VMM's primary key (a LATERAL subquery with LIMIT, so
// that the planner probes vmm once per reservation however large vmm has
// grown with deleted VMMs); datastore.LeakedReservation decides. The
// reservations themselves are read whole: each is a candidate, and there
// are as many as VMMs that hold room.
const reservationsLeaked = `SELECT r.id, v.present, v.time_deleted FROM sled_resource_vmm AS r
	LEFT JOIN LATERAL (SELECT true AS present, time_deleted FROM vmm WHERE vmm.id = r.id LIMIT 1) AS v ON true
	WHERE v.present IS NULL OR v.time_deleted IS NOT NULL
	ORDER BY r.id`

// ReservationListLeaked implements datastore.SledReservations.
func (s *Store) ReservationListLeaked(ctx context.Context) ([]vmmstate.ID, error) {
	return call(s, ctx, "reservation_list_leaked", func(ctx context.Context) ([]vmmstate.ID, error) {
		var out []vmmstate.ID
		err := s.oneTrip(ctx, true, func(b *pgx.Batch) {
			b.Queue(reservationsLeaked).Query(func(rows pgx.Rows) error {
				out = out[:0]
				var id pgtype.UUID
				var present pgtype.Bool
				var deleted pgtype.Timestamptz
				_, err := pgx.ForEachRow(rows, []any{&id, &present, &deleted}, func() error {
					row := datastore.VMMRow{TimeDeleted: timeFrom(deleted)}
					if datastore.LeakedReservation(row, present.Valid) {
						out = append(out, vmmstate.IDFromUUID(id.Bytes))
					}
					return nil
				})
				return err
			})
		}, func() error { return nil })
		return out, err
	})
}

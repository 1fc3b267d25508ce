package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
)

// The saga log (D26, D27) on PostgreSQL: tables saga, saga_node_event and
// saga_sec_lease (schema/0003_sagas.sql). Every operation is one statement
// in a SERIALIZABLE transaction sent as one batch — BEGIN, the statement,
// COMMIT — so one round trip, retried on 40001 as every transaction is
// (SagaFetch sends its two reads in the one batch).
//
// A fenced write carries its fence in its own WHERE clause — current_sec,
// adopt_generation and the states the write applies from — and reads the
// saga's row as it was beside it, in the same snapshot. When the write did
// not apply, that row says why, by datastore's guards (CheckFence,
// CheckUnfinished, CheckStateMove): the same refusal Memory gives. The
// states a write applies from are not written by hand either: they are the
// states the guards accept (fromStates).

var _ datastore.SagaLog = (*Store)(nil)

// sagaColumnList is the saga table's columns, in sagaScan's order.
var sagaColumnList = []string{"id", "creator", "time_created", "name", "saga_dag", "saga_state", "current_sec",
	"adopt_generation", "adopt_time", "abandon_time", "abandon_reason", "abandon_comment", "version", "recovery_attempts"}

// sagaColumns lists the saga table's columns, each after prefix (a
// table's alias and a dot, or "").
func sagaColumns(prefix string) string {
	return prefix + strings.Join(sagaColumnList, ", "+prefix)
}

// eventColumns are the columns of saga_node_event a read returns.
const eventColumns = `node_id, event_type, data, event_time, creator`

// The states of a saga from which each write applies, asked of the
// guards for every state there is.
var (
	unfinishedStates = fromStates(func(s datastore.SagaState) bool {
		return datastore.CheckUnfinished("", datastore.SagaRecord{State: s}) == nil
	})
	anyState = fromStates(func(datastore.SagaState) bool { return true })
)

// fromStates lists the saga states, as the saga_state enum names them,
// for which ok holds.
func fromStates(ok func(datastore.SagaState) bool) []string {
	var out []string
	for _, s := range datastore.AllSagaStates() {
		if ok(s) {
			out = append(out, s.String())
		}
	}
	return out
}

// moveStates lists the states a saga moves to to from (SagaSetState).
func moveStates(to datastore.SagaState) []string {
	return fromStates(func(from datastore.SagaState) bool { return datastore.CheckStateMove("", from, to) == nil })
}

// instant is a TIMESTAMPTZ parameter of a NOT NULL column: the zero time
// is the instant it names (0001-01-01 UTC), read back as the zero time.
func instant(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: datastore.StoreTime(t), Valid: true}
}

// someUUID is a UUID parameter of a NOT NULL column: the nil UUID is
// stored as it is.
func someUUID(u uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: u, Valid: true} }

// oneTrip runs the statements queue adds in one SERIALIZABLE transaction
// sent as one batch — BEGIN, the statements, COMMIT — and then decide,
// which reads what the statements' callbacks scanned. The whole is tried
// again while the database asks for it (40001, 40P01) or decide returns
// errRetry, at most MaxAttempts times; queue runs afresh each time.
func (s *Store) oneTrip(ctx context.Context, readOnly bool, queue func(*pgx.Batch), decide func() error) error {
	err := retry(ctx, func() error {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer c.Release()
		b := &pgx.Batch{}
		if readOnly {
			b.Queue("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY")
		} else {
			b.Queue("BEGIN ISOLATION LEVEL SERIALIZABLE")
		}
		queue(b)
		b.Queue("COMMIT")
		if err := c.Conn().SendBatch(ctx, b).Close(); err != nil {
			if !readOnly {
				err = committing(c.Conn(), err)
			}
			rollback(c.Conn())
			return seqRace(err)
		}
		return decide()
	})
	return answered(err)
}

// seqRace turns a second event at the same place in a saga's log — two
// appends that each read the log before the other wrote — into a retry.
// The saga's row lock and SERIALIZABLE keep it from happening; the unique
// index makes sure it cannot pass unseen.
func seqRace(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "saga_node_event_by_seq" {
		return errRetry
	}
	return err
}

// sagaScan holds one row of sagaColumns as scanned; id is NULL when there
// was no row (a LEFT JOIN's).
type sagaScan struct {
	id, creator, currentSEC                         pgtype.UUID
	timeCreated, adoptTime, abandonTime             pgtype.Timestamptz
	name, dag, state, abandonReason, abandonComment pgtype.Text
	adoptGeneration, version, recoveryAttempts      pgtype.Int8
}

// dest is the scan destinations, in sagaColumns order.
func (c *sagaScan) dest() []any {
	return []any{&c.id, &c.creator, &c.timeCreated, &c.name, &c.dag, &c.state, &c.currentSEC,
		&c.adoptGeneration, &c.adoptTime, &c.abandonTime, &c.abandonReason, &c.abandonComment, &c.version, &c.recoveryAttempts}
}

// record reads the scanned row: nil when there was none.
func (c *sagaScan) record() (*datastore.SagaRecord, error) {
	if !c.id.Valid {
		return nil, nil
	}
	rec := &datastore.SagaRecord{ID: c.id.Bytes, Name: c.name.String, Params: []byte(c.dag.String),
		Creator: c.creator.Bytes, TimeCreated: timeFrom(c.timeCreated), CurrentSEC: c.currentSEC.Bytes,
		AdoptGeneration: c.adoptGeneration.Int64, AdoptTime: timeFrom(c.adoptTime),
		Version: int(c.version.Int64), RecoveryAttempts: int(c.recoveryAttempts.Int64),
		AbandonComment: c.abandonComment.String, AbandonTime: timeFrom(c.abandonTime)}
	var err error
	if rec.State, err = datastore.ParseSagaState(c.state.String); err != nil {
		return nil, &columnError{"saga", "saga_state", err}
	}
	if rec.AbandonReason, err = enumFrom("saga", "abandon_reason", c.abandonReason, datastore.ParseAbandonReason); err != nil {
		return nil, err
	}
	return rec, nil
}

// eventScan holds one row of eventColumns as scanned; node is NULL when
// there was no row.
type eventScan struct {
	node, typ pgtype.Text
	data      []byte
	time      pgtype.Timestamptz
	creator   pgtype.UUID
}

func (e *eventScan) dest() []any { return []any{&e.node, &e.typ, &e.data, &e.time, &e.creator} }

// event reads the scanned row, an event of saga: the zero event when there
// was none.
func (e *eventScan) event(saga uuid.UUID) (datastore.NodeEvent, error) {
	if !e.node.Valid {
		return datastore.NodeEvent{}, nil
	}
	typ, err := datastore.ParseEventType(e.typ.String)
	if err != nil {
		return datastore.NodeEvent{}, &columnError{"saga_node_event", "event_type", err}
	}
	return datastore.NodeEvent{Saga: saga, Node: e.node.String, Type: typ, Data: e.data, Time: timeFrom(e.time), Owner: e.creator.Bytes}, nil
}

// SagaCreate: the row inserted unless its id is taken, and the row that
// holds the id read in the same statement, so that an identical retry
// (datastore.CheckSagaRetry) is told from another saga under a used id.
// The first events go in with it, numbered from 1, only when the row was
// inserted now: an identical retry writes them as SagaAppend.
var sagaCreate = `WITH ins AS (INSERT INTO saga (id, creator, time_created, name, saga_dag, saga_state,
		current_sec, adopt_generation, adopt_time, version, recovery_attempts)
		VALUES ($1, $2, $3, $4, $5, $6::saga_state, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO NOTHING RETURNING id),
	ev AS (INSERT INTO saga_node_event (saga_id, node_id, event_type, data, event_time, creator, seq)
		SELECT ins.id, e.node_id, e.event_type::saga_node_event_type, e.data, e.event_time, e.creator, e.ord
		FROM ins, unnest($12::TEXT[], $13::TEXT[], $14::BYTEA[], $15::TIMESTAMPTZ[], $16::UUID[], $17::INT8[])
			AS e (node_id, event_type, data, event_time, creator, ord)
		RETURNING 1)
	SELECT (SELECT count(*) FROM ins), ` + sagaColumns("s.") + `
	FROM (SELECT 1) AS one LEFT JOIN saga AS s ON s.id = $1`

// SagaCreate implements datastore.SagaLog.
func (s *Store) SagaCreate(ctx context.Context, rec datastore.SagaRecord, events ...datastore.NodeEvent) error {
	const op = "saga_create"
	return s.call0(ctx, op, func(ctx context.Context) error {
		if err := datastore.CheckSagaRecord(op, rec); err != nil {
			return err
		}
		if err := datastore.CheckEvents(op, rec.ID, events); err != nil {
			return err
		}
		rec := datastore.StoreSagaRecord(rec)
		ev := eventArrays(datastore.NewEvents(events))
		var inserted int64
		var old sagaScan
		retried := false
		err := s.oneTrip(ctx, false, func(b *pgx.Batch) {
			b.Queue(sagaCreate, someUUID(rec.ID), someUUID(rec.Creator), instant(rec.TimeCreated), rec.Name, string(rec.Params),
				rec.State.String(), someUUID(rec.CurrentSEC), rec.AdoptGeneration, instant(rec.AdoptTime), int64(rec.Version),
				int64(rec.RecoveryAttempts), ev.nodes, ev.types, ev.data, ev.times, ev.creators, ev.ords).QueryRow(func(row pgx.Row) error {
				old, retried = sagaScan{}, false
				return row.Scan(append([]any{&inserted}, old.dest()...)...)
			})
		}, func() error {
			if inserted == 1 {
				return nil
			}
			stored, err := old.record()
			switch {
			case err != nil:
				return err
			case stored == nil: // taken by a writer the snapshot did not see
				return errRetry
			}
			retried = true
			return datastore.CheckSagaRetry(op, *stored, rec)
		})
		if err != nil || !retried || len(events) == 0 {
			return err
		}
		// An identical retry: its events as SagaAppend writes them, in
		// this call (one call never makes another).
		return s.sagaAppend(ctx, op, rec.Fence(), rec.ID, events)
	})
}

// events is a write's events as the arrays the statements unnest.
type events struct {
	nodes, types []string
	data         [][]byte
	times        []pgtype.Timestamptz
	creators     []pgtype.UUID
	ords         []int64
}

func eventArrays(evs []datastore.NodeEvent) events {
	n := len(evs)
	a := events{nodes: make([]string, n), types: make([]string, n), data: make([][]byte, n),
		times: make([]pgtype.Timestamptz, n), creators: make([]pgtype.UUID, n), ords: make([]int64, n)}
	for i, e := range evs {
		a.nodes[i], a.types[i], a.data[i] = e.Node, e.Type.String(), e.Data
		a.times[i], a.creators[i], a.ords[i] = instant(e.Time), someUUID(e.Owner), int64(i+1)
	}
	return a
}

// SagaAppend: the saga's row locked (FOR UPDATE) only while the writer's
// fence holds it and it is unfinished — so an adoption waits for the
// append, or the append sees the adoption — and the new events inserted,
// numbered on from the saga's last, in the same statement; beside them the
// saga's row as it was, which says why when the fence did not hold.
var sagaAppend = `WITH old AS (SELECT ` + sagaColumns("") + ` FROM saga WHERE id = $1),
	owned AS (SELECT id FROM saga WHERE id = $1 AND current_sec = $2 AND adopt_generation = $3
		AND saga_state::TEXT = ANY($4) FOR UPDATE),
	last AS (SELECT COALESCE(max(seq), 0) AS seq FROM saga_node_event WHERE saga_id = $1),
	ins AS (INSERT INTO saga_node_event (saga_id, node_id, event_type, data, event_time, creator, seq)
		SELECT owned.id, e.node_id, e.event_type::saga_node_event_type, e.data, e.event_time, e.creator, last.seq + e.ord
		FROM owned, last,
			unnest($5::TEXT[], $6::TEXT[], $7::BYTEA[], $8::TIMESTAMPTZ[], $9::UUID[], $10::INT8[])
				AS e (node_id, event_type, data, event_time, creator, ord)
		ON CONFLICT (saga_id, node_id, event_type) DO NOTHING
		RETURNING 1)
	SELECT old.*, (SELECT count(*) FROM owned), (SELECT count(*) FROM ins) FROM old`

// SagaAppend implements datastore.SagaLog.
func (s *Store) SagaAppend(ctx context.Context, f datastore.Fence, saga uuid.UUID, events ...datastore.NodeEvent) error {
	const op = "saga_append"
	return s.call0(ctx, op, func(ctx context.Context) error {
		if err := datastore.CheckEvents(op, saga, events); err != nil {
			return err
		}
		return s.sagaAppend(ctx, op, f, saga, events)
	})
}

// sagaAppend writes events, checked, of the saga f holds, as the write op
// (SagaAppend, or an identical retry of SagaCreate).
func (s *Store) sagaAppend(ctx context.Context, op string, f datastore.Fence, saga uuid.UUID, events []datastore.NodeEvent) error {
	var decide func() error
	return s.oneTrip(ctx, false, func(b *pgx.Batch) {
		decide = queueAppend(b, op, f, saga, eventArrays(datastore.NewEvents(events)))
	}, func() error { return decide() })
}

// queueAppend queues sagaAppend on b and returns what decides its answer
// once the batch has run.
func queueAppend(b *pgx.Batch, op string, f datastore.Fence, saga uuid.UUID, ev events) func() error {
	var old sagaScan
	var owned, inserted int64
	found := false
	b.Queue(sagaAppend, someUUID(saga), someUUID(f.SEC), f.Generation, unfinishedStates,
		ev.nodes, ev.types, ev.data, ev.times, ev.creators, ev.ords).QueryRow(func(row pgx.Row) error {
		old, found = sagaScan{}, false
		err := row.Scan(append(old.dest(), &owned, &inserted)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	return func() error {
		if found && owned == 1 {
			return nil
		}
		return refusal(op, saga, f, old, datastore.CheckUnfinished)
	}
}

// refusal says why a fenced write on the saga's row as it was (old) did
// not apply: not found, the fence (datastore.CheckFence), or the write's
// own guard on the row. When neither refuses, the row changed between the
// snapshot and the write: errRetry.
func refusal(op string, saga uuid.UUID, f datastore.Fence, old sagaScan, guard func(string, datastore.SagaRecord) error) error {
	stored, err := old.record()
	if err != nil {
		return err
	}
	if err := datastore.CheckFence(op, saga, stored, f); err != nil {
		return err
	}
	if err := guard(op, *stored); err != nil {
		return err
	}
	return errRetry
}

// fencedUpdate is a fenced write of a saga's row (D27) in one statement:
// set applies while f holds the saga and it is in one of the states from,
// and returns value (an INT8); args are $5 on. It returns value, or
// guard's refusal (after the fence's) on the row as it was.
func (s *Store) fencedUpdate(ctx context.Context, op string, f datastore.Fence, saga uuid.UUID, from []string,
	set, value string, args []any, guard func(string, datastore.SagaRecord) error) (int64, error) {
	return s.fencedUpdateAfter(ctx, op, f, saga, nil, from, set, value, args, guard)
}

// fencedUpdateAfter is fencedUpdate with events appended before it in the
// same transaction and round trip (none when ev is nil).
func (s *Store) fencedUpdateAfter(ctx context.Context, op string, f datastore.Fence, saga uuid.UUID, ev *events, from []string,
	set, value string, args []any, guard func(string, datastore.SagaRecord) error) (int64, error) {
	sql := fencedStatement(set, value)
	args = append([]any{someUUID(saga), someUUID(f.SEC), f.Generation, from}, args...)
	var old sagaScan
	var wrote pgtype.Int8
	var appended func() error
	err := s.oneTrip(ctx, false, func(b *pgx.Batch) {
		if ev != nil {
			appended = queueAppend(b, op, f, saga, *ev)
		}
		b.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
			old, wrote = sagaScan{}, pgtype.Int8{}
			err := row.Scan(append(old.dest(), &wrote)...)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
	}, func() error {
		if appended != nil {
			if err := appended(); err != nil {
				return err
			}
		}
		if wrote.Valid {
			return nil
		}
		return refusal(op, saga, f, old, guard)
	})
	return wrote.Int64, err
}

// fencedStatement is fencedUpdate's statement: $1 the saga, $2 and $3
// the fence, $4 the states the write applies from.
func fencedStatement(set, value string) string {
	return `WITH old AS (SELECT ` + sagaColumns("") + ` FROM saga WHERE id = $1),
		upd AS (UPDATE saga SET ` + set + ` WHERE id = $1 AND current_sec = $2 AND adopt_generation = $3
			AND saga_state::TEXT = ANY($4) RETURNING ` + value + `)
		SELECT old.*, (SELECT ` + value + ` FROM upd) FROM old`
}

func noGuard(string, datastore.SagaRecord) error { return nil }

// SagaSetState implements datastore.SagaLog.
func (s *Store) SagaSetState(ctx context.Context, f datastore.Fence, saga uuid.UUID, state datastore.SagaState, evs ...datastore.NodeEvent) error {
	const op = "saga_set_state"
	return s.call0(ctx, op, func(ctx context.Context) error {
		if err := datastore.CheckSagaState(op, state); err != nil {
			return err
		}
		if err := datastore.CheckEvents(op, saga, evs); err != nil {
			return err
		}
		var ev *events
		if len(evs) > 0 {
			a := eventArrays(datastore.NewEvents(evs))
			ev = &a
		}
		_, err := s.fencedUpdateAfter(ctx, op, f, saga, ev, moveStates(state), `saga_state = $5::saga_state`, "1",
			[]any{state.String()}, func(op string, rec datastore.SagaRecord) error {
				return datastore.CheckStateMove(op, rec.State, state)
			})
		return err
	})
}

// SagaRecoveryAttempt implements datastore.SagaLog.
func (s *Store) SagaRecoveryAttempt(ctx context.Context, f datastore.Fence, saga uuid.UUID) (int, error) {
	return call(s, ctx, "saga_recovery_attempt", func(ctx context.Context) (int, error) {
		n, err := s.fencedUpdate(ctx, "saga_recovery_attempt", f, saga, anyState,
			`recovery_attempts = recovery_attempts + 1`, "recovery_attempts", nil, noGuard)
		return int(n), err
	})
}

// SagaAbandon implements datastore.SagaLog.
func (s *Store) SagaAbandon(ctx context.Context, f datastore.Fence, saga uuid.UUID, p datastore.AbandonArgs) error {
	reason, comment, now := p.Reason, p.Comment, p.Now
	const op = "saga_abandon"
	return s.call0(ctx, op, func(ctx context.Context) error {
		if err := datastore.CheckAbandonReason(op, reason); err != nil {
			return err
		}
		_, err := s.fencedUpdate(ctx, op, f, saga, unfinishedStates,
			`saga_state = 'abandoned', abandon_reason = $5::saga_abandon_reason, abandon_comment = $6, abandon_time = $7`, "1",
			[]any{reason.String(), comment, instant(now)}, datastore.CheckUnfinished)
		return err
	})
}

// The reads of SagaFetch, sent together: the saga, and its events in the
// order written.
var (
	fetchSaga   = `SELECT ` + sagaColumns("") + ` FROM saga WHERE id = $1`
	fetchEvents = `SELECT ` + eventColumns + ` FROM saga_node_event WHERE saga_id = $1 ORDER BY seq`
)

// SagaFetch implements datastore.SagaLog.
func (s *Store) SagaFetch(ctx context.Context, saga uuid.UUID) (datastore.SagaRecord, []datastore.NodeEvent, error) {
	type fetched struct {
		rec    datastore.SagaRecord
		events []datastore.NodeEvent
	}
	got, err := call(s, ctx, "saga_fetch", func(ctx context.Context) (fetched, error) {
		var old sagaScan
		var scanned []eventScan
		err := s.oneTrip(ctx, true, func(b *pgx.Batch) {
			b.Queue(fetchSaga, someUUID(saga)).QueryRow(func(row pgx.Row) error {
				old = sagaScan{}
				if err := row.Scan(old.dest()...); !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				return nil
			})
			b.Queue(fetchEvents, someUUID(saga)).Query(func(rows pgx.Rows) error {
				var err error
				scanned, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (eventScan, error) {
					var e eventScan
					return e, r.Scan(e.dest()...)
				})
				return err
			})
		}, func() error { return nil })
		if err != nil {
			return fetched{}, err
		}
		rec, err := old.record()
		switch {
		case err != nil:
			return fetched{}, err
		case rec == nil:
			return fetched{}, datastore.CheckFence("saga_fetch", saga, nil, datastore.Fence{})
		}
		events := make([]datastore.NodeEvent, len(scanned))
		for i := range scanned {
			if events[i], err = scanned[i].event(saga); err != nil {
				return fetched{}, err
			}
		}
		return fetched{*rec, events}, nil
	})
	return got.rec, got.events, err
}

// SagaListUnfinished implements datastore.SagaLog: the partial index
// lookup_saga_by_sec serves it (saga_state != 'done' says the index
// holds every row it reads).
func (s *Store) SagaListUnfinished(ctx context.Context, sec uuid.UUID) ([]datastore.SagaRecord, error) {
	return call(s, ctx, "saga_list_unfinished", func(ctx context.Context) ([]datastore.SagaRecord, error) {
		sql, args := listUnfinished(false), []any{unfinishedStates}
		if sec != uuid.Nil {
			sql, args = listUnfinished(true), append(args, someUUID(sec))
		}
		var scanned []sagaScan
		err := s.oneTrip(ctx, true, func(b *pgx.Batch) {
			b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
				var err error
				scanned, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (sagaScan, error) {
					var c sagaScan
					return c, r.Scan(c.dest()...)
				})
				return err
			})
		}, func() error { return nil })
		if err != nil {
			return nil, err
		}
		out := make([]datastore.SagaRecord, 0, len(scanned))
		for i := range scanned {
			rec, err := scanned[i].record()
			if err != nil {
				return nil, err
			}
			out = append(out, *rec)
		}
		return out, nil
	})
}

// listUnfinished is SagaListUnfinished's statement: $1 the unfinished
// states, and $2 the executor when bySEC.
func listUnfinished(bySEC bool) string {
	sql := `SELECT ` + sagaColumns("") + ` FROM saga WHERE saga_state != 'done' AND saga_state::TEXT = ANY($1)`
	if bySEC {
		sql += ` AND current_sec = $2`
	}
	return sql + ` ORDER BY id`
}

// SagaListStalled: each unfinished saga with its last event written (the
// largest seq), kept when that event — or, with none, the saga's creation
// — is before $2.
var listStalled = `SELECT ` + sagaColumns("s.") + `, e.node_id, e.event_type, e.data, e.event_time, e.creator
	FROM saga AS s LEFT JOIN LATERAL (SELECT ` + eventColumns + ` FROM saga_node_event
		WHERE saga_id = s.id ORDER BY seq DESC LIMIT 1) AS e ON true
	WHERE s.saga_state != 'done' AND s.saga_state::TEXT = ANY($1)
		AND COALESCE(e.event_time, s.time_created) < $2
	ORDER BY s.id`

// SagaListStalled implements datastore.SagaLog.
func (s *Store) SagaListStalled(ctx context.Context, before time.Time) ([]datastore.StalledSaga, error) {
	// Stored times are whole microseconds: one is before `before` exactly
	// when it is before `before` rounded up to the microsecond.
	if t := datastore.StoreTime(before); !t.Equal(before) {
		before = t.Add(datastore.Precision)
	}
	return call(s, ctx, "saga_list_stalled", func(ctx context.Context) ([]datastore.StalledSaga, error) {
		type scan struct {
			saga sagaScan
			last eventScan
		}
		var scanned []scan
		err := s.oneTrip(ctx, true, func(b *pgx.Batch) {
			b.Queue(listStalled, unfinishedStates, pgtype.Timestamptz{Time: before, Valid: true}).Query(func(rows pgx.Rows) error {
				var err error
				scanned, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (scan, error) {
					var c scan
					return c, r.Scan(append(c.saga.dest(), c.last.dest()...)...)
				})
				return err
			})
		}, func() error { return nil })
		if err != nil {
			return nil, err
		}
		out := make([]datastore.StalledSaga, 0, len(scanned))
		for i := range scanned {
			rec, err := scanned[i].saga.record()
			if err != nil {
				return nil, err
			}
			last, err := scanned[i].last.event(rec.ID)
			if err != nil {
				return nil, err
			}
			st := datastore.StalledSaga{Saga: *rec, Since: rec.TimeCreated, Last: last}
			if last.Type != 0 {
				st.Since = last.Time
			}
			out = append(out, st)
		}
		return out, nil
	})
}

// SECRenew: a lease only moves forward (GREATEST).
const secRenew = `INSERT INTO saga_sec_lease (sec_id, expires) VALUES ($1, $2)
	ON CONFLICT (sec_id) DO UPDATE SET expires = GREATEST(saga_sec_lease.expires, excluded.expires)
	RETURNING expires`

// SECRenew implements datastore.SagaLog.
func (s *Store) SECRenew(ctx context.Context, sec uuid.UUID, expires time.Time) (time.Time, error) {
	return call(s, ctx, "sec_renew", func(ctx context.Context) (time.Time, error) {
		if err := datastore.CheckSEC("sec_renew", sec); err != nil {
			return time.Time{}, err
		}
		var got pgtype.Timestamptz
		err := s.oneTrip(ctx, false, func(b *pgx.Batch) {
			b.Queue(secRenew, someUUID(sec), instant(expires)).QueryRow(func(row pgx.Row) error { return row.Scan(&got) })
		}, func() error { return nil })
		return timeFrom(got), err
	})
}

// SagaAdopt: every unfinished saga of $2 moved to $1, one generation on,
// in one UPDATE whose WHERE holds only when $2's lease (a missing row: no
// lease) has expired at $3; the lease read beside it says why nothing
// moved.
const sagaAdopt = `WITH lease AS (SELECT expires FROM saga_sec_lease WHERE sec_id = $2),
	upd AS (UPDATE saga SET current_sec = $1, adopt_generation = adopt_generation + 1, adopt_time = $3
		WHERE current_sec = $2 AND saga_state != 'done' AND saga_state::TEXT = ANY($4)
			AND NOT EXISTS (SELECT 1 FROM lease WHERE expires > $3)
		RETURNING id)
	SELECT (SELECT expires FROM lease), ARRAY(SELECT id FROM upd ORDER BY id)`

// SagaAdopt implements datastore.SagaLog.
func (s *Store) SagaAdopt(ctx context.Context, sec, from uuid.UUID, now time.Time) ([]uuid.UUID, error) {
	const op = "saga_adopt"
	return call(s, ctx, op, func(ctx context.Context) ([]uuid.UUID, error) {
		if err := datastore.CheckAdopters(op, sec, from); err != nil {
			return nil, err
		}
		now := datastore.StoreTime(now)
		var expires pgtype.Timestamptz
		var ids []pgtype.UUID
		var refused error
		err := s.oneTrip(ctx, false, func(b *pgx.Batch) {
			b.Queue(sagaAdopt, someUUID(sec), someUUID(from), instant(now), unfinishedStates).QueryRow(func(row pgx.Row) error {
				return row.Scan(&expires, &ids)
			})
		}, func() error {
			refused = datastore.CheckLease(op, from, timeFrom(expires), now)
			if refused != nil && len(ids) > 0 {
				return fmt.Errorf("pgstore: %s: %d sagas adopted from executor %v while its lease held: the statement's guard is not the rule's", op, len(ids), from)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if refused != nil {
			return nil, refused
		}
		out := make([]uuid.UUID, len(ids))
		for i, id := range ids {
			out[i] = id.Bytes
		}
		return out, nil
	})
}

package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestSagaStatementsAreKeyLookups: on a log of thousands of sagas and tens
// of thousands of events, every statement of the saga log that names a
// saga or an executor is planned as lookups by key — the append's
// max(seq) and the fetch's ordered read by saga_node_event_by_seq, an
// executor's unfinished sagas and adoption by lookup_saga_by_sec — both as
// planned for the values at hand and as the generic plan a cached
// statement switches to. (The fleet lists, every unfinished saga and the
// stalled ones, read every unfinished saga by design.)
func TestSagaStatementsAreKeyLookups(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	// 4,000 sagas of 40 executors, three in four done, each with ten
	// events; the leases of 4,000 executors, most long gone.
	if _, err := st.pool.Exec(ctx, `
		INSERT INTO saga (id, creator, time_created, name, saga_dag, saga_state, current_sec, adopt_generation, adopt_time, version)
			SELECT md5(i || 'g')::UUID, md5((i % 40) || 'e')::UUID, now(), 'start', '{}',
				CASE WHEN i % 4 = 0 THEN 'running' ELSE 'done' END::saga_state, md5((i % 40) || 'e')::UUID, 1, now(), 1
			FROM generate_series(1, 4000) i;
		INSERT INTO saga_node_event (saga_id, node_id, event_type, data, event_time, creator, seq)
			SELECT md5(i || 'g')::UUID, 'n' || n, 'started', NULL, now(), md5((i % 40) || 'e')::UUID, n
			FROM generate_series(1, 4000) i, generate_series(1, 10) n;
		INSERT INTO saga_sec_lease (sec_id, expires) SELECT md5(i || 'e')::UUID, now() FROM generate_series(0, 3999) i;
		ANALYZE saga; ANALYZE saga_node_event; ANALYZE saga_sec_lease`); err != nil {
		t.Fatal(err)
	}
	var saga, sec pgUUID
	if err := st.pool.QueryRow(ctx, `SELECT id, current_sec FROM saga WHERE id = md5('8g')::UUID`).Scan(&saga, &sec); err != nil {
		t.Fatal(err)
	}
	now := pgtype.Timestamptz{Time: time.Now(), Valid: true}
	other := someUUID(uuid.New())
	one := func(s string) []string { return []string{s} }
	statements := []struct {
		name string
		sql  string
		args []any
	}{
		{"saga_create", sagaCreate, []any{saga, sec, now, "start", "{}", "running", sec, int64(1), now, int64(1), int64(0),
			one("a"), one("started"), [][]byte{nil}, []pgtype.Timestamptz{now}, []pgUUID{sec}, []int64{1}}},
		{"saga_append", sagaAppend, []any{saga, sec, int64(1), unfinishedStates, one("x"), one("started"), [][]byte{nil},
			[]pgtype.Timestamptz{now}, []pgtype.UUID{sec}, []int64{1}}},
		{"a fenced update", fencedStatement(`recovery_attempts = recovery_attempts + 1`, "recovery_attempts"),
			[]any{saga, sec, int64(1), anyState}},
		{"saga_fetch: the saga", fetchSaga, []any{saga}},
		{"saga_fetch: its events", fetchEvents, []any{saga}},
		{"saga_list_unfinished of an executor", listUnfinished(true), []any{unfinishedStates, sec}},
		{"sec_renew", secRenew, []any{sec, now}},
		{"saga_adopt", sagaAdopt, []any{other, sec, now, unfinishedStates}},
	}
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range statements {
		for mode, plan := range plans(t, conn, s.name, s.sql, s.args...) {
			checkKeyLookups(t, s.name+" ("+mode+")", plan)
		}
	}
}

// TestReservationStatementsAreKeyLookups: on 2,000 reservations over 50
// sleds and 20,000 VMMs, most of them long deleted, the reservations'
// statements are planned as lookups by key, custom and generic: an
// insert, a release and a sled's list by key; the leaked list reads the
// reservations whole — each is a candidate — and looks each one's VMM up
// by its primary key, never scanning vmm.
func TestReservationStatementsAreKeyLookups(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	if _, err := st.pool.Exec(ctx, `
		INSERT INTO vmm (id, time_deleted, instance_id, sled_id, time_state_updated, state_generation, state)
			SELECT md5(i || 'v')::UUID, CASE WHEN i > 2000 THEN now() END, md5(i || 'i')::UUID, md5((i % 50) || 's')::UUID,
				now(), 2, CASE WHEN i > 2000 THEN 'destroyed' ELSE 'running' END::vmm_state
			FROM generate_series(1, 20000) i;
		INSERT INTO sled_resource_vmm (id, sled_id, instance_id, time_created)
			SELECT md5(i || 'v')::UUID, md5((i % 50) || 's')::UUID, md5(i || 'i')::UUID, now()
			FROM generate_series(1, 2000) i;
		ANALYZE vmm; ANALYZE sled_resource_vmm`); err != nil {
		t.Fatal(err)
	}
	vmm, sled := someUUID(uuid.New()), someUUID(uuid.New())
	if err := st.pool.QueryRow(ctx, `SELECT id, sled_id FROM sled_resource_vmm WHERE id = md5('8v')::UUID`).Scan(&vmm, &sled); err != nil {
		t.Fatal(err)
	}
	now := pgtype.Timestamptz{Time: time.Now(), Valid: true}
	statements := []struct {
		name  string
		sql   string
		args  []any
		whole []string // tables read whole by design
	}{
		{"reservation_insert", reservationInsert, []any{vmm, sled, vmm, now}, nil},
		{"reservation_delete", reservationDelete, []any{vmm}, nil},
		{"reservation_list_by_sled", reservationsBySled, []any{sled}, nil},
		{"reservation_list_leaked", reservationsLeaked, nil, []string{"sled_resource_vmm"}},
	}
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range statements {
		for mode, plan := range plans(t, conn, s.name, s.sql, s.args...) {
			checkKeyLookupsExcept(t, s.name+" ("+mode+")", plan, s.whole...)
		}
	}
}

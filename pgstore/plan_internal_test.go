package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vmlife/vmlife/pgstore/pgstoretest"
)

// TestReadsAreKeyLookups: on tables of thousands of rows, every read an
// operation begins with is planned as lookups by key, with any mix of its
// arms switched on, both as planned for the values at hand and as the
// generic plan a cached statement may switch to: no sequential scan, and
// no index scan without an index condition (a walk of the whole index in
// id order). Written as an OR of their arms, the reads scanned the whole
// table on every operation, and a long simulation slowed as its tables grew.
func TestReadsAreKeyLookups(t *testing.T) {
	ctx := context.Background()
	st := testStore(t)
	// 5,000 instances, each running on a VMM of its own with a migration
	// out of it, and as many deleted migrations.
	if _, err := st.pool.Exec(ctx, `
		INSERT INTO vmm (id, instance_id, sled_id, time_state_updated, state_generation, state)
			SELECT md5(i || 'v')::UUID, md5(i || 'i')::UUID, md5((i % 32) || 's')::UUID, now(), 2, 'running'
			FROM generate_series(1, 5000) i;
		INSERT INTO migration (id, instance_id, time_created, time_deleted, source_state, source_propolis_id, source_gen,
				target_state, target_propolis_id, target_gen)
			SELECT md5(i || 'm' || d)::UUID, md5(i || 'i')::UUID, now(), CASE WHEN d THEN now() END,
				'pending', md5(i || 'v')::UUID, 1, 'pending', md5(i || 't')::UUID, 1
			FROM generate_series(1, 5000) i, (VALUES (false), (true)) AS x(d);
		INSERT INTO instance (id, state, time_state_updated, state_generation, active_propolis_id, migration_id,
				updater_gen, intended_state)
			SELECT md5(i || 'i')::UUID, 'vmm', now(), 3, md5(i || 'v')::UUID, md5(i || 'm' || false)::UUID, 0, 'running'
			FROM generate_series(1, 5000) i;
		ANALYZE instance; ANALYZE vmm; ANALYZE migration`); err != nil {
		t.Fatal(err)
	}
	var in, vmm, mig pgUUID
	if err := st.pool.QueryRow(ctx, `SELECT id, active_propolis_id, migration_id FROM instance WHERE id = md5('77i')::UUID`).Scan(&in, &vmm, &mig); err != nil {
		t.Fatal(err)
	}
	ids := func(id ...pgUUID) []pgUUID { return id }
	reads := []struct {
		name, sql, types string
		args             []any
	}{
		{"instance", readInstance, "UUID", []any{in}},
		{"vmms by id", readVMMs, "UUID[], BOOL, UUID", []any{ids(vmm), false, in}},
		{"vmms linked", readVMMs, "UUID[], BOOL, UUID", []any{ids(), true, in}},
		{"vmms by id and linked", readVMMs, "UUID[], BOOL, UUID", []any{ids(vmm), true, in}},
		{"migrations by id", readMigrations, "UUID[], BOOL, BOOL, UUID", []any{ids(mig), false, false, in}},
		{"migrations linked", readMigrations, "UUID[], BOOL, BOOL, UUID", []any{ids(), true, false, in}},
		{"migrations of the instance", readMigrations, "UUID[], BOOL, BOOL, UUID", []any{ids(), false, true, in}},
		{"migrations every way", readMigrations, "UUID[], BOOL, BOOL, UUID", []any{ids(mig), true, true, in}},
	}
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for i, r := range reads {
		for _, lock := range []string{"", " FOR UPDATE"} {
			name := fmt.Sprintf("read%d%t", i, lock != "")
			if _, err := conn.Exec(ctx, "PREPARE "+name+" ("+r.types+") AS "+r.sql+lock); err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			values := make([]string, len(r.args))
			for j, a := range r.args {
				values[j] = literal(t, a)
			}
			for mode, plan := range plans(t, conn, r.name, "EXECUTE "+name+" ("+strings.Join(values, ", ")+")") {
				checkKeyLookups(t, r.name+lock+" ("+mode+")", plan)
			}
		}
	}
}

// plans returns the JSON plan of query under each plan cache mode: as
// planned for these values, and as the generic plan a cached statement may
// switch to.
func plans(t *testing.T, conn *pgxpool.Conn, name, query string, args ...any) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		var plan string
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&plan)
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[mode] = plan
	}
	return out
}

// literal writes a test value as SQL.
func literal(t *testing.T, v any) string {
	switch v := v.(type) {
	case pgUUID:
		return fmt.Sprintf("'%x'::UUID", v.Bytes)
	case []pgUUID:
		s := make([]string, len(v))
		for i, id := range v {
			s[i] = literal(t, id)
		}
		return "ARRAY[" + strings.Join(s, ", ") + "]::UUID[]"
	case bool:
		return fmt.Sprint(v)
	}
	t.Fatalf("literal: no SQL form for %T", v)
	return ""
}

// testStore opens a store on a schema of the test's own (package
// pgstoretest), migrated, closed before the schema is dropped.
func testStore(t *testing.T) *Store {
	t.Helper()
	dsn := pgstoretest.Schema(t)
	if _, err := Migrate(context.Background(), dsn); err != nil {
		t.Fatal(err)
	}
	st, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// checkKeyLookups fails t when the JSON plan reads a table other than by
// an index condition.
func checkKeyLookups(t *testing.T, name, plan string) {
	t.Helper()
	checkKeyLookupsExcept(t, name, plan)
}

// checkKeyLookupsExcept is checkKeyLookups, but the tables whole names
// may be read whole.
func checkKeyLookupsExcept(t *testing.T, name, plan string, whole ...string) {
	t.Helper()
	var doc []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(plan), &doc); err != nil || len(doc) != 1 {
		t.Fatalf("%s: not a JSON plan (%v): %s", name, err, plan)
	}
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		rel, _ := n["Relation Name"].(string)
		switch typ, _ := n["Node Type"].(string); {
		case slices.Contains(whole, rel):
		case typ == "Seq Scan":
			t.Errorf("%s: scans %v sequentially:\n%s", name, n["Relation Name"], plan)
		case typ == "Index Scan" || typ == "Index Only Scan" || typ == "Bitmap Index Scan":
			if _, ok := n["Index Cond"]; !ok {
				t.Errorf("%s: walks the whole of index %v:\n%s", name, n["Index Name"], plan)
			}
		}
		children, _ := n["Plans"].([]any)
		for _, c := range children {
			if c, ok := c.(map[string]any); ok {
				walk(c)
			}
		}
	}
	walk(doc[0].Plan)
}

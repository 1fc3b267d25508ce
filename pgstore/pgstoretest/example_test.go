package pgstoretest_test

import (
	"context"
	"testing"

	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
)

// A test of code built on pgstore opens a store on a schema of its own:
// empty at the start, dropped with everything in it when the test ends.
// The schema holds nothing, not even vmlife's tables: the test migrates
// it, as a deployment does before it opens the store. Without
// VMLIFE_PG_DSN the test is skipped (fails under CI=true).
func ExampleSchema() {
	testSomething := func(t *testing.T) {
		ctx := context.Background()
		dsn := pgstoretest.Schema(t)
		if _, err := pgstore.Migrate(ctx, dsn); err != nil {
			t.Fatal(err)
		}
		st, err := pgstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close() // before the schema is dropped
		// … st holds no instance, VMM or migration yet.
	}
	_ = testSomething
}

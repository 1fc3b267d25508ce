package pgstoretest_test

import (
	"context"
	"testing"

	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
)

// A test of code built on pgstore opens a store on a schema of its own:
// empty at the start, dropped with everything in it when the test ends.
// Without VMLIFE_PG_DSN the test is skipped (fails under CI=true).
func ExampleSchema() {
	testSomething := func(t *testing.T) {
		st, err := pgstore.Open(context.Background(), pgstoretest.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close() // before the schema is dropped
		// … st holds no instance, VMM or migration yet.
	}
	_ = testSomething
}

package pgstore_test

import (
	"context"
	"testing"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/datastore/storetest"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/pgstore/pgstoretest"
)

// fresh opens a store in a schema of its own, migrated, dropped when the
// test ends: every test starts from an empty database.
func fresh(t testing.TB) *pgstore.Store {
	t.Helper()
	st, _ := freshDSN(t)
	return st
}

// freshDSN is fresh, with the DSN that opens the same schema again.
func freshDSN(t testing.TB) (*pgstore.Store, string) {
	t.Helper()
	own := pgstoretest.Schema(t)
	if _, err := pgstore.Migrate(context.Background(), own); err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(context.Background(), own)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, own
}

// TestConformance runs the datastore conformance suite on PostgreSQL, with
// the fleet queries reading three instances at a time so that their
// answers cross page boundaries (the transcripts, the simulation and the
// stress test read with the default page).
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) datastore.Store {
		st := fresh(t)
		pgstore.SetFleetPage(st, 3)
		return st
	})
}

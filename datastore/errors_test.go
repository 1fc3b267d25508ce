package datastore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestReasonStrings: the reasons' wire strings, which `vmlife script`
// prints; an applied write's reason, ReasonNone, prints as nothing.
func TestReasonStrings(t *testing.T) {
	got := map[datastore.Reason]string{}
	for _, r := range []datastore.Reason{datastore.ReasonNone, datastore.ReasonStale, datastore.ReasonDeleted,
		datastore.ReasonUnchanged, datastore.ReasonNotDestroyable, datastore.ReasonLinked} {
		got[r] = r.String()
	}
	want := map[datastore.Reason]string{
		datastore.ReasonNone: "", datastore.ReasonStale: "stale", datastore.ReasonDeleted: "deleted",
		datastore.ReasonUnchanged: "unchanged", datastore.ReasonNotDestroyable: "not_destroyable", datastore.ReasonLinked: "linked",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Reason.String (-want +got):\n%s", diff)
	}
}

// TestSledReportMovingASideBack: a newer report that moves a migration
// side back to pending follows no edge of the migration's states: the
// report is refused as illegal_transition, like a VMM's own illegal edge,
// and nothing of it is written.
func TestSledReportMovingASideBack(t *testing.T) {
	ctx := context.Background()
	st, in, src := benchStore(t)
	dst := vmmstate.VMM{ID: vmmstate.IDFromUUID(uuid.New()), InstanceID: in.ID, SledID: vmmstate.SledIDFromUUID(uuid.New()),
		Runtime: vmmstate.Runtime{State: vmmstate.Migrating, Generation: generation.Of(2), TimeUpdated: t0}}
	if _, err := st.VMMInsert(ctx, dst); err != nil {
		t.Fatal(err)
	}
	m, err := st.MigrationInsert(ctx, migration.New(migration.IDFromUUID(uuid.New()), in.ID, src.ID, dst.ID, t0))
	if err != nil {
		t.Fatal(err)
	}
	side := func(s migration.State, g uint32) instancestate.Report {
		return instancestate.Report{
			VMM:          vmmstate.SledAgentRuntime{State: vmmstate.SledAgentMigrating, Generation: generation.Of(g), TimeUpdated: t0},
			MigrationOut: &migration.Report{MigrationID: m.ID, State: s, Generation: generation.Of(g), TimeUpdated: t0},
		}
	}
	if res, err := st.SledReport(ctx, src.ID, side(migration.InProgress, 3)); err != nil || !res.MigrationOut.Applied {
		t.Fatalf("in progress: %+v, %v", res, err)
	}
	before, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.SledReport(ctx, src.ID, side(migration.Pending, 4))
	var e *datastore.Error
	if !errors.As(err, &e) || e.Kind != datastore.KindIllegalTransition || !errors.Is(err, datastore.ErrIllegalTransition) ||
		!errors.Is(err, migration.ErrIllegalTransition) {
		t.Fatalf("back to pending: %v; want an illegal_transition refusal", err)
	}
	after, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after, allFields); diff != "" {
		t.Fatalf("a refused report wrote (-before +after):\n%s", diff)
	}
}

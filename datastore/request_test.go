package datastore_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestRequestRetryIsAccepted: a request retried after its intent was
// written (a user stopping twice) finds the intent already stored; the
// store answers unchanged, and that is the request's success, not a lost
// race (409).
func TestRequestRetryIsAccepted(t *testing.T) {
	ctx := context.Background()
	st, in, _ := benchStore(t)
	first, err := datastore.InstanceRequest(ctx, st, in.ID, instancestate.RequestStop, t0)
	if err != nil {
		t.Fatal(err)
	}
	if first.Decision.Action != instancestate.ActionSendToSled || first.Intent != instancestate.IntendStopped {
		t.Fatalf("first stop: %+v", first)
	}
	again, err := datastore.InstanceRequest(ctx, st, in.ID, instancestate.RequestStop, t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again, allFields); diff != "" {
		t.Fatalf("the retried stop answers differently (-first +again):\n%s", diff)
	}
}

// TestRecordDecisionOnAnInstanceDeletedMeanwhile: a decision made before
// the instance was deleted is answered 404 when recorded, as on an absent
// instance (D23) — also for update_runtime, whose write answers a deleted
// instance not applied rather than not found — and nothing is written.
func TestRecordDecisionOnAnInstanceDeletedMeanwhile(t *testing.T) {
	ctx := context.Background()
	st := datastore.NewMemory()
	failed := instancestate.New(vmmstate.InstanceIDFromUUID(uuid.New()), true, instancestate.AutoRestart{}, t0)
	failed.Runtime.State = instancestate.NexusFailed
	if _, err := st.InstanceInsert(ctx, failed); err != nil {
		t.Fatal(err)
	}
	s, err := st.InstanceFetchAll(ctx, failed.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := instancestate.Decide(s, instancestate.RequestStop, t0)
	if err != nil || d.Action != instancestate.ActionUpdateRuntime {
		t.Fatalf("stop of a failed instance: %+v, %v; want update_runtime", d, err)
	}
	if res, err := st.InstanceDelete(ctx, failed.ID, t0); err != nil || !res.Applied {
		t.Fatalf("delete: %+v, %v", res, err)
	}
	before, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := datastore.RecordDecision(ctx, st, failed.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	if got.Decision.Status != 404 || got.Decision.Accepted() || got.Intent != instancestate.IntentUnchanged {
		t.Errorf("RecordDecision after the delete: %+v; want a 404 rejection", got)
	}
	after, err := st.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after, allFields); diff != "" {
		t.Errorf("the refused decision wrote (-before +after):\n%s", diff)
	}
}

// TestRecordIntentOnAnInstanceDeletedMeanwhile: a start decided on a
// stopped instance and recorded after the instance was deleted meets
// instance_set_intended_state's not_found, and is answered 404 like a
// request on an absent instance (D23), not as an error.
func TestRecordIntentOnAnInstanceDeletedMeanwhile(t *testing.T) {
	ctx := context.Background()
	st := datastore.NewMemory()
	stopped := instancestate.New(vmmstate.InstanceIDFromUUID(uuid.New()), false, instancestate.AutoRestart{}, t0)
	stopped.Runtime.State = instancestate.NexusNoVMM
	if _, err := st.InstanceInsert(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	s, err := st.InstanceFetchAll(ctx, stopped.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := instancestate.Decide(s, instancestate.RequestStart, t0)
	if err != nil || d.Action != instancestate.ActionStartSaga || d.Intent != instancestate.IntendRunning {
		t.Fatalf("start of a stopped instance: %+v, %v; want start_saga, intent running", d, err)
	}
	if res, err := st.InstanceDelete(ctx, stopped.ID, t0); err != nil || !res.Applied {
		t.Fatalf("delete: %+v, %v", res, err)
	}
	got, err := datastore.RecordDecision(ctx, st, stopped.ID, d)
	if err != nil || got.Decision.Status != 404 || got.Intent != instancestate.IntentUnchanged {
		t.Errorf("RecordDecision after the delete: %+v, %v; want a 404 rejection", got, err)
	}
}

// allFields compares records field by field, unexported ones (a
// generation's count) included.
var allFields = cmp.Exporter(func(reflect.Type) bool { return true })

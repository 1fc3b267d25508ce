package datastore_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
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

// allFields compares records field by field, unexported ones (a
// generation's count) included.
var allFields = cmp.Exporter(func(reflect.Type) bool { return true })

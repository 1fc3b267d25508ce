package script_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/script"
	"github.com/vmlife/vmlife/vmmstate"
)

// errLost is what a lost connection looks like to a caller: not a
// *datastore.Error, an answer, but the store failing.
var errLost = errors.New("FATAL: terminating connection due to administrator command")

// breaking is a Memory whose VMMMarkDeleted and VMMListBySled fail once
// armed, as a store whose connection is terminated under them.
type breaking struct {
	*datastore.Memory
	armed bool
}

func (b *breaking) VMMMarkDeleted(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	if b.armed {
		return datastore.Result{}, errLost
	}
	return b.Memory.VMMMarkDeleted(ctx, id, now)
}

func (b *breaking) VMMListBySled(ctx context.Context, sled vmmstate.SledID) ([]vmmstate.ID, error) {
	if b.armed {
		return nil, errLost
	}
	return b.Memory.VMMListBySled(ctx, sled)
}

// The lines of a story: an instance created and started on a sled, its VMM
// stopped by the sled-agent, then the update saga whose destroy_vmms step
// marks the VMM deleted.
const story = `{"op":"saga","saga":"create","params":{"instance_id":"11111111-1111-4111-8111-111111111111","start":true}}
{"op":"saga","saga":"start","params":{"instance_id":"11111111-1111-4111-8111-111111111111","sled_id":"55555555-5555-4555-8555-555555555555"}}
{"op":"sled_report","vmm_id":"73000000-0000-4000-8000-000000000001","report":{"vmm_state":{"state":"destroyed","gen":9,"time_updated":"2026-01-01T00:00:01Z"},"migration_in":null,"migration_out":null}}
`

// TestStoreFailureEndsTheScript: a store that fails under a line — here
// under the update saga's destroy_vmms step, which an unwind would
// otherwise report as "outcome: unwound" — ends the script with a
// *StoreFailure saying that the saga's writes may have been committed, and
// the line's result is not written. A read that fails says nothing was
// written; a refusal (an answer) goes on.
func TestStoreFailureEndsTheScript(t *testing.T) {
	st := &breaking{Memory: datastore.NewMemory()}
	var out bytes.Buffer
	if err := script.Run(context.Background(), st, strings.NewReader(story), &out); err != nil {
		t.Fatalf("the story: %v\n%s", err, out.String())
	}
	st.armed = true
	for _, c := range []struct {
		line, want string
		writes     bool
	}{
		{`{"op":"saga","saga":"update","params":{"instance_id":"11111111-1111-4111-8111-111111111111"}}`,
			"line 1: saga: the store failed: " + errLost.Error() + "; some of the saga's writes may have been committed", true},
		{`{"op":"vmm_mark_deleted","vmm_id":"73000000-0000-4000-8000-000000000001"}`,
			"line 1: vmm_mark_deleted: the store failed: " + errLost.Error() + "; the write may have been committed", true},
		{`{"op":"vmm_list_by_sled","sled_id":"55555555-5555-4555-8555-555555555555"}`,
			"line 1: vmm_list_by_sled: the store failed: " + errLost.Error() + "; nothing was written", false},
	} {
		out.Reset()
		err := script.Run(context.Background(), st, strings.NewReader(c.line+"\n"), &out)
		var f *script.StoreFailure
		if !errors.As(err, &f) || !errors.Is(err, errLost) || f.Writes != c.writes || !strings.HasPrefix(err.Error(), c.want) || out.Len() != 0 {
			t.Errorf("%s: Run = %v, output %q; want a store failure %q and no result line", c.line, err, out.String(), c.want)
		}
	}
	// A refusal is an answer: the script goes on.
	out.Reset()
	if err := script.Run(context.Background(), st, strings.NewReader(`{"op":"vmm_mark_failed","vmm_id":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","reason":"sled_off"}`+"\n"), &out); err != nil ||
		!strings.Contains(out.String(), `"kind":"not_found"`) {
		t.Fatalf("a refusal: %v, %q", err, out.String())
	}
}

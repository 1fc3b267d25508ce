package script_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/script"
	"github.com/vmlife/vmlife/wire"

	// Registered for its flags only, so that the deep run
	// (go test ./... -rapid.checks=10000) accepts them here too.
	_ "pgregory.net/rapid"
)

func ExampleRun() {
	in := strings.NewReader(`{"op":"vmm_insert","vmm":{"id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","instance_id":"11111111-1111-4111-8111-111111111111","sled_id":"55555555-5555-4555-8555-555555555555","state":"running","failure_reason":null,"state_generation":2,"time_state_updated":"2026-01-01T00:00:00Z"}}
{"op":"vmm_update_runtime","vmm_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","runtime":{"state":"stopping","state_generation":2,"time_state_updated":"2026-01-01T00:00:05Z"}}
{"op":"vmm_mark_failed","vmm_id":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","reason":"sled_off"}
`)
	if err := script.Run(context.Background(), datastore.NewMemory(), in, os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// {"line":1,"op":"vmm_insert","ok":true,"result":{"vmm":{"id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","instance_id":"11111111-1111-4111-8111-111111111111","sled_id":"55555555-5555-4555-8555-555555555555","state":"running","failure_reason":null,"state_generation":2,"time_state_updated":"2026-01-01T00:00:00Z"}}}
	// {"line":2,"op":"vmm_update_runtime","ok":true,"result":{"reason":"stale","updated":false}}
	// {"line":3,"op":"vmm_mark_failed","ok":false,"error":{"kind":"not_found","message":"no VMM bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"}}
}

// TestRunStopsAtABadLine: a line that is not an operation is a decode
// error naming it, and what came before it was written.
func TestRunStopsAtABadLine(t *testing.T) {
	var out bytes.Buffer
	err := script.Run(context.Background(), datastore.NewMemory(),
		strings.NewReader("{\"op\":\"vmm_list_abandoned\"}\n{\"op\":\"nope\"}\n{\"op\":\"vmm_list_abandoned\"}\n"), &out)
	var de *wire.DecodeError
	if !errors.As(err, &de) || !strings.HasPrefix(de.Path, "line 2: ") || !strings.Contains(de.Accepted, "sled_report") {
		t.Fatalf("Run = %v, want a decode error at line 2 listing the operations", err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("output %q, want the first line only", out.String())
	}
}

// FuzzRun: whatever the input, Run neither panics nor writes anything but
// JSON objects, one a line, and a bad line is a decode error.
func FuzzRun(f *testing.F) {
	f.Add([]byte(`{"op":"vmm_list_abandoned"}`))
	f.Add([]byte(`{"op":"sled_report","vmm_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","report":{"vmm_state":{"state":"running","gen":3,"time_updated":"2026-01-01T00:00:00Z"},"migration_in":null,"migration_out":null}}`))
	f.Add([]byte(`{"now":"2026-01-01T00:00:00Z","op":"instance_update_saga","instance_id":"11111111-1111-4111-8111-111111111111","saga_id":"22222222-2222-4222-8222-222222222222"}`))
	f.Add([]byte("{\"op\":\"vmm_fetch\"}\n\nnot json"))
	if b, err := os.ReadFile("../cmd/vmlife/testdata/script/sagas.jsonl"); err == nil {
		f.Add(b) // every saga, unwound and replayed
	} else {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		err := script.Run(context.Background(), datastore.NewMemory(), bytes.NewReader(in), &out)
		if err != nil && !errors.Is(err, wire.ErrDecode) {
			t.Fatalf("Run = %v, want nil or a decode error", err)
		}
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			var v map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("output line %q is not a JSON object", sc.Text())
			}
		}
	})
}

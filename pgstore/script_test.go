package pgstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/datastore/script"
)

// TestScriptTranscripts runs every datastore script of the repository
// (cmd/vmlife/testdata/script) against PostgreSQL and compares what it
// prints with the in-memory store's golden transcript: the same script,
// the same output, line for line — the conformance check from outside.
func TestScriptTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "cmd", "vmlife", "testdata", "script", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts under ../cmd/vmlife/testdata/script: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".jsonl")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			golden, err := os.ReadFile(strings.TrimSuffix(file, ".jsonl") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			_, rest, ok := strings.Cut(string(golden), "-- stdout --\n")
			want, _, ok2 := strings.Cut(rest, "-- stderr --\n")
			if !ok || !ok2 {
				t.Fatalf("%s: not a transcript", file)
			}
			var out bytes.Buffer
			runErr := script.Run(context.Background(), fresh(t), bytes.NewReader(in), &out)
			if (runErr != nil) != strings.HasPrefix(name, "bad_") {
				t.Errorf("Run = %v", runErr)
			}
			if got := out.String(); got != want {
				t.Errorf("PostgreSQL printed, line by line:\n%s\nthe in-memory store printed:\n%s", got, want)
			}
		})
	}
}

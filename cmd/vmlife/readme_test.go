package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEShowsTheInstanceDiagram fails when the diagram in README.md no
// longer matches `vmlife diagram instance`, so the README cannot show a
// state machine the code no longer has.
func TestREADMEShowsTheInstanceDiagram(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	status, want, stderr := runInProcess([]string{"diagram", "instance"}, "")
	if status != exitOK || stderr != "" {
		t.Fatalf("vmlife diagram instance: exit %d, stderr %q", status, stderr)
	}
	const open = "```mermaid\n"
	i := strings.Index(string(readme), open)
	if i < 0 {
		t.Fatal("README.md has no mermaid diagram")
	}
	body := string(readme)[i+len(open):]
	j := strings.Index(body, "```")
	if j < 0 {
		t.Fatal("README.md's mermaid block is not closed")
	}
	if got := body[:j]; got != want {
		t.Errorf("README.md's diagram differs from `vmlife diagram instance`; replace it with:\n%s", want)
	}
}

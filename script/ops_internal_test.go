package script

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestOpsAreDocumented: the operations of docs/cli.md's script table are
// exactly the ones the language reads, so neither can gain or lose one
// without the other.
func TestOpsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := bytes.Cut(doc, []byte("\n| op | arguments | result |\n"))
	if !ok {
		t.Fatal("docs/cli.md has no script table (a header | op | arguments | result |)")
	}
	table, _, _ = bytes.Cut(table, []byte("\n\n"))
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllSubmatch(table, -1) {
		documented = append(documented, string(m[1]))
	}
	slices.Sort(documented)
	if got := opNames(); !slices.Equal(documented, got) {
		t.Errorf("docs/cli.md documents %q,\nthe language reads %q", documented, got)
	}
}

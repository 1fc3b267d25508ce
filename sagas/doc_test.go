package sagas_test

import (
	"bytes"
	"os"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vmlife/vmlife/sagas"
)

// TestStepsAreDocumented: docs/sagas.md's table of each saga lists exactly
// its steps, in order, and marks an undo exactly where the step has one —
// so the document and the code cannot drift apart.
func TestStepsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/sagas.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| .* \\| (.*) \\|$")
	for _, tb := range tables {
		s := tb.saga()
		_, section, ok := bytes.Cut(doc, []byte("\n### "+s.Kind().String()+" ("))
		if !ok {
			t.Errorf("docs/sagas.md has no section for the %v saga", s.Kind())
			continue
		}
		section, _, _ = bytes.Cut(section, []byte("\n#"))
		var documented, undone []string
		for _, m := range row.FindAllSubmatch(section, -1) {
			documented = append(documented, string(m[1]))
			if string(m[2]) != "—" {
				undone = append(undone, string(m[1]))
			}
		}
		var steps, withUndo []string
		for _, st := range s.Steps(&sagas.Env{}) {
			steps = append(steps, st.Name)
			if st.Undo != nil {
				withUndo = append(withUndo, st.Name)
			}
		}
		if d := cmp.Diff(steps, documented); d != "" {
			t.Errorf("%v: docs/sagas.md's steps differ (-code +doc):\n%s", s.Kind(), d)
		}
		if d := cmp.Diff(withUndo, undone, emptyIsNil); d != "" {
			t.Errorf("%v: docs/sagas.md's undos differ (-code +doc):\n%s", s.Kind(), d)
		}
	}
}

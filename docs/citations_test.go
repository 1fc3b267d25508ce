// Package docs holds vmlife's written rules: the reference behaviour
// (reference.md, §0–§21), the decisions (decisions.md, D1–D37), the CLI's
// interface, the glossary and the performance table. Its only Go file is
// this test, which keeps every citation in the repository resolvable.
package docs

import (
	// Registered for its flags only, so that the deep run
	// (go test ./... -rapid.checks=10000) accepts them here too.
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	_ "pgregory.net/rapid"
)

var (
	// A heading that defines a rule: "## §13.3 — …" or "### D11 — …".
	definition = regexp.MustCompile(`(?m)^#{2,4} (§\d+(?:\.\d+)*|D\d+) `)
	// A citation anywhere: "§13.3", "D11" (and both ends of "D5–D7").
	citation = regexp.MustCompile(`§\d+(?:\.\d+)*|\bD\d{1,2}\b`)
)

// cited lists the files whose citations must resolve: the repository's
// source, docs, diagrams, scripts and test data.
func cited(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".mmd", ".dot", ".json", ".golden", ".sql", ".jsonl", "":
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(b, 0) >= 0 {
			return nil // a binary, such as a built vmlife: no prose in it
		}
		rel, _ := filepath.Rel(root, path)
		for _, id := range citation.FindAllString(string(b), -1) {
			out[id] = append(out[id], rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// defined lists the rule ids the docs define, each with its file.
func defined(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs found: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range definition.FindAllStringSubmatch(string(b), -1) {
			if prev, dup := out[m[1]]; dup {
				t.Errorf("%s is defined twice: in %s and %s", m[1], prev, f)
			}
			out[m[1]] = f
		}
	}
	return out
}

// TestEveryCitationResolves: every § and D id cited anywhere in the
// repository has a heading of its own in docs/, so a reader with only the
// repository can look it up. Rules nobody cites are listed (with -v), not
// failed: the reference restates more than the code needs.
func TestEveryCitationResolves(t *testing.T) {
	defs := defined(t)
	uses := cited(t, "..")
	var missing []string
	for id, files := range uses {
		if _, ok := defs[id]; !ok {
			slices.Sort(files)
			missing = append(missing, id+" (cited in "+strings.Join(slices.Compact(files), ", ")+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("%s: no heading in docs/ defines it", m)
	}
	var uncited []string
	for id, file := range defs {
		n := 0
		for _, f := range uses[id] {
			if filepath.Dir(f) != "docs" {
				n++
			}
		}
		if n == 0 {
			uncited = append(uncited, id+" ("+file+")")
		}
	}
	sort.Strings(uncited)
	t.Logf("rules that no code, test or data cites (%d): %s", len(uncited), strings.Join(uncited, ", "))
}

// TestDecisionsAreComplete: D1 to D25 are each defined once, in order, in
// decisions.md, and §0 to §21 in reference.md.
func TestDecisionsAreComplete(t *testing.T) {
	defs := defined(t)
	for i := 1; i <= 25; i++ {
		id := "D" + strconv.Itoa(i)
		if defs[id] != "decisions.md" {
			t.Errorf("%s: defined in %q, want decisions.md", id, defs[id])
		}
	}
	for i := 0; i <= 21; i++ {
		id := "§" + strconv.Itoa(i)
		if defs[id] != "reference.md" {
			t.Errorf("%s: defined in %q, want reference.md", id, defs[id])
		}
	}
}

// TestNothingPointsOutside: the repository is read without the briefing it
// was built from, so no file may send a reader to it.
func TestNothingPointsOutside(t *testing.T) {
	uses := map[string]bool{}
	_ = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.Name() == ".git" {
				return filepath.SkipDir
			}
			return err
		}
		if filepath.Base(path) == "citations_test.go" {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), "../"+"shared") {
			uses[path] = true
		}
		return nil
	})
	for p := range uses {
		if !strings.HasPrefix(filepath.ToSlash(p), "../.ci/") {
			t.Errorf("%s points outside the repository (../%s)", p, "shared")
		}
	}
}

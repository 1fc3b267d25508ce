package docs

import (
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vmlife/vmlife"

// imports lists the library's packages with the library packages each
// imports (tests aside), as `go list` sees them.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		p := rel(f[0])
		deps[p] = []string{}
		for _, imp := range f[1:] {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				deps[p] = append(deps[p], rel(imp))
			}
		}
	}
	return deps
}

func rel(p string) string {
	if p == module {
		return "."
	}
	return strings.TrimPrefix(p, module+"/")
}

// levels numbers each package by its longest import chain from a leaf (a
// package that imports no other of the library's): leaves are 0.
func levels(deps map[string][]string) map[string]int {
	lv := map[string]int{}
	var level func(string) int
	level = func(p string) int {
		if n, ok := lv[p]; ok {
			return n
		}
		n := 0
		for _, d := range deps[p] {
			n = max(n, level(d)+1)
		}
		lv[p] = n
		return n
	}
	for p := range deps {
		level(p)
	}
	return lv
}

// TestFoldersShowTheLayers: a folder holds packages of neighbouring
// layers only — none more than two levels apart — so that the tree reads
// as the import graph does: internal/ the leaves, datastore/ the store and
// its conformance suite, sagas/ the sagas.
func TestFoldersShowTheLayers(t *testing.T) {
	lv := levels(imports(t))
	folders := map[string][]string{}
	for p := range lv {
		top, _, _ := strings.Cut(p, "/")
		folders[top] = append(folders[top], p)
	}
	for top, ps := range folders {
		lo, hi := ps[0], ps[0]
		for _, p := range ps {
			if lv[p] < lv[lo] {
				lo = p
			}
			if lv[p] > lv[hi] {
				hi = p
			}
		}
		if lv[hi]-lv[lo] > 2 {
			t.Errorf("folder %s/ holds %s (level %d) and %s (level %d): more than two levels apart", top, lo, lv[lo], hi, lv[hi])
		}
	}
}

// readmeLayers is the README's lines of dependencies: chains of groups of
// packages, "a, b → c → d; e → f", a chain ending at a semicolon or a
// line's end.
var readmeLayers = regexp.MustCompile("(?s)Dependencies point one way, leaf first[^\n]*:\n(.*?)\n\n")

// TestREADMELayers: every arrow of the README's dependency line holds —
// each package on its right imports, directly or not, each package on its
// left — and the line names every package of the library a user imports.
func TestREADMELayers(t *testing.T) {
	deps := imports(t)
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := readmeLayers.FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no paragraph starting \"Dependencies point one way, leaf first…:\"")
	}
	reaches := func(from, to string) bool {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, d := range deps[p] {
				if d == to {
					return true
				}
				if !seen[d] {
					seen[d] = true
					stack = append(stack, d)
				}
			}
		}
		return false
	}
	named := map[string]bool{}
	for chain := range strings.FieldsFuncSeq(string(m[1]), func(r rune) bool { return r == ';' || r == '\n' }) {
		var prev []string
		for group := range strings.SplitSeq(chain, "→") {
			var cur []string
			for _, name := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(group, -1) {
				p := strings.TrimSuffix(name[1], "/")
				if _, ok := deps[p]; !ok {
					continue // another module's (pgstore, cmd/vmlife), or a folder
				}
				named[p] = true
				cur = append(cur, p)
			}
			for _, r := range cur {
				for _, l := range prev {
					if !reaches(r, l) {
						t.Errorf("README says %s → %s, but %s does not import %s", l, r, r, l)
					}
				}
			}
			if len(cur) > 0 {
				prev = cur
			}
		}
	}
	for p := range deps {
		base := path.Base(p)
		if strings.HasPrefix(p, "internal/") || strings.Contains(p, "/internal/") || strings.HasPrefix(p, "examples/") ||
			strings.HasPrefix(p, "scripts/") || strings.HasSuffix(base, "test") || slices.Contains([]string{"docs", "."}, p) {
			continue
		}
		if !named[p] {
			t.Errorf("README's dependency line does not name package %s", p)
		}
	}
}

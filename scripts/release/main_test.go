package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree writes files (path → content) under a fresh directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	rootMod = "module github.com/vmlife/vmlife\n\ngo 1.24\n"
	pgMod   = "module github.com/vmlife/vmlife/pgstore\n\ngo 1.25.0\n\nrequire github.com/vmlife/vmlife v0.1.0\n"
	cmdMod  = "module github.com/vmlife/vmlife/cmd/vmlife\n\ngo 1.25.0\n\nrequire (\n\tgithub.com/vmlife/vmlife v0.1.0\n\tgithub.com/vmlife/vmlife/pgstore v0.1.0\n)\n"
)

func TestCheckModules(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   map[string]string
		version string
		err     string // a substring of the error; "" for none
	}{
		{"a release's layout", map[string]string{"go.mod": rootMod, "pgstore/go.mod": pgMod, "cmd/vmlife/go.mod": cmdMod}, "v0.1.0", ""},
		{"a replace anywhere", map[string]string{"go.mod": rootMod, "pgstore/go.mod": pgMod + "\nreplace github.com/vmlife/vmlife => ../\n"}, "v0.1.0", "pgstore/go.mod: replace github.com/vmlife/vmlife"},
		{"a replace of another module", map[string]string{"go.mod": rootMod + "\nreplace example.com/x => example.com/y v1.0.0\n"}, "", "go.mod: replace example.com/x"},
		{"two versions", map[string]string{"go.mod": rootMod, "pgstore/go.mod": pgMod, "cmd/vmlife/go.mod": strings.Replace(cmdMod, "pgstore v0.1.0", "pgstore v0.2.0", 1)}, "", "more than one version"},
		{"testdata is no module", map[string]string{"go.mod": rootMod, "x/testdata/go.mod": "module example.com/t\n\nreplace a => b v1.0.0\n"}, "", ""},
	} {
		version, err := checkModules(tree(t, c.files))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v; want one with %q", c.name, err, c.err)
		case c.err == "" && version != c.version:
			t.Errorf("%s: version %q; want %q", c.name, version, c.version)
		}
	}
}

func TestSetVersion(t *testing.T) {
	dir := tree(t, map[string]string{
		"go.mod":            rootMod,
		"pgstore/go.mod":    pgMod,
		"cmd/vmlife/go.mod": cmdMod,
		"go.work":           "go 1.26\n\nuse (\n\t.\n\t./pgstore\n\t./cmd/vmlife\n)\n\nreplace (\n\tgithub.com/vmlife/vmlife v0.1.0 => ./\n\tgithub.com/vmlife/vmlife/pgstore v0.1.0 => ./pgstore\n)\n",
	})
	if err := setVersion(dir, "v0.2.0"); err != nil {
		t.Fatal(err)
	}
	version, err := checkModules(dir)
	if err != nil || version != "v0.2.0" {
		t.Fatalf("after set-version v0.2.0: version %q, %v", version, err)
	}
	work, err := os.ReadFile(filepath.Join(dir, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(work), "v0.1.0") || strings.Count(string(work), "v0.2.0") != 2 {
		t.Errorf("go.work after set-version v0.2.0:\n%s", work)
	}
	root, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if string(root) != rootMod {
		t.Errorf("the library's go.mod changed although it requires no sibling:\n%s", root)
	}
}

func TestIsRelease(t *testing.T) {
	for v, want := range map[string]bool{
		"v0.1.0": true, "v1.2.3-rc.1": true, "v0.0.0-rehearsal": true,
		"0.1.0": false, "v0.1": false, "v0.1.0+meta": false, "": false,
	} {
		if got := isRelease(v); got != want {
			t.Errorf("isRelease(%q) = %v; want %v", v, got, want)
		}
	}
}

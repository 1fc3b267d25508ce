// Command release prepares vmlife's modules for a release, or rehearses one.
//
// vmlife is several modules in one repository (README, "Modules"): the
// library at the root, pgstore, and the command. They require each other
// at one version, which a release tags on all of them together, and no
// go.mod holds a replace (go install refuses a module that does; a checkout
// joins them with go.work instead). This tool keeps that true:
//
//	go run ./scripts/release check
//	    fail if any go.mod of the repository holds a replace, or if the
//	    modules require each other at more than one version
//	go run ./scripts/release set-version VERSION
//	    make every module (and go.work) require its siblings at VERSION:
//	    the commit a release tags
//	go run ./scripts/release stage -version VERSION -proxy DIR [-rev REV]
//	    write the published modules of REV (default HEAD), as a release at
//	    VERSION would publish them, into DIR laid out as a file-based module
//	    proxy (GOPROXY=file://DIR): what scripts/release-check installs from
//
// stage reads the committed tree (git archive), never the working tree, so
// what it zips is exactly what tags would name. Each module's go.sum gets
// its siblings' hashes from the modules staged before it, root first: the
// library requires no sibling, pgstore requires the library, the command
// both, so the order has no cycle.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

// repoPath is the module path of the library; every module of the
// repository has it as a prefix.
const repoPath = "github.com/vmlife/vmlife"

// published lists the modules a release publishes, by directory, in an
// order in which each requires only modules before it.
var published = []string{".", "pgstore", "cmd/vmlife"}

// notZipped are files of a checkout that are not part of any module: the
// workspace joins the modules in a checkout only.
var notZipped = []string{"go.work", "go.work.sum"}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("no command (accepted: check, set-version, stage)")
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	switch args[0] {
	case "check":
		if len(args) != 1 {
			return errors.New("check takes no arguments")
		}
		_, err := checkModules(root)
		if err == nil {
			fmt.Println("no go.mod holds a replace; the modules require each other at one version")
		}
		return err
	case "set-version":
		if len(args) != 2 || !isRelease(args[1]) {
			return errors.New("set-version takes one argument, a semantic version such as v0.2.0")
		}
		return setVersion(root, args[1])
	case "stage":
		fs := flag.NewFlagSet("stage", flag.ContinueOnError)
		version := fs.String("version", "", "the version to publish (semver, such as v0.2.0)")
		proxy := fs.String("proxy", "", "the directory to write the file-based module proxy into")
		rev := fs.String("rev", "HEAD", "the git revision to publish")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if !isRelease(*version) || *proxy == "" || fs.NArg() != 0 {
			return errors.New("stage needs -version (semver, such as v0.2.0) and -proxy DIR, and nothing else")
		}
		return stage(root, *rev, *version, *proxy)
	}
	return fmt.Errorf("unknown command %q (accepted: check, set-version, stage)", args[0])
}

func isRelease(v string) bool {
	return semver.IsValid(v) && semver.Build(v) == "" && v == semver.Canonical(v)
}

func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("not in a git checkout: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// goMods lists the go.mod files under dir (relative paths), skipping the
// directories no module can live in.
func goMods(dir string) ([]string, error) {
	var mods []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" {
			rel, _ := filepath.Rel(dir, p)
			mods = append(mods, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(mods)
	return mods, err
}

// checkModules fails on any replace in any go.mod under dir, and on
// siblings required at more than one version; it returns that version ("" if
// no module requires a sibling).
func checkModules(dir string) (string, error) {
	mods, err := goMods(dir)
	if err != nil {
		return "", err
	}
	var errs []error
	versions := map[string][]string{}
	for _, m := range mods {
		f, err := parse(filepath.Join(dir, m))
		if err != nil {
			return "", err
		}
		for _, r := range f.Replace {
			errs = append(errs, fmt.Errorf("%s: replace %s: a published go.mod holds no replace (go install refuses it); a checkout joins the modules with go.work", m, r.Old.Path))
		}
		for _, r := range f.Require {
			if isSibling(r.Mod.Path) {
				versions[r.Mod.Version] = append(versions[r.Mod.Version], m+" requires "+r.Mod.Path)
			}
		}
	}
	if len(versions) > 1 {
		var lines []string
		for v, who := range versions {
			lines = append(lines, v+": "+strings.Join(who, ", "))
		}
		slices.Sort(lines)
		errs = append(errs, fmt.Errorf("the modules require each other at more than one version (a release tags one on all): %s", strings.Join(lines, "; ")))
	}
	var version string
	for v := range versions {
		version = v
	}
	return version, errors.Join(errs...)
}

func isSibling(p string) bool { return p == repoPath || strings.HasPrefix(p, repoPath+"/") }

func parse(file string) (*modfile.File, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return modfile.Parse(file, data, nil)
}

// setVersion makes every go.mod under root require its siblings at
// version, and go.work name that version in its replaces.
func setVersion(root, version string) error {
	mods, err := goMods(root)
	if err != nil {
		return err
	}
	for _, m := range mods {
		if err := requireSiblingsAt(filepath.Join(root, m), version); err != nil {
			return err
		}
	}
	work := filepath.Join(root, "go.work")
	data, err := os.ReadFile(work)
	if err != nil {
		return err
	}
	wf, err := modfile.ParseWork(work, data, nil)
	if err != nil {
		return err
	}
	var siblings []modfile.Replace // copies: dropping one clears the original
	for _, r := range wf.Replace {
		if isSibling(r.Old.Path) && r.Old.Version != "" {
			siblings = append(siblings, *r)
		}
	}
	for _, r := range siblings {
		if err := wf.DropReplace(r.Old.Path, r.Old.Version); err != nil {
			return err
		}
		if err := wf.AddReplace(r.Old.Path, version, r.New.Path, r.New.Version); err != nil {
			return err
		}
	}
	wf.Cleanup()
	return os.WriteFile(work, modfile.Format(wf.Syntax), 0o644)
}

func requireSiblingsAt(file, version string) error {
	f, err := parse(file)
	if err != nil {
		return err
	}
	changed := false
	for _, r := range f.Require {
		if isSibling(r.Mod.Path) && r.Mod.Version != version {
			if err := f.AddRequire(r.Mod.Path, version); err != nil {
				return err
			}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o644)
}

// stage publishes the modules of rev at version into the proxy directory.
func stage(root, rev, version, proxy string) error {
	proxy, err := filepath.Abs(proxy)
	if err != nil {
		return err
	}
	src, err := os.MkdirTemp("", "vmlife-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	if err := archive(root, rev, src); err != nil {
		return err
	}
	if _, err := checkModules(src); err != nil {
		return err
	}
	for _, dir := range published {
		mdir := filepath.Join(src, dir)
		if err := requireSiblingsAt(filepath.Join(mdir, "go.mod"), version); err != nil {
			return err
		}
		for _, f := range notZipped {
			if err := os.Remove(filepath.Join(mdir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		// Tidy against what is staged so far: the siblings' hashes go
		// into go.sum as a release commit would hold them.
		if err := tidy(mdir, proxy); err != nil {
			return fmt.Errorf("%s: %v", dir, err)
		}
		f, err := parse(filepath.Join(mdir, "go.mod"))
		if err != nil {
			return err
		}
		mod := module.Version{Path: f.Module.Mod.Path, Version: version}
		if err := publish(mdir, mod, proxy); err != nil {
			return fmt.Errorf("%s: %v", dir, err)
		}
		fmt.Printf("staged %s@%s\n", mod.Path, mod.Version)
	}
	return nil
}

// archive extracts the tree of rev into dir.
func archive(root, rev, dir string) error {
	cmd := exec.Command("git", "archive", "--format=tar", rev)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git archive %s: %v: %s", rev, err, stderr.String())
	}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Join(dir, filepath.FromSlash(path.Clean(h.Name)))
		if !strings.HasPrefix(name, dir+string(filepath.Separator)) {
			return fmt.Errorf("git archive: %q leaves the tree", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return err
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if err := os.WriteFile(name, data, os.FileMode(h.Mode)&0o777); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, name); err != nil {
				return err
			}
		}
	}
}

// tidy runs go mod tidy in dir with the staged proxy first and the module
// cache after it, outside any workspace. The modules are extracted into a
// cache of the stage's own, beside the proxy: the machine's cache is read
// as a proxy, never written, so a rehearsal version an earlier stage left
// in it cannot stand in for this one's.
func tidy(dir, proxy string) error {
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GOWORK=off",
		"GOFLAGS=-mod=mod",
		"GOPROXY=file://"+proxy+",file://"+filepath.Join(strings.TrimSpace(string(cache)), "cache", "download"),
		"GONOSUMDB="+repoPath,
		"GOTOOLCHAIN=local",
		"GOMODCACHE="+filepath.Join(filepath.Dir(proxy), "stage-modcache"),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go mod tidy: %v\n%s", err, out)
	}
	return nil
}

// publish writes mod's zip, go.mod and info into the proxy's layout, and
// adds the version to the module's list.
func publish(dir string, mod module.Version, proxy string) error {
	esc, err := module.EscapePath(mod.Path)
	if err != nil {
		return err
	}
	vdir := filepath.Join(proxy, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	var zbuf bytes.Buffer
	if err := modzip.CreateFromDir(&zbuf, mod, dir); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":%q}`+"\n", mod.Version, time.Now().UTC().Format(time.RFC3339))
	files := map[string][]byte{
		mod.Version + ".zip":  zbuf.Bytes(),
		mod.Version + ".mod":  gomod,
		mod.Version + ".info": []byte(info),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return err
		}
	}
	list, err := os.ReadFile(filepath.Join(vdir, "list"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	versions := strings.Fields(string(list))
	if !slices.Contains(versions, mod.Version) {
		versions = append(versions, mod.Version)
	}
	semver.Sort(versions)
	return os.WriteFile(filepath.Join(vdir, "list"), []byte(strings.Join(versions, "\n")+"\n"), 0o644)
}

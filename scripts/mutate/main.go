// Command mutate runs every mutant of a Go package against the package's own
// tests and reports how many the tests kill.
//
//	go run ./scripts/mutate ./vmmstate ./migration
//
// Each package is tested from its own directory, so a package of a nested
// module works the same way (pgstore's tests need a database:
// VMLIFE_PG_DSN=… go run ./scripts/mutate -file fleet.go ./pgstore).
//
// A mutant is the package with one small change a careless edit could make:
// a comparison turned around or loosened (< ↔ <=, == ↔ !=), && ↔ ||, + ↔ -,
// ++ ↔ --, a negation dropped, true ↔ false, a condition of a tagless
// switch negated, or one value of a case list removed. Unlike coverage-based
// tools, mutants inside switch case expressions are included: most of
// vmlife's decision tables are switches. Each mutant is compiled through
// `go test -overlay`, so the source tree is never written; a mutant that
// does not compile is not counted. A mutant that every test accepts
// survives: it is printed with its place, and either a test is missing or
// the mutant is equivalent (it cannot change behaviour) and the report says
// which in prose.
//
// Flags: -timeout per mutant (default: 10× the clean run, at least 30 s),
// -mem, the memory a mutant's tests may use (default 2 GiB; a mutant that
// makes a test loop allocating is killed at that bound, not when the
// machine runs out), -file to mutate only files whose base name matches a
// pattern. A mutant's failing rapid property writes no failfile into the
// tree (RAPID_NOFAILFILE), and any file a mutant's run leaves under the
// package's testdata/ is removed.
//
// It is a deep check, not part of .ci/run: a package takes minutes.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mutant is one edit of one file: the bytes [start, end) replaced by repl.
type mutant struct {
	file       string // absolute path
	start, end int    // byte offsets
	repl       string
	line       int
	desc       string
}

// swaps lists each binary operator's mutations.
var swaps = map[token.Token][]token.Token{
	token.LSS:  {token.LEQ, token.GTR},
	token.LEQ:  {token.LSS, token.GTR},
	token.GTR:  {token.GEQ, token.LSS},
	token.GEQ:  {token.GTR, token.LSS},
	token.EQL:  {token.NEQ},
	token.NEQ:  {token.EQL},
	token.LAND: {token.LOR},
	token.LOR:  {token.LAND},
	token.ADD:  {token.SUB},
	token.SUB:  {token.ADD},
	token.MUL:  {token.QUO},
	token.QUO:  {token.MUL},
}

func main() {
	timeout := flag.Duration("timeout", 0, "per-mutant test timeout (default: 10× the clean run, at least 30s)")
	only := flag.String("file", "", "mutate only files whose base name matches this glob")
	flag.Int64Var(&memLimit, "mem", 2<<30, "bytes of resident memory a mutant's test processes may use together")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/mutate [-timeout D] [-file GLOB] PACKAGE_DIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	worst := 0
	for _, dir := range flag.Args() {
		code, err := run(dir, *only, *timeout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mutate:", err)
			os.Exit(2)
		}
		worst = max(worst, code)
	}
	os.Exit(worst)
}

func run(dir, only string, timeout time.Duration) (int, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	pkg := "./" + filepath.ToSlash(filepath.Clean(dir))
	began := time.Now()
	if out, err := goTest(context.Background(), pkg, ""); err != nil {
		return 0, fmt.Errorf("%s: the tests fail before any mutation:\n%s", pkg, out)
	}
	if timeout == 0 {
		timeout = max(30*time.Second, 10*time.Since(began))
	}
	muts, err := collect(abs, only)
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "mutate")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)

	var killed, viable int
	var survivors []mutant
	for i, m := range muts {
		res, err := try(m, pkg, tmp, timeout)
		if err != nil {
			return 0, err
		}
		switch res {
		case "killed":
			killed++
			viable++
		case "survived":
			viable++
			survivors = append(survivors, m)
		}
		fmt.Fprintf(os.Stderr, "\r%s: %d/%d mutants tried", pkg, i+1, len(muts))
	}
	fmt.Fprintln(os.Stderr)
	score := 100.0
	if viable > 0 {
		score = 100 * float64(killed) / float64(viable)
	}
	fmt.Printf("%s: killed %d of %d mutants (%.1f%%), %d did not compile\n", pkg, killed, viable, score, len(muts)-viable)
	for _, m := range survivors {
		rel, _ := filepath.Rel(abs, m.file)
		fmt.Printf("  survived %s:%d: %s\n", filepath.Join(dir, rel), m.line, m.desc)
	}
	if len(survivors) > 0 {
		return 1, nil
	}
	return 0, nil
}

// collect parses the package's non-test files and lists their mutants in
// file and position order.
func collect(dir, only string) ([]mutant, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var muts []mutant
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if only != "" {
			if ok, _ := filepath.Match(only, name); !ok {
				continue
			}
		}
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return nil, err
		}
		muts = append(muts, fileMutants(fset, f, path, src)...)
	}
	sort.SliceStable(muts, func(i, j int) bool {
		if muts[i].file != muts[j].file {
			return muts[i].file < muts[j].file
		}
		return muts[i].start < muts[j].start
	})
	return muts, nil
}

func fileMutants(fset *token.FileSet, f *ast.File, path string, src []byte) []mutant {
	var out []mutant
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	add := func(start, end int, repl, desc string) {
		out = append(out, mutant{file: path, start: start, end: end, repl: repl,
			line: fset.Position(fset.File(f.Pos()).Pos(start)).Line, desc: desc})
	}
	text := func(n ast.Node) string { return string(src[off(n.Pos()):off(n.End())]) }

	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GenDecl:
			// Constants and variable initialisers are tables of data, whose
			// own tests pin them; mutating arithmetic in them mostly yields
			// compile errors. Function bodies are where the decisions are.
			return n.Tok != token.CONST
		case *ast.BinaryExpr:
			for _, to := range swaps[n.Op] {
				p := off(n.OpPos)
				add(p, p+len(n.Op.String()), to.String(), fmt.Sprintf("%s → %s in %s", n.Op, to, clip(text(n))))
			}
		case *ast.UnaryExpr:
			if n.Op == token.NOT {
				add(off(n.OpPos), off(n.OpPos)+1, "", "dropped ! in "+clip(text(n)))
			}
		case *ast.IncDecStmt:
			to := token.INC
			if n.Tok == token.INC {
				to = token.DEC
			}
			add(off(n.TokPos), off(n.TokPos)+2, to.String(), fmt.Sprintf("%s → %s in %s", n.Tok, to, clip(text(n))))
		case *ast.Ident:
			switch n.Name {
			case "true":
				add(off(n.Pos()), off(n.End()), "false", "true → false")
			case "false":
				add(off(n.Pos()), off(n.End()), "true", "false → true")
			}
		case *ast.SwitchStmt:
			for _, s := range n.Body.List {
				cc := s.(*ast.CaseClause)
				for i, e := range cc.List {
					if n.Tag == nil {
						add(off(e.Pos()), off(e.End()), "!("+text(e)+")", "negated case "+clip(text(e)))
					}
					if len(cc.List) > 1 {
						// Remove e and the comma that joins it to a neighbour.
						start, end := off(e.Pos()), off(e.End())
						if i+1 < len(cc.List) {
							end = off(cc.List[i+1].Pos())
						} else {
							start = off(cc.List[i-1].End())
						}
						add(start, end, "", "removed case value "+clip(text(e)))
					}
				}
			}
		}
		return true
	})
	return out
}

// try runs the package's tests against one mutant: "killed", "survived" or
// "unviable" (it does not compile).
func try(m mutant, pkg, tmp string, timeout time.Duration) (string, error) {
	src, err := os.ReadFile(m.file)
	if err != nil {
		return "", err
	}
	mutated := append(append(append([]byte{}, src[:m.start]...), m.repl...), src[m.end:]...)
	mfile := filepath.Join(tmp, "mutant.go")
	if err := os.WriteFile(mfile, mutated, 0o644); err != nil {
		return "", err
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {m.file: mfile}})
	ofile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ofile, overlay, 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := goTest(ctx, pkg, ofile)
	switch {
	case err == nil:
		return "survived", nil
	case ctx.Err() != nil, errors.Is(err, errMemory):
		return "killed", nil // a mutant that loops forever, or allocates without end, is caught by the bounds
	case bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")):
		return "unviable", nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "killed", nil
	}
	return "", err
}

// memLimit is -mem: the resident memory a mutant's tests may use.
var memLimit int64

// errMemory is a test run stopped at memLimit.
var errMemory = errors.New("over the memory bound")

func goTest(ctx context.Context, pkg, overlay string) ([]byte, error) {
	args := []string{"test", "-count=1", "-failfast", "-vet=off"}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	// Run in the package's directory, so that a package of a nested
	// module (pgstore) is tested by its own module.
	args = append(args, ".")
	before := testdataFiles(pkg)
	defer removeNew(pkg, before)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = pkg
	cmd.Env = append(os.Environ(), "RAPID_NOFAILFILE=true", fmt.Sprintf("GOMEMLIMIT=%d", memLimit/2))
	// The test binary is the go command's child: one process group, so
	// that the watchdog measures, and a cancel kills, all of it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	over := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if groupRSS(cmd.Process.Pid) > memLimit {
					close(over)
					cancel()
					return
				}
			}
		}
	}()
	err := cmd.Wait()
	select {
	case <-over:
		return out.Bytes(), errMemory
	default:
	}
	return out.Bytes(), err
}

// groupRSS is the resident memory, in bytes, of the processes of process
// group pgid (Linux's /proc; 0 elsewhere).
func groupRSS(pgid int) int64 {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total int64
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// After the command's name in parentheses: state ppid pgrp …;
		// rss (in pages) is field 24.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 22 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		pages, _ := strconv.ParseInt(f[21], 10, 64)
		total += pages * int64(os.Getpagesize())
	}
	return total
}

// testdataFiles lists the files under the package's testdata/.
func testdataFiles(pkg string) map[string]bool {
	files := map[string]bool{}
	filepath.WalkDir(filepath.Join(pkg, "testdata"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files[p] = true
		}
		return nil
	})
	return files
}

// removeNew removes the files a run left under testdata/ that were not
// there before it: a mutant's rapid failfile is no regression seed.
func removeNew(pkg string, before map[string]bool) {
	for p := range testdataFiles(pkg) {
		if !before[p] {
			os.Remove(p)
		}
	}
}

func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}

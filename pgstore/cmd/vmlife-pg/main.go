// Command vmlife-pg runs vmlife's commands that keep records against
// PostgreSQL:
//
//	vmlife-pg script --store DSN [FILE]
//	vmlife-pg simulate --store DSN [--instances N] [--steps N] [--seed S] [--faults LIST] [--json]
//
// Each is the vmlife command of the same name (docs/cli.md) with a database
// in place of the fresh in-memory store: the same input, the same output.
// It lives in the pgstore module because it links the PostgreSQL driver,
// which the vmlife command never does. DSN is a postgres:// URL or a libpq
// key=value string; the schema is created if absent. A simulation needs a
// database with no instance in it: its ids start again at every run.
//
// Exit status: 0 success; 2 bad input — a line that is not an operation,
// a malformed DSN, a server that does not answer, a schema of another
// version — with one line on standard error, nothing written; 1 anything
// else.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vmlife/vmlife/datastore/script"
	"github.com/vmlife/vmlife/internal/sim"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/wire"
)

const usage = `usage: vmlife-pg script --store DSN [FILE]
    apply JSON Lines of datastore operations to the PostgreSQL database DSN
    names, one result line each (docs/cli.md, "vmlife script")
usage: vmlife-pg simulate --store DSN [--instances N] [--steps N] [--seed S] [--faults LIST] [--json]
    run vmlife simulate with its records in the PostgreSQL database DSN
    names, which must hold no instance
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// badInput is exit 2 with one line naming the problem.
func badInput(stderr io.Writer, cmd, format string, args ...any) int {
	fmt.Fprintf(stderr, "vmlife-pg "+cmd+": "+format+"\n", args...)
	return 2
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && args[0] == "script":
		return runScript(ctx, args, stdin, stdout, stderr)
	case len(args) > 0 && args[0] == "simulate":
		return runSimulate(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprint(stderr, usage)
	return 2
}

// runSimulate is vmlife simulate with --store.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var rest []string
	dsn, haveDSN := "", false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--store" && i+1 < len(args):
			i++
			dsn, haveDSN = args[i], true
		case strings.HasPrefix(a, "--store="):
			dsn, haveDSN = strings.TrimPrefix(a, "--store="), true
		default:
			rest = append(rest, a)
		}
	}
	o, help, err := sim.ParseArgs(rest)
	switch {
	case help:
		fmt.Fprint(stdout, usage)
		return 0
	case err != nil:
		return badInput(stderr, "script", "simulate", "%s", oneLine(err))
	case !haveDSN || dsn == "":
		return badInput(stderr, "script", "simulate", "--store: missing (accepted: a postgres:// URL or a libpq key=value string)")
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		return badInput(stderr, "script", "simulate", "--store: %s", oneLine(err))
	}
	defer st.Close()
	var used bool
	if err := st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM instance)`).Scan(&used); err != nil {
		fmt.Fprintf(stderr, "vmlife-pg simulate: %s\n", oneLine(err))
		return 1
	}
	if used {
		return badInput(stderr, "script", "simulate", "--store: the database holds instances (accepted: a database with none: the simulation's ids start again at every run)")
	}
	o.Config.Store = st
	s, err := sim.Run(o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vmlife-pg simulate: %s\n", oneLine(err))
		return 1
	}
	if s.Violations > 0 {
		return 1
	}
	return 0
}

// runScript is vmlife script with --store.
func runScript(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var dsn, file string
	haveDSN := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Fprint(stdout, usage)
			return 0
		case a == "--store" && i+1 < len(args):
			i++
			dsn, haveDSN = args[i], true
		case strings.HasPrefix(a, "--store="):
			dsn, haveDSN = strings.TrimPrefix(a, "--store="), true
		case a != "-" && strings.HasPrefix(a, "-"):
			return badInput(stderr, "script", "arguments: unknown flag %q (accepted: -h, --store DSN, a FILE, - for standard input)", a)
		case file != "":
			return badInput(stderr, "script", "arguments: a second FILE %q (accepted: at most one FILE)", a)
		default:
			file = a
		}
	}
	if !haveDSN || dsn == "" {
		return badInput(stderr, "script", "--store: missing (accepted: a postgres:// URL or a libpq key=value string)")
	}
	in := stdin
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return badInput(stderr, "script", "FILE: cannot be read: %v", err)
		}
		defer f.Close()
		in = f
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		return badInput(stderr, "script", "--store: %s", oneLine(err))
	}
	defer st.Close()
	if err := script.Run(ctx, st, in, stdout); err != nil {
		fmt.Fprintf(stderr, "vmlife-pg script: %s\n", oneLine(err))
		if errors.Is(err, wire.ErrDecode) {
			return 2
		}
		return 1
	}
	return 0
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

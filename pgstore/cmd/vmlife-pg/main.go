// Command vmlife-pg runs vmlife's datastore scripts against PostgreSQL:
//
//	vmlife-pg script --store DSN [FILE]
//
// It is `vmlife script` (docs/cli.md) with a database in place of the
// fresh in-memory store: the same language, the same output, line for
// line. It lives in the pgstore module because it links the PostgreSQL
// driver, which the vmlife command never does. DSN is a postgres:// URL or
// a libpq key=value string; the schema is created if absent.
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
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/wire"
)

const usage = `usage: vmlife-pg script --store DSN [FILE]
    apply JSON Lines of datastore operations to the PostgreSQL database DSN
    names, one result line each (docs/cli.md, "vmlife script")
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// badInput is exit 2 with one line naming the problem.
func badInput(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "vmlife-pg script: "+format+"\n", args...)
	return 2
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "script" {
		fmt.Fprint(stderr, usage)
		return 2
	}
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
			return badInput(stderr, "arguments: unknown flag %q (accepted: -h, --store DSN, a FILE, - for standard input)", a)
		case file != "":
			return badInput(stderr, "arguments: a second FILE %q (accepted: at most one FILE)", a)
		default:
			file = a
		}
	}
	if !haveDSN || dsn == "" {
		return badInput(stderr, "--store: missing (accepted: a postgres:// URL or a libpq key=value string)")
	}
	in := stdin
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return badInput(stderr, "FILE: cannot be read: %v", err)
		}
		defer f.Close()
		in = f
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		return badInput(stderr, "--store: %s", oneLine(err))
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

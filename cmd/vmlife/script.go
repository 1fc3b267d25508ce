package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/script"
)

func init() {
	commands["script"] = command{
		run:   runScript,
		usage: "script [--store DSN] [FILE]\tapply JSON Lines of datastore operations, one result line each, to a fresh in-memory store or the PostgreSQL database DSN names",
	}
}

// runScript is `vmlife script [--store DSN] [FILE]`.
func runScript(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	dsn, haveStore, args, err := storeFlag(args)
	if err != nil {
		return finish(stderr, "script", err)
	}
	var file string
	for _, a := range args {
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			commandUsage(stdout, "script")
			return exitOK
		case a != "-" && strings.HasPrefix(a, "-"):
			return finish(stderr, "script", badInput("arguments", fmt.Sprintf("unknown flag %q", a), "-h, --store DSN, a FILE, - for standard input"))
		case file != "":
			return finish(stderr, "script", badInput("arguments", fmt.Sprintf("a second FILE %q", a), "at most one FILE"))
		}
		file = a
	}
	in := stdin
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			status := finish(stderr, "script", badInput("FILE", "cannot be read: "+err.Error(), "a readable file, or - for standard input"))
			commandUsage(stderr, "script")
			return status
		}
		defer f.Close()
		in = f
	}
	if haveStore {
		// No retry of a call the server did not answer: a line's result
		// is its answer, and the store failing ends the script, naming
		// the line (docs/cli.md). A write whose commit was lost and that
		// the store retried would answer as a repeat does (D29) —
		// unchanged, stale — a line other than the in-memory store's, with
		// nothing to say the commit was lost; the script says so instead,
		// and whoever runs it reads the records and runs the line again.
		st, closeStore, err := openStore(dsn, false, 0)
		if err != nil {
			return finish(stderr, "script", err)
		}
		err = script.Run(context.Background(), st, in, stdout)
		closeStore(err)
		return finish(stderr, "script", err)
	}
	return finish(stderr, "script", script.Run(context.Background(), datastore.NewMemory(), in, stdout))
}

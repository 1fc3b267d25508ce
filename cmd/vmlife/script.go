package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/datastore/script"
)

func init() {
	commands["script"] = command{
		run:   runScript,
		usage: "script [--store DSN] [FILE]\tapply JSON Lines of datastore operations to a store, one result line each (docs/cli.md)",
	}
}

// runScript is `vmlife script [--store DSN] [FILE]`.
func runScript(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var file string
	for _, a := range args {
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			commandUsage(stdout, "script")
			return exitOK
		case a == "--store" || strings.HasPrefix(a, "--store="):
			// The vmlife command links no database driver (importing vmlife
			// never adds one); the PostgreSQL build is pgstore's.
			return finish(stderr, "script", badInput("--store", "this vmlife links no database driver; for PostgreSQL run vmlife-pg from the pgstore module (cd pgstore && go run ./cmd/vmlife-pg script --store DSN)", "no --store: a fresh in-memory store"))
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
	return finish(stderr, "script", script.Run(context.Background(), datastore.NewMemory(), in, stdout))
}

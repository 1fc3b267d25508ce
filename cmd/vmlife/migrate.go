package main

import (
	"fmt"
	"io"
)

func init() {
	commands["migrate"] = command{
		run: runMigrate,
		usage: "migrate --store DSN\tbring the PostgreSQL database DSN names to this vmlife's schema version " +
			"(a role that may create tables); print {\"schema_version\", \"from_version\", \"applied\"}",
	}
}

// migrateJSON is the output of migrate, in docs/cli.md's key order.
type migrateJSON struct {
	SchemaVersion int64    `json:"schema_version"`
	FromVersion   int64    `json:"from_version"`
	Applied       []string `json:"applied"`
}

// runMigrate is `vmlife migrate --store DSN`: pgstore.Migrate from the
// command line, the step of a deployment that creates and upgrades the
// schema — opening a store never does (docs/pgstore.md, "Schema").
func runMigrate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	dsn, haveStore, args, err := storeFlag(args)
	if err != nil {
		return finish(stderr, "migrate", err)
	}
	if len(args) > 0 {
		if a := args[0]; a == "-h" || a == "-help" || a == "--help" {
			commandUsage(stdout, "migrate")
			return exitOK
		}
		return finish(stderr, "migrate", badInput("arguments", fmt.Sprintf("unexpected %q", args[0]), "-h, --store DSN"))
	}
	if !haveStore {
		return finish(stderr, "migrate", badInput("--store", "missing", storeAccepted+": the database to migrate"))
	}
	out, err := migrateStore(dsn)
	if err != nil {
		return finish(stderr, "migrate", err)
	}
	if out.Applied == nil {
		out.Applied = []string{}
	}
	b, err := marshalOutput(out)
	if err == nil {
		_, err = stdout.Write(b)
	}
	return finish(stderr, "migrate", err)
}

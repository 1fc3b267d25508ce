package main

import "strings"

// The commands that keep records (script, simulate) keep them in a fresh
// in-memory datastore, or with --store in the PostgreSQL database a DSN
// names. store_pg.go is the command's one database path: the only importer
// of pgstore, the nested module that links the driver. The library
// packages never import it, so importing vmlife adds no driver to a build
// (TestLibraryLinksNoDriver). A vmlife built with -tags vmlife_nodb links
// no driver either (store_nodb.go): a third the size, and quicker to start
// for a tool that runs it once per document (docs/performance.md).

// storeAccepted is what --store accepts, for the messages of bad input.
const storeAccepted = "a postgres:// URL or a libpq key=value string"

// storeFlag takes --store DSN or --store=DSN out of args, and returns the
// other arguments in order. have says whether the flag was given; a flag
// with no value, or given twice, is bad input.
func storeFlag(args []string) (dsn string, have bool, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		var v string
		switch {
		case a == "--store":
			if i+1 == len(args) {
				return "", false, nil, badInput("--store", "no DSN after it", storeAccepted)
			}
			i++
			v = args[i]
		case strings.HasPrefix(a, "--store="):
			v = strings.TrimPrefix(a, "--store=")
		default:
			rest = append(rest, a)
			continue
		}
		switch {
		case have:
			return "", false, nil, badInput("--store", "given twice", "one --store")
		case strings.TrimSpace(v) == "":
			return "", false, nil, badInput("--store", "empty", storeAccepted)
		}
		dsn, have = v, true
	}
	return dsn, have, rest, nil
}

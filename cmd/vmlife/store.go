package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vmlife/vmlife/pgstore"
)

// The commands that keep records (script, simulate) keep them in a fresh
// in-memory datastore, or with --store in the PostgreSQL database a DSN
// names. This file is the command's one database path: the only importer
// of pgstore, the nested module that links the driver. The library
// packages never import it, so importing vmlife adds no driver to a build
// (TestLibraryLinksNoDriver).

// storeAccepted is what --store accepts, for the messages of bad input.
const storeAccepted = "a postgres:// URL or a libpq key=value string"

// openTimeout bounds connecting and bringing the schema up to date, so a
// server that never answers is bad input rather than a hang.
const openTimeout = 30 * time.Second

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

// openStore opens the PostgreSQL store dsn names, creating or upgrading
// its schema. Every way it can fail — a malformed DSN, a server that does
// not answer, a schema of another version — is bad input (exit 2), and
// nothing is written.
func openStore(dsn string) (*pgstore.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		return nil, badInput("--store", err.Error(), storeAccepted+", of a server that answers, at a schema version this vmlife knows (docs/pgstore.md)")
	}
	return st, nil
}

// openEmptyStore is openStore for a simulation, which numbers its ids
// afresh on every run and so needs a database with no instance in it.
func openEmptyStore(dsn string) (*pgstore.Store, error) {
	st, err := openStore(dsn)
	if err != nil {
		return nil, err
	}
	var used bool
	if err := st.Pool().QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM instance)`).Scan(&used); err != nil {
		st.Close()
		return nil, fmt.Errorf("--store: %w", err)
	}
	if used {
		st.Close()
		return nil, badInput("--store", "the database holds instances", "a database with none: a simulation's ids start again at every run")
	}
	return st, nil
}

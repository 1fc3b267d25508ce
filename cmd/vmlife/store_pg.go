//go:build !vmlife_nodb

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/pgstore"
)

// openTimeout bounds connecting and bringing the schema up to date, so a
// server that never answers is bad input rather than a hang.
const openTimeout = 30 * time.Second

// migrateStore is `vmlife migrate`: pgstore.Migrate on the database dsn
// names. Every way it can fail — a malformed DSN, a server that does not
// answer within openTimeout, a role that may not create tables, a schema
// of another version — is bad input (exit 2), and nothing is written: the
// migration is one transaction.
func migrateStore(dsn string) (migrateJSON, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	res, err := pgstore.Migrate(ctx, dsn)
	if err != nil {
		return migrateJSON{}, badInput("--store", err.Error(), storeAccepted+", of a server that answers, as a role that may create tables, at a schema version this vmlife knows")
	}
	return migrateJSON{SchemaVersion: res.To, FromVersion: res.From, Applied: res.Applied}, nil
}

// openStore opens the PostgreSQL store dsn names, first creating or
// upgrading its schema (pgstore.Migrate: a development tool's database is
// its own, and a database already at this version is only read, so a role
// that may only write rows runs it too), and returns it with the function
// that closes it. Every way it can fail — a malformed DSN, a server that
// does not answer, a schema of another version — is bad input (exit 2),
// and nothing is written. retryFor > 0 has each call of the store wait
// out a server that does not answer for that long (pgstore.RetryUnavailable).
// Unless resume, a database that holds any record is refused too: a
// simulation, and a script's sagas, number their ids afresh on every run,
// and would meet an earlier run's records under them (D29); a resumed
// simulation continues the one whose records it holds. So is one another
// such run is using at the same moment: the run holds the database
// (pgstore's ClaimRun) until the returned function closes it.
//
// The function that closes the store is given the run's error. After a
// server that did not answer (a *pgstore.NoAnswerError: it timed out or
// the connection was lost), closing does not wait for that server: the
// run's hold is released and the connections closed in the background,
// and the process's exit ends them — pgx would otherwise give each
// connection a hung server holds 15 seconds to close, and the rollback
// that ends the hold 5 more.
func openStore(dsn string, resume bool, retryFor time.Duration) (datastore.Store, func(runErr error), error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, dsn); err != nil {
		return nil, nil, badInput("--store", err.Error(), storeAccepted+", of a server that answers, at a schema version this vmlife knows")
	}
	st, err := pgstore.Open(ctx, dsn, pgstore.RetryUnavailable(retryFor))
	if err != nil {
		return nil, nil, badInput("--store", err.Error(), storeAccepted+", of a server that answers, at a schema version this vmlife knows")
	}
	release, err := st.ClaimRun(ctx)
	switch {
	case errors.Is(err, pgstore.ErrInUse):
		st.Close()
		return nil, nil, badInput("--store", "another script or simulation is using the database",
			"a database no other run is using: their ids would meet (D29)")
	case err != nil:
		st.Close()
		return nil, nil, fmt.Errorf("--store: %w", err)
	}
	closeStore := func() {
		release()
		st.Close()
	}
	closeRun := closing(closeStore)
	if resume {
		return st, closeRun, nil
	}
	var used bool
	if err := st.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM instance) OR EXISTS (SELECT 1 FROM vmm)
		OR EXISTS (SELECT 1 FROM migration)`).Scan(&used); err != nil {
		closeStore()
		return nil, nil, fmt.Errorf("--store: %w", err)
	}
	if used {
		closeStore()
		return nil, nil, badInput("--store", "the database holds records of an earlier run",
			"an empty database: the ids a simulation or a script's sagas make start again at every run (D29)")
	}
	return st, closeRun, nil
}

// closing is closeStore given the run's error: after a server that did
// not answer, it runs in the background and is not waited for.
func closing(closeStore func()) func(runErr error) {
	return func(runErr error) {
		var na *pgstore.NoAnswerError
		if errors.As(runErr, &na) {
			go closeStore()
			return
		}
		closeStore()
	}
}

//go:build !vmlife_nodb

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout+retryFor)
	defer cancel()
	var st *pgstore.Store
	err := waitOut(ctx, retryFor, func() error {
		if _, err := pgstore.Migrate(ctx, dsn); err != nil {
			return err
		}
		var err error
		st, err = pgstore.Open(ctx, dsn, pgstore.RetryUnavailable(retryFor))
		return err
	})
	if err != nil {
		return nil, nil, badInput("--store", err.Error(), storeAccepted+", of a server that answers, at a schema version this vmlife knows")
	}
	// A resumed run may start while the server has not yet noticed that
	// the process it resumes was killed holding the claim: it waits for
	// the claim as for a server that restarts.
	var release func()
	err = waitOut(ctx, retryFor, func() error {
		var err error
		release, err = st.ClaimRun(ctx)
		if resume && errors.Is(err, pgstore.ErrInUse) {
			return &claimWait{err}
		}
		return err
	})
	var cw *claimWait
	if errors.As(err, &cw) {
		err = cw.err
	}
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

// waitOut runs f until it succeeds, fails other than by a server that
// could not be reached (unreachable), or retryFor has passed: a server
// restarting when a run opens its store, or while the simulation keeps
// its world (simkeep_pg.go), is waited out as the store's own calls wait
// it out (pgstore.RetryUnavailable). retryFor <= 0 runs f once. Every f
// given is safe to run again.
func waitOut(ctx context.Context, retryFor time.Duration, f func() error) error {
	deadline := time.Now().Add(retryFor)
	wait := 50 * time.Millisecond
	for {
		err := f()
		if err == nil || !unreachable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait = min(2*wait, time.Second)
	}
}

// unreachable reports whether err is a server that could not be reached,
// dropped the connection, or was starting up or shutting down — rather
// than one that answered and refused, or a DSN that names nothing: a
// connection refused or reset, a socket missing while the server restarts
// (net.OpError), the store's own NoAnswerError, the server's 08xxx,
// 57P01–57P03 and 53300 (too many connections, as clients pile back after
// a restart), and a serialization failure (40001: run it again). A DNS
// name that does not resolve, a TLS or password failure, or a deadline is
// not.
func unreachable(err error) bool {
	var (
		na *pgstore.NoAnswerError
		pe *pgconn.PgError
		op *net.OpError
	)
	var cw *claimWait
	switch {
	case errors.As(err, &cw):
		return true
	case errors.As(err, &pe):
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300", "40001":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	case errors.As(err, &na):
		return true
	case errors.As(err, &op):
		var dns *net.DNSError
		return !errors.As(err, &dns)
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// claimWait is a claim a resumed run waits for (waitOut retries it).
type claimWait struct{ err error }

func (c *claimWait) Error() string { return c.err.Error() }

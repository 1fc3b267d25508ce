package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vmlife/vmlife/datastore"
)

// Every call of the store has a deadline (OperationTimeout), so that a
// server that stops answering — hung, stopped, cut off by the network —
// costs a caller that long and no longer; and every call the server did
// not answer fails with a *NoAnswerError that says whether the write it
// carried may have been applied (ErrOutcomeUnknown).

// DefaultOperationTimeout bounds each call of a store opened without an
// OperationTimeout: long enough for a fleet query over tens of thousands
// of instances, or a write that waits its turn behind busy writers; short
// enough that a hung server is noticed.
const DefaultOperationTimeout = 10 * time.Second

// Option configures a Store (Open, New).
type Option func(*Store)

// OperationTimeout bounds every call of the store — every method of
// datastore.Store, datastore.SagaLog and datastore.SledReservations, with
// the retries it makes on serialization failures — by d
// (DefaultOperationTimeout when not given); a call whose context has an
// earlier deadline keeps that one. A call that runs out of time fails
// with a *NoAnswerError matching context.DeadlineExceeded, which the
// caller may retry. d <= 0 leaves calls bounded only by their context.
// Opening the store (its first connection and the schema check) is bounded
// by it too; Migrate and ClaimRun's hold are not.
func OperationTimeout(d time.Duration) Option {
	return func(s *Store) { s.timeout = d }
}

// ErrOutcomeUnknown is matched (errors.Is) by the *NoAnswerError of a
// write the server may or may not have applied: the connection was lost,
// or the call's deadline passed, after the write (or its COMMIT) was sent
// and before the answer came back. A commit whose answer was lost looks
// the same to the client as one that never ran. Retry the same write:
// every write is idempotent on retry (D29), and the retry settles it — an
// insert answers the record as stored, a guarded write that the lost
// attempt applied answers as a repeat does (unchanged, or stale for a
// generation already written), one it did not apply is applied now. It is
// datastore.ErrOutcomeUnknown, so that a caller that knows only the
// datastore interface (package controlplane) can tell it apart.
var ErrOutcomeUnknown = datastore.ErrOutcomeUnknown

// NoAnswerError is a call of the store that the server did not answer:
// its deadline passed (TimedOut; the error then matches
// context.DeadlineExceeded), or the connection to the server was lost or
// could not be opened (refused, reset, a server starting up or shutting
// down). It is never a *datastore.Error — the database did not refuse
// anything — and it is safe to retry the same call. When OutcomeUnknown is
// false nothing was written (the call read, or failed before its write was
// sent); when it is true the error matches ErrOutcomeUnknown. It always
// matches datastore.ErrUnavailable. A store opened with RetryUnavailable
// returns it only once its retries are spent.
type NoAnswerError struct {
	Op             string        // the operation, as `vmlife script` names it
	TimedOut       bool          // a deadline passed: the store's (Timeout) or the caller's
	Timeout        time.Duration // the store's OperationTimeout, when it was the deadline that passed
	OutcomeUnknown bool          // a write was sent and its answer lost: it may have been applied
	Attempts       int           // how often the call was tried: more than 1 only under RetryUnavailable
	Err            error         // what the driver said (of the last attempt)
}

func (e *NoAnswerError) Error() string {
	var b strings.Builder
	b.WriteString("pgstore: " + e.Op + ": ")
	if e.Attempts > 1 {
		fmt.Fprintf(&b, "tried %d times, the last: ", e.Attempts)
	}
	var ce *pgconn.ConnectError
	switch {
	case e.Timeout > 0:
		b.WriteString("no answer from the server within " + e.Timeout.String() + " (the store's operation timeout)")
	case e.TimedOut:
		b.WriteString("no answer from the server before the caller's deadline")
	case errors.As(e.Err, &ce):
		b.WriteString("no connection to the server could be opened")
	default:
		b.WriteString("the connection to the server was lost")
	}
	switch {
	case e.OutcomeUnknown && e.Attempts > 1:
		b.WriteString("; the write was sent and its answer lost: it may or may not have been applied; retry it (every write is idempotent on retry, D29)")
	case e.OutcomeUnknown:
		b.WriteString(" after the write was sent: it may or may not have been applied; retry it (every write is idempotent on retry, D29)")
	default:
		b.WriteString(": nothing was written; the call may be retried")
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

// Is matches datastore.ErrUnavailable, ErrOutcomeUnknown when the write
// may have been applied, and context.DeadlineExceeded when a deadline
// passed.
func (e *NoAnswerError) Is(target error) bool {
	return target == datastore.ErrUnavailable || (target == ErrOutcomeUnknown && e.OutcomeUnknown) ||
		(target == context.DeadlineExceeded && e.TimedOut)
}

// Unwrap returns the driver's error.
func (e *NoAnswerError) Unwrap() error { return e.Err }

// call runs one call of the store named op: f, on ctx bounded by the
// store's operation timeout. An error of f that says the server did not
// answer becomes a *NoAnswerError (noAnswer); with RetryUnavailable, such
// a call is tried again, each attempt with a timeout of its own, until it
// is answered, its retry window closes or the caller's context ends
// (retrying.next). It is the one home of both: every method of
// datastore.Store, datastore.SagaLog and datastore.SledReservations is one
// call, and none calls another.
func call[T any](s *Store, ctx context.Context, op string, f func(context.Context) (T, error)) (T, error) {
	r := retrying{start: time.Now()}
	for {
		out, err := attempt(s, ctx, op, f)
		if err == nil {
			return out, nil
		}
		if err = r.next(s, ctx, op, err); err != nil {
			return out, err // what the last attempt answered beside its error, as without retries
		}
	}
}

// call0 is call for a call whose only answer is its error.
func (s *Store) call0(ctx context.Context, op string, f func(context.Context) error) error {
	_, err := call(s, ctx, op, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

// attempt runs f once, on ctx bounded by the store's timeout, and
// classifies its error (noAnswer).
func attempt[T any](s *Store, ctx context.Context, op string, f func(context.Context) (T, error)) (T, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if s.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, s.timeout)
	}
	defer cancel()
	out, err := f(actx)
	if err != nil {
		return out, s.noAnswer(op, ctx, actx, err)
	}
	return out, nil
}

// noAnswer classifies the error of a call named op, whose caller's context
// was parent and whose own ctx: an answer of the database (a
// *datastore.Error, a SQL error) and a failure of pgstore's own are
// returned as they are; a call the server did not answer is a
// *NoAnswerError.
func (s *Store) noAnswer(op string, parent, ctx context.Context, err error) error {
	var de *datastore.Error
	var na *NoAnswerError
	if errors.As(err, &de) || errors.As(err, &na) {
		return err
	}
	var u *unknownOutcome
	unknown := errors.As(err, &u)
	timedOut := errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err)
	switch {
	case unknown, timedOut:
	case errors.Is(err, context.Canceled):
		return err // the caller went away (D28): nothing to say but that
	case !unanswered(err):
		return err
	}
	e := &NoAnswerError{Op: op, TimedOut: timedOut, OutcomeUnknown: unknown, Err: err}
	if timedOut && parent.Err() == nil && ctx.Err() == context.DeadlineExceeded {
		e.Timeout = s.timeout
	}
	return e
}

// unanswered reports whether err is the driver failing to reach the
// server or losing the connection to it, rather than the server's answer.
func unanswered(err error) bool {
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	if errors.As(err, &pe) {
		if serverGoingOrComing(pe.Code) {
			return true
		}
		// The server answered. Only an error that ended the connection
		// (FATAL, PANIC: a server shutting down) and did not refuse it
		// (a role or database that does not exist) leaves the call
		// unanswered.
		severity := pe.SeverityUnlocalized
		if severity == "" {
			severity = pe.Severity
		}
		return (severity == "FATAL" || severity == "PANIC") && !errors.As(err, &ce)
	}
	var ne net.Error
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.As(err, &ne) || errors.As(err, &ce) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// serverGoingOrComing reports whether code, a SQLSTATE, is a server
// that is shutting down or not yet (or no longer) taking connections —
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
// (starting up, shutting down, in recovery) — whether it ended a call's
// connection or refused a new one: the server will answer once it is back,
// so the call was not answered, never refused.
func serverGoingOrComing(code string) bool {
	return code == "57P01" || code == "57P02" || code == "57P03"
}

// unknownOutcome marks the error of a round trip that carried a write
// with its commit — a COMMIT, or one statement committed by itself — when
// the connection was lost after it was sent: the server may have
// committed it. call turns it into a *NoAnswerError matching
// ErrOutcomeUnknown.
type unknownOutcome struct{ err error }

func (u *unknownOutcome) Error() string { return u.err.Error() }
func (u *unknownOutcome) Unwrap() error { return u.err }

// committing classifies err, the error of the round trip on conn that
// carried a write's commit. A request pgx never sent (SafeToRetry), or one
// the server answered on a connection that lives (a SQL error, a refusal,
// an error scanning the answer), has a known outcome: not committed. A
// connection lost or timed out after sending has not: the commit may have
// been applied (unknownOutcome).
func committing(conn *pgx.Conn, err error) error {
	if err == nil || pgconn.SafeToRetry(err) {
		return err
	}
	if conn.IsClosed() || unanswered(err) {
		return &unknownOutcome{err}
	}
	return err
}

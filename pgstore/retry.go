package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// A server that restarts — stopped for a moment, its connections dropped,
// then back — is a call the server did not answer, not a failure of the
// control plane: with RetryUnavailable the store waits it out.

// RetryUnavailable makes the store wait out a server that does not answer
// for up to d: a call that fails with a *NoAnswerError — the server could
// not be reached (connection refused or reset, a server starting up or
// shutting down: SQLSTATE 57P01 admin_shutdown, 57P02 crash_shutdown,
// 57P03 cannot_connect_now; the pool could not open a connection), the
// connection was lost mid-call, or the call's operation timeout passed —
// is tried again, after a pause that starts at 50 ms and doubles to at
// most 1 s, jittered, for as long as less than d has passed since the
// call began and the caller's context allows. Each attempt has an
// OperationTimeout of its own, so a call lasts at most about d plus one
// OperationTimeout. A call answered on a later attempt returns that answer;
// once d has passed, the last attempt's *NoAnswerError is returned, as
// without the option, with Attempts saying how many were made — and it
// matches ErrOutcomeUnknown if any attempt's write may have been applied,
// not only the last.
//
// Retrying a write whose outcome was unknown is safe: every write is
// idempotent on retry (D29). An insert the lost attempt applied answers
// the record as stored; a guarded write it applied answers as a repeat
// does (unchanged, stale for a generation already written, the lock
// already held); one it did not apply is applied now. Two saga log writes
// answer a repeat differently from a first write, as their datastore
// contract allows: SagaRecoveryAttempt counts the lost attempt too (the
// count may run one ahead per lost commit, so a saga is abandoned for too
// many recoveries early rather than never), and SagaAdopt, when the lost
// attempt moved the sagas, answers the empty list — they are the adopter's
// all the same, and its Recover finds them.
//
// The caller's context still ends it: cancelled while waiting, the call
// returns at once with an error matching context.Canceled (a
// *NoAnswerError matching ErrOutcomeUnknown too, when an attempt's write
// may have been applied); past the caller's deadline, a *NoAnswerError
// matching context.DeadlineExceeded, as a call cut off by it always is.
// An answer of the database — a refusal, a SQL error, a role or database
// that does not exist — is never retried here (serialization failures are
// retried as they always are, MaxAttempts). Opening the store is not
// retried: a server that is not there when Open runs is said at once.
//
// d <= 0, as when the option is not given, retries nothing: the first
// *NoAnswerError is returned.
func RetryUnavailable(d time.Duration) Option {
	return func(s *Store) { s.retryFor = d }
}

// The pauses between the attempts of a call under RetryUnavailable: the
// first retryPause, doubling to retryMaxPause, each drawn between half and
// all of that.
const (
	retryPause    = 50 * time.Millisecond
	retryMaxPause = time.Second
)

// retrying is one call's attempts under RetryUnavailable.
type retrying struct {
	start    time.Time // when the call began: the retry window opens
	attempts int       // attempts that failed
	unknown  bool      // an attempt's write may have been applied
}

// next decides on err, the error of the attempt just made of the call op
// whose caller's context is ctx: nil when the call is to be tried again
// (after the pause, which next waits), else the error the call returns.
func (r *retrying) next(s *Store, ctx context.Context, op string, err error) error {
	r.attempts++
	var na *NoAnswerError
	if !errors.As(err, &na) {
		if r.unknown && ctx.Err() != nil {
			// The caller went away after an attempt whose write may
			// have been applied: it is told so.
			return &NoAnswerError{Op: op, TimedOut: errors.Is(err, context.DeadlineExceeded), OutcomeUnknown: true,
				Attempts: r.attempts, Err: err}
		}
		return err // an answer, or the caller going away (D28)
	}
	r.unknown = r.unknown || na.OutcomeUnknown
	if ctx.Err() != nil || s.retryFor <= 0 {
		return r.last(na)
	}
	left := s.retryFor - time.Since(r.start)
	if left <= 0 {
		return r.last(na)
	}
	t := time.NewTimer(min(r.pause(), left))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
	}
	// The caller's context ended while the call waited to try again.
	cause := fmt.Errorf("%w while waiting to try again (%d attempts)", ctx.Err(), r.attempts)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || r.unknown:
		return &NoAnswerError{Op: op, TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded), OutcomeUnknown: r.unknown,
			Attempts: r.attempts, Err: fmt.Errorf("%w; the last: %w", cause, na.Err)}
	default:
		return fmt.Errorf("pgstore: %s: %w; the last: %v", op, cause, na)
	}
}

// pause is how long to wait before the next attempt, after r.attempts
// failed: retryPause doubling to retryMaxPause, drawn between half and all
// of it, so that callers the same outage cut off do not come back at once.
func (r *retrying) pause() time.Duration {
	d := retryMaxPause
	if n := r.attempts - 1; n < 16 {
		d = min(retryPause<<n, retryMaxPause)
	}
	return d/2 + rand.N(d/2+1)
}

// last is the call's error when it is tried no more: the last attempt's
// *NoAnswerError, saying how many attempts were made and whether any
// attempt's write may have been applied.
func (r *retrying) last(na *NoAnswerError) error {
	e := *na
	e.Attempts = r.attempts
	e.OutcomeUnknown = e.OutcomeUnknown || r.unknown
	return &e
}

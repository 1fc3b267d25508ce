// Package pgstore is datastore.Store on PostgreSQL: the guarded writes and
// fleet queries of §8–§9 on a real database, with real concurrent writers.
//
//	_, err := pgstore.Migrate(ctx, ownerDSN) // a deployment step, as the schema's owner
//	st, err := pgstore.Open(ctx, "postgres://user@host/db")
//	if err != nil { … }        // malformed DSN, silent server, schema not migrated or unknown
//	defer st.Close()
//	res, err := st.SledReport(ctx, vmm, report)
//
// It is a module of its own (github.com/vmlife/vmlife/pgstore) so that the
// driver, github.com/jackc/pgx/v5, is in the build only of programs that
// import it: among vmlife's own packages, only the vmlife command does, for
// `vmlife script --store` and `vmlife simulate --store`.
//
// To test code built on pgstore, package pgstoretest gives each test a
// schema of its own on the server VMLIFE_PG_DSN names, dropped when the
// test ends; datastore/storetest is the conformance suite any store
// passes, and pgstore's own tests run it.
//
// # Schema
//
// Migrate (or `vmlife migrate --store DSN`) applies the embedded, numbered
// migrations (schema/NNNN_name.sql) the database lacks, in one transaction,
// and records each in table vmlife_schema; it is idempotent, and
// migrations run at the same moment take turns. Open and New never change
// the schema, so the store can run as a role that may only read and write
// rows: they refuse a database with no schema or an older one
// (ErrMigrationNeeded: migrate it first), and one at a newer or unknown
// version (ErrSchemaVersion), which Migrate refuses too and leaves as it
// was. The tables, enum types and columns
// are Omicron's (instance, vmm, migration; instance_state_v2, vmm_state,
// migration_state, …), vmlife's additions are columns of their own
// (failure_reason, start_failure_*, vmm_lost_*), and every row rule the
// library keeps (D17, D21) is also a CHECK.
//
// # How each operation is guarded
//
// Every rule has one home, package datastore, shared with the in-memory
// store: an operation reads the rows it touches into a datastore.Tables,
// runs the operation of that name on them, and writes back the rows it
// changed. The hot writes — a VMM's report, the updater lock taken and
// released, a plan committed, a destroyed VMM deleted — are one statement
// each: their guard in the WHERE clause and the row as it was in the same
// round trip, so that a write not applied is explained (stale, deleted,
// held by another saga, not found) by the operation's rule on that row,
// with no second read (D25). Everything else is a SERIALIZABLE transaction
// in two round trips — BEGIN with every read (locked FOR UPDATE, in one
// order, so writers never deadlock), then every write with COMMIT, each
// write guarded by the generations it read — retried on SQLSTATE 40001 and
// 40P01 at most MaxAttempts times, as CockroachDB requires. A sled report
// with migration sides is one such transaction. docs/pgstore.md lists each
// statement with the guard it implements and the rule it cites.
//
// # The saga log
//
// Store is also datastore.SagaLog (D26, D27): Omicron's saga and
// saga_node_event tables, and saga_sec_lease for the executors' leases.
// Each operation is one statement in a SERIALIZABLE transaction sent as
// one batch (BEGIN, the statement, COMMIT): one round trip. A write of a
// saga's log carries its fence — current_sec, adopt_generation — in its
// own WHERE clause, and the saga's row as it was beside it, which says why
// a refused write was refused by datastore's guards (CheckFence and the
// rest), as Memory says it. Events are numbered in the order written by
// the insert itself, while the saga's row is locked, and read back in
// that order.
//
// Store is also datastore.SledReservations: Omicron's sled_resource_vmm,
// the room each VMM holds on a sled, one statement a round trip; the
// leaked list looks each reservation's VMM up by key.
//
// # A server that does not answer
//
// Every call of the store is bounded by its operation timeout
// (DefaultOperationTimeout, or the OperationTimeout option of Open and
// New). A call the server did not answer — its deadline passed, or the
// connection was lost — fails with a *NoAnswerError, never a
// *datastore.Error; it matches context.DeadlineExceeded when a deadline
// passed, and may be retried. When the connection was lost after a write's
// commit was sent, the write may or may not have been applied: the error
// matches ErrOutcomeUnknown. Retry the same write: every write is
// idempotent on retry (D29), and the retry settles it.
//
// A store opened with RetryUnavailable(d) makes that retry itself: a call
// the server did not answer — connection refused or lost, a server
// starting up or shutting down (SQLSTATE 57P01, 57P02, 57P03), an attempt
// past its operation timeout — is tried again, after pauses from 50 ms
// doubling to 1 s, jittered, for up to d since the call began and while
// the caller's context allows, each attempt with its own operation
// timeout; the pool drops a dead connection (on the error, or on the ping
// of one idle for over a second) and the next attempt opens a fresh one. A
// server that restarts within d is then never an error to the caller; a
// write whose first commit was lost answers as its repeat does. After d
// the last *NoAnswerError is returned (matching ErrOutcomeUnknown if any
// attempt's write may have been applied); a cancelled context ends the
// retries at once. Without the option nothing is retried.
//
// Times are TIMESTAMPTZ, which keeps microseconds: as every store does
// (datastore.StoreTime), a time is truncated to the microsecond before it
// is written or compared, so a caller may pass time.Now().
//
// The SQL stays in the subset CockroachDB also runs (docs/pgstore.md
// says what was kept portable and how).
//
// Rules are cited by id: §… names a section of the reference behaviour
// (docs/reference.md in the repository), D… a decision where vmlife
// differs from it or goes further (docs/decisions.md).
package pgstore

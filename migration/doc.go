// Package migration is the live-migration record: one attempt to move an
// instance from a source VMM to a target VMM, and the rules by which each
// side of it changes.
//
// A migration has two sides, each owned by the sled-agent that runs its VMM
// (§0). Each side has a State — pending, in_progress, failed or completed
// (§3.3); the last two are terminal — a generation and the time it was last
// reported. A Record (§6.8) holds both sides; New makes the one a migrate
// saga inserts (both pending, generation 1), and IsTerminal,
// EitherSideFailed and EitherSideCompleted are the predicates the
// instance-update saga decides with (§13.3).
//
// A sled-agent reports a side as a Report (§3.2): the source as
// migration_out, the target as migration_in. The control plane writes them
// with the database's guards (§8.2):
//
//   - CheckInOut refuses a report whose migration_in and migration_out name
//     the same migration, before anything is applied (step 1);
//   - Record.ApplySource and Record.ApplyTarget write a side only from that
//     side's VMM (a report from any other VMM is ErrWrongVMM, stale or not)
//     and only if strictly newer (D5); an older or equal report is Stale, a
//     normal no-op. A terminal side never changes again: a newer report for
//     it is Unchanged, the first outcome wins (D6);
//   - Record.MarkFailed fails every side still in flight (§8.3) and leaves a
//     terminal side alone.
//
// The sled-agent's own rules (§3.5) are here too, as pure functions that
// the simulator and property tests use to produce faithful report
// sequences: Registered (a target starts pending at generation 1), Fold (an
// observation changes a side and bumps its generation only when the state
// changes) and Halt (a destroyed or failed VMM fails the sides still in
// flight).
//
// In JSON a Report is the sled-agent's MigrationRuntimeState (§3.2) and a
// Record is the migration object of the vmlife snapshot document, with the
// migration table's column names (§5.4); both decoders are strict (D3).
//
// The migration states have one edge table — pending → {in_progress,
// failed, completed}, in_progress → {failed, completed}, terminal states
// absorbing — read by the code, the tests and the diagrams (CanTransition,
// Successors).
//
// Everything here is a small comparable value and every function is pure:
// no clock (times are passed in as now), no I/O, no goroutines, no panics
// (D1–D3). Every refusal is an *Error naming the side and field and
// wrapping an exported sentinel, and the record it was given is returned as
// it was: a record is never half-updated. Package migrationtest has rapid
// generators and invariant checkers for property tests.
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package migration

// Package sagas runs vmlife's decisions as a control plane does: the
// create, start, migrate, update and delete sagas (§13–§16), each a list of
// named steps with their undo, over a datastore.Store, a SledAgent and the
// sleds' room (Sleds). It is the reference consumer of every package
// beneath it: each step is one guarded write of the datastore or one
// sled-agent call, and each decision in it is the library's (MarkAsStarting,
// UnwindStart, PlanUpdate, Reincarnate, failure.Classify).
//
// # The executor contract
//
// Exec runs a saga one node at a time, as Steno does, so that a caller can
// interleave many sagas with everything else a control plane does:
//
//   - Forward, the steps run in order. A step whose action fails is not
//     undone (it did nothing, or what it did is idempotent to leave), and
//     the saga unwinds: the undo of every step that completed runs, latest
//     first. A step may also end the saga early, successfully (an update
//     saga that finds the lock held, or nothing to do).
//   - Every action and every undo is idempotent: run twice in a row, the
//     second run changes nothing (Exec.Again). A node whose completion was
//     not recorded is run again, never skipped; ids a saga needs are
//     chosen in a step of their own and kept in the saga value, so that a
//     node run again writes the same records.
//   - An undo that fails stops the unwind (Stuck): §14's VMM the
//     sled-agent proves gone at unregister is marked failed, and the saga
//     goes no further.
//
// What a saga leaves when it is stuck, or when the process running it
// dies, is for the fleet queries to find, never for a person:
// an instance left linked to an unwound or failed VMM, or with a migration
// whose sides are terminal, is found by FindInstancesNeedingUpdate and
// unlinked by the next update saga (D11); a VMM no instance links that is
// destroyable, by VMMListAbandoned (§18's reaper); an instance that should
// run and has no VMM, by FindReincarnatableInstances (§17, D15, D22). The
// updater lock is the exception: only a saga whose undo releases it may
// take it (§13.1), and a lock left by a dead holder stays until the holder
// is resumed or its lock is taken over (§9's inheritance).
//
// docs/sagas.md in the repository lists every saga's steps with their
// undo, and what unwinding from each leaves.
//
// Rules are cited by id: §… names a section of the reference behaviour
// (docs/reference.md in the repository), D… a decision where vmlife
// differs from it or goes further (docs/decisions.md).
package sagas

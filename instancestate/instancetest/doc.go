// Package instancetest holds pgregory.net/rapid generators of valid
// instancestate snapshots and the invariant checkers vmlife's own property
// tests use, for users' property suites and simulators.
//
// Generators:
//
//   - Snapshot draws a snapshot that passes instancestate.Snapshot.Validate
//     (D17), of any Shape — creating, no_vmm, failed, destroyed, an active
//     VMM in any of its states, or a linked migration with the instance on
//     its source or (once folded in) its target, the target VMM linked or
//     not — with every intended state, auto-restart policy and cooldown,
//     lock, start failure and unreachable sled. The shape is rapid's first
//     draw, so a failing case shrinks to the simplest shape first.
//     SnapshotWithShape draws one shape only; ShapeOf names the shape of any
//     valid snapshot.
//   - Now draws a time near a snapshot's own times, cooldown boundaries
//     included.
//   - Report draws one sled-agent report for a snapshot's VMMs, mostly legal
//     but sometimes stale, duplicated, illegal, about the wrong migration or
//     from a VMM the instance does not link; its Kind says which, and so what
//     instancestate.ApplyReport must do with it. ReportSequence draws what
//     the sled-agents running the snapshot's VMMs would faithfully send
//     (§3.5), and Shuffled delivers such a sequence late, duplicated and out
//     of order.
//
// Checkers, each returning an error (nil when the invariant holds), so that a
// testing.T, a rapid.T or a simulator can call them:
//
//   - CheckSnapshot and CheckSnapshotAt: the snapshot validates and every
//     derived function is total on it and agrees with itself;
//   - CheckStep: one change of a snapshot lowers no generation and moves
//     every state only along its edge table;
//   - CheckExplained: an instance meant to run that is not running says why
//     (seed 003, D13, D19).
//
// Like everything in vmlife the generators and checkers are deterministic:
// all times derive from Reference, nothing reads the clock (D1).
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package instancetest

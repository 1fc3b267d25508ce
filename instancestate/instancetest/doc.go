// Package instancetest holds pgregory.net/rapid generators of valid
// instancestate snapshots, for users' property suites and simulators. The
// invariant checkers that go with them are in package invariant, which
// needs no rapid: a simulator can check every step without linking a test
// library.
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
//   - Policy draws a liveness policy — deadlines default, off or set, a
//     restart backoff off or on, migration bounds and limits (D32–D35) —
//     and WithLiveness a snapshot carrying one, a memory size and counts
//     of migrations in flight. Snapshot itself draws none: a snapshot read
//     back from a store carries no policy.
//   - Report draws one sled-agent report for a snapshot's VMMs, mostly legal
//     but sometimes stale, duplicated, illegal, about the wrong migration or
//     from a VMM the instance does not link; its Kind says which, and so what
//     instancestate.ApplyReport must do with it. ReportSequence draws what
//     the sled-agents running the snapshot's VMMs would faithfully send
//     (§3.5), and vmmtest.Shuffled delivers such a sequence late, duplicated and out
//     of order.
//
// Like everything in vmlife the generators are deterministic:
// all times derive from Reference, nothing reads the clock (D1).
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package instancetest

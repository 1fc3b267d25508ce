// Package migrationtest holds pgregory.net/rapid generators of migration
// values and the invariant checkers vmlife's own property tests use, for
// users' property suites.
//
// The generators draw only valid values: Record draws records that pass
// CheckRecord, and SideReports draws the reports a sled-agent would send for
// one side, produced by migration.Fold and migration.Halt so that they
// follow §3.5. Shuffled delivers such reports late, duplicated and out of
// order, as a network may.
//
// CheckRecord, CheckStep and CheckApply state the invariants of the
// migration package (§8.2, §8.3, D5, D6): generations never decrease, a
// terminal side never changes, a refused or no-op update returns the record
// it was given, and Apply changes only the side it addresses.
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package migrationtest

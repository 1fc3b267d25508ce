// Package migrationtest holds pgregory.net/rapid generators of migration
// values, for users' property suites; the invariant checkers are in package
// invariant.
//
// The generators draw only valid values: Record draws records that pass
// invariant.CheckMigration, and SideReports draws the reports a sled-agent would send for
// one side, produced by migration.Fold and migration.Halt so that they
// follow §3.5; vmmtest.Shuffled delivers such reports late, duplicated and out of
// order, as a network may.
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package migrationtest

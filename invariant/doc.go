// Package invariant states vmlife's invariants as checkers: functions that
// take values before and after a step and return an error naming the rule
// that broke, or nil. They need nothing but the library — no test framework
// — so the same checkers run under *testing.T, under pgregory.net/rapid
// (with the generators of vmmtest, migrationtest and instancetest), and in
// a simulator or a production audit that counts violations.
//
// Three levels, one file each:
//
//   - VMMs (vmm.go): CheckRuntime, CheckVMM and CheckVMMStep — a state is
//     valid (D4), its row reads back (D8), generations never decrease (D5),
//     terminal states absorb (D6), and applied changes follow an edge (D7).
//     Each error is a *Violation naming its rule.
//   - Migrations (migration.go): CheckMigration, CheckMigrationStep and
//     CheckApply (§8.2, §8.3, D5, D6): generations never decrease, a
//     terminal side never changes, a refused or no-op update returns the
//     record it was given, and Apply changes only the side it addresses.
//   - Instances (instance.go): CheckSnapshot and CheckSnapshotAt (the
//     snapshot validates and every derived function is total on it and
//     agrees with itself), CheckSnapshotStep (one change lowers no
//     generation and moves every state only along its edge table) and
//     CheckExplained (an instance meant to run that is not running says
//     why, D13, D19, D22). Their errors match ErrInvariant.
//
// Like the rest of vmlife the checkers are pure: they read no clock (D1).
//
// Rules are cited by id: §… names a section of the reference behaviour
// (docs/reference.md in the repository), D… a decision where vmlife
// differs from it or goes further (docs/decisions.md).
package invariant

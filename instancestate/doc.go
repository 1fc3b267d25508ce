// Package instancestate makes the instance-level decisions of a VM control
// plane: what state an instance is really in, which requests it accepts,
// what the instance-update saga must change, whether it should be restarted
// automatically, why it is not running, and what to do next.
//
// Everything starts from a Snapshot — the instance record, its active VMM,
// its migration target VMM and its migration, read together (§8.1) — and
// every function validates it first, returning a *RuleError that names the
// broken rule rather than guessing (D17). Then:
//
//   - EffectiveState derives the external state (§7, D10, D12);
//   - Decide answers start, stop, reboot, migrate and delete requests with an
//     action, an HTTP status and the intended state to write — only for
//     accepted requests (§10, D16);
//   - PlanUpdate is the instance-update saga's decision (§13.3, D11), and
//     Snapshot.Apply commits a plan;
//   - ApplyReport applies a sled-agent report with every generation guard
//     and says whether an update is needed (§8.2, §12);
//   - FinishCreate, UnwindCreate, MarkAsStarting, UnwindStart,
//     SetMigrationIDs, Delete and the Instance lock methods are the sagas'
//     steps and preconditions (§8.1, §9, §14, §16);
//   - Reincarnate, Conditions and Next say whether to restart, why the
//     instance is not running, and what to do next (D13–D15, D19).
//
// A background task that asks several decisions of every instance — the
// updater, the reincarnation task, a reconciler — validates each snapshot
// once with Check, or with Checked.Reset on one Checked it reuses, and asks
// the Checked: the six decisions together then cost a few times a
// hand-written switch over the same records and allocate nothing
// (docs/performance.md, "A fleet sweep").
//
// Like the rest of vmlife the package is pure: every function takes the
// time as now, reads nothing else, and returns new values (D1, D2). Package
// instancetest has rapid generators of valid snapshots and invariant
// checkers for property tests.
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package instancestate

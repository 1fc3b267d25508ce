// Package datastore records vmlife's decisions: every guarded write and
// fleet query of §8–§9 behind one interface, Store, so that a control plane
// never writes its own compare-and-swap (D25).
//
// A decision is only as good as the write that records it. Each write
// here is guarded as Omicron's datastore guards it — a strictly newer
// generation (D5), the updater lock and its generation (§9), the migration
// side's VMM (§8.2), the edge table (D6, D7) — and answers one of three
// ways: applied; not applied because a guard held (Result.Reason: stale,
// deleted, unchanged, not_destroyable); or refused with an *Error whose
// Kind says why (not_found, conflict, already_locked, …), nothing written.
// The rules themselves are the pure functions of vmmstate, migration and
// instancestate; a store adds only the guard and the write.
//
// Memory is the embedded implementation: one mutex, no goroutines, no
// clock. The nested module pgstore implements Store on PostgreSQL, and
// datastore/storetest is the conformance suite both pass.
//
// Above the records, InstanceRequest applies a user's request (§10, D16,
// D23) through any Store. The sagas — the instance-update saga (§13, D11)
// among them — are package sagas', as steps with their undo, run by its
// executor over any Store.
//
// Rules are cited by id: §… names a section of the reference behaviour
// (docs/reference.md in the repository), D… a decision where vmlife
// differs from it or goes further (docs/decisions.md).
package datastore

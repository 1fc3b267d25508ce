// Package script runs datastore operations written as JSON Lines against
// any datastore.Store: the language of `vmlife script` (docs/cli.md), one
// operation per line, one result line per operation.
//
//	{"op":"vmm_insert","vmm":{…}}
//	{"now":"2026-01-01T00:01:00Z","op":"sled_report","vmm_id":"…","report":{…}}
//
// One operation, saga, runs any saga of package sagas to its end, with a
// failure injected at a named step or every node run twice, against
// package memsled's in-memory sled-agent and sleds; another,
// instance_update_saga, runs that package's update saga the same way,
// again while it says another update is needed (D31: there is no other).
//
// Each result line says whether the operation was applied, which guard held
// when it was not (D25), or why it was refused. A script is a story of the
// datastore, step by step, readable as a transcript; the same script run
// against two stores must print the same lines, which is how the
// PostgreSQL store is checked against the in-memory one from outside.
//
// Rules are cited by id: §… names a section of the reference behaviour
// (docs/reference.md in the repository), D… a decision where vmlife
// differs from it or goes further (docs/decisions.md).
package script

// Package vmmstate is the state machine of a single VMM — the hypervisor
// process (Propolis) that runs an instance on a sled.
//
// A State is one of ten domain states (§4.1), and a failed state always says
// why (failure.Reason, D4). A Runtime pairs the state with its generation and
// the time it was set. The control plane changes it with Transition; reports
// from the sled-agent that runs the VMM are applied with Observe, which
// drops stale reports (D5), keeps the first cause of a failure (D6) and
// refuses edges the lifecycle does not have (D7) — returning the stored
// runtime untouched and the refused report inside a *TransitionError.
//
// The legal edges are one table, read by the code, the tests, the docs and
// the diagrams alike:
//
//	creating → {starting, running, rebooting, migrating} → stopping → stopped → {failed, destroyed}
//	any non-terminal state → saga_unwound (control plane only) → {failed, destroyed}
//
// See CanTransition and Successors.
//
// The same state has four representations, and the conversions between them
// are total and tested both ways (D8): the domain State; the sled-agent
// wire form (SledAgentState, SledAgentRuntime; eight states, no reason); the
// database row (Row: a Kind column plus a nullable reason column, read
// strictly or leniently); and the external API state (External).
//
// Everything here is a small comparable value and every function is pure:
// no clock (times are passed in as now), no I/O, no goroutines, no panics
// (D1–D3). Package vmmtest has rapid generators and invariant checkers for
// property tests.
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package vmmstate

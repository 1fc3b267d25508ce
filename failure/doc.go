// Package failure says why things fail: why a VMM failed (Reason, §4.3),
// which sled-agent call outcomes and health checks prove a VMM dead and
// which only mean trouble (D18, §11, §18), and why an instance failed to
// start (StartFailure, D13).
//
// Everything here is a pure value or a pure function (D1): classifying an
// outcome reads nothing but its argument.
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package failure

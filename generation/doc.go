// Package generation provides Generation, the optimistic-concurrency counter
// carried by every vmlife record (§1).
//
// A generation starts at 1 (Initial), only ever moves forward by one
// (Next), and lies in 0..2^63−1 so that it fits a signed 64-bit database
// column. A write is accepted only when it carries a generation strictly
// newer than the stored one (After), which is what makes late, duplicated
// and reordered reports harmless (D5).
//
// Generation never wraps and never panics: Next of Max, a negative number,
// or an out-of-range JSON, text or SQL value is a *Error matching
// ErrOverflow, ErrNegative or ErrSyntax. Like everything in vmlife it is a
// pure value: no clock, no I/O (D1, D2).
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package generation

// Package vmmtest helps property-test code built on vmmstate: rapid
// generators of valid VMM values, generators of what a sled-agent really
// sends (a legal path of reports, delivered late, duplicated, reordered and
// dropped). The invariant checkers to run after every step are in package
// invariant.
//
// Draw values inside a rapid property:
//
//	rapid.Check(t, func(t *rapid.T) {
//		path := vmmtest.LegalPath().Draw(t, "path")
//		stored := path[0]
//		for _, report := range vmmtest.Deliveries(path).Draw(t, "deliveries") {
//			next, outcome, err := stored.Observe(report)
//			if err := invariant.CheckVMMStep(stored, next, outcome, err); err != nil {
//				t.Fatal(err)
//			}
//			stored = next
//		}
//	})
//
// Every generator draws all of its randomness from rapid, so a failing case
// shrinks and replays from rapid's seed and failfile; nothing here reads the
// clock or another source of randomness (D1).
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package vmmtest

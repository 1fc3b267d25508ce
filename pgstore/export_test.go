package pgstore

// SetFleetPage makes s's fleet queries read n instances at a time, so that
// a test with a handful of instances crosses page boundaries.
func SetFleetPage(s *Store, n int) { s.fleetPage = n }

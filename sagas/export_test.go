package sagas

// EndForTest is end, for the executor's tests.
func EndForTest(why string) error { return end(why) }

// CrashRecoveryAfter makes c's Recover crash once n events of a saga are
// durable, as RunOptions.Crash does for Run.
func CrashRecoveryAfter(c *SEC, n int) { c.crashRecovery, c.crashRecoveryAfter = true, n }

package pgstoretest

import "testing"

// TestWithSearchPath: a URL gains a query parameter (the first or one
// more), a key=value string one more pair.
func TestWithSearchPath(t *testing.T) {
	for _, c := range []struct{ dsn, want string }{
		{"postgres://u@/db?host=/tmp/x", "postgres://u@/db?host=/tmp/x&search_path=s1"},
		{"postgres://u@h/db", "postgres://u@h/db?search_path=s1"},
		{"postgresql://u@h/db", "postgresql://u@h/db?search_path=s1"},
		{"host=/tmp/x user=u", "host=/tmp/x user=u search_path=s1"},
	} {
		if got := WithSearchPath(c.dsn, "s1"); got != c.want {
			t.Errorf("WithSearchPath(%q) = %q, want %q", c.dsn, got, c.want)
		}
	}
}

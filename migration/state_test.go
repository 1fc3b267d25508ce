package migration_test

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/migration"
)

// Every state of §3.3/§5.1 with its exact wire and database string and its
// terminal predicate, in declaration order.
var stateRows = []struct {
	state    migration.State
	wire     string
	terminal bool
}{
	{migration.Pending, "pending", false},
	{migration.InProgress, "in_progress", false},
	{migration.Failed, "failed", true},
	{migration.Completed, "completed", true},
}

func TestStateTable(t *testing.T) {
	if got, want := len(migration.AllStates()), len(stateRows); got != want {
		t.Fatalf("AllStates has %d states, the table %d", got, want)
	}
	for i, row := range stateRows {
		t.Run(row.wire, func(t *testing.T) {
			s := row.state
			if all := migration.AllStates(); all[i] != s {
				t.Fatalf("AllStates()[%d] = %v, want %v (declaration order)", i, all[i], s)
			}
			if !s.IsValid() {
				t.Fatalf("IsValid() = false")
			}
			if s.String() != row.wire {
				t.Fatalf("String() = %q, want %q", s.String(), row.wire)
			}
			if s.IsTerminal() != row.terminal {
				t.Fatalf("IsTerminal() = %v, want %v", s.IsTerminal(), row.terminal)
			}
			if got, err := migration.ParseState(row.wire); err != nil || got != s {
				t.Fatalf("ParseState(%q) = %v, %v", row.wire, got, err)
			}
			if b, err := s.MarshalText(); err != nil || string(b) != row.wire {
				t.Fatalf("MarshalText() = %q, %v", b, err)
			}
			if b, err := s.AppendText([]byte("x=")); err != nil || string(b) != "x="+row.wire {
				t.Fatalf("AppendText() = %q, %v", b, err)
			}
			var u migration.State
			if err := u.UnmarshalText([]byte(row.wire)); err != nil || u != s {
				t.Fatalf("UnmarshalText(%q) = %v, %v", row.wire, u, err)
			}
			if v, err := s.Value(); err != nil || v != driver.Value(row.wire) {
				t.Fatalf("Value() = %#v, %v", v, err)
			}
			for _, src := range []any{row.wire, []byte(row.wire)} {
				var sc migration.State
				if err := sc.Scan(src); err != nil || sc != s {
					t.Fatalf("Scan(%#v) = %v, %v", src, sc, err)
				}
			}
			j, err := json.Marshal(s)
			if err != nil || string(j) != `"`+row.wire+`"` {
				t.Fatalf("json.Marshal = %s, %v", j, err)
			}
			var back migration.State
			if err := json.Unmarshal(j, &back); err != nil || back != s {
				t.Fatalf("json.Unmarshal(%s) = %v, %v", j, back, err)
			}
		})
	}
}

// The edge table, row by row: exactly these successors and nothing else.
func TestStateEdges(t *testing.T) {
	want := map[migration.State][]migration.State{
		migration.Pending:    {migration.InProgress, migration.Failed, migration.Completed},
		migration.InProgress: {migration.Failed, migration.Completed},
		migration.Failed:     nil,
		migration.Completed:  nil,
		0:                    nil,
		5:                    nil,
	}
	for from, succ := range want {
		if got := migration.Successors(from); !slices.Equal(got, succ) {
			t.Errorf("Successors(%v) = %v, want %v", from, got, succ)
		}
		for _, to := range append(migration.AllStates(), 0, 5) {
			if got := migration.CanTransition(from, to); got != slices.Contains(succ, to) {
				t.Errorf("CanTransition(%v, %v) = %v", from, to, got)
			}
		}
		if from.IsTerminal() && len(succ) != 0 {
			t.Errorf("terminal %v has successors", from)
		}
	}
}

// checkUnknown asserts the D3 contract of a decoder's refusal: ErrUnknown,
// an *enum.Error naming the type and every accepted string.
func checkUnknown(t *testing.T, what string, err error, typ string, accepted []string) {
	t.Helper()
	if !errors.Is(err, migration.ErrUnknown) {
		t.Fatalf("%s: error %v does not match ErrUnknown", what, err)
	}
	var ee *enum.Error
	if !errors.As(err, &ee) {
		t.Fatalf("%s: error %T is not an *enum.Error", what, err)
	}
	if ee.Type != typ || !slices.Equal(ee.Accepted, accepted) {
		t.Fatalf("%s: enum.Error{Type: %q, Accepted: %v}", what, ee.Type, ee.Accepted)
	}
}

var stateWire = []string{"pending", "in_progress", "failed", "completed"}

func TestStateRejects(t *testing.T) {
	for _, in := range []string{"", "Pending", "PENDING", "inprogress", "in-progress", " pending", "pending ",
		"complete", "succeeded", "unknown", "\"pending\"", "migration.State(1)"} {
		s, err := migration.ParseState(in)
		checkUnknown(t, "ParseState("+in+")", err, "migration.State", stateWire)
		if s != 0 {
			t.Fatalf("ParseState(%q) = %v on error", in, s)
		}
		u := migration.Completed
		checkUnknown(t, "UnmarshalText", u.UnmarshalText([]byte(in)), "migration.State", stateWire)
		if u != migration.Completed {
			t.Fatalf("UnmarshalText(%q) changed the state to %v", in, u)
		}
	}
	for _, src := range []any{nil, 1, int64(2), true, 1.5, []int{1}} {
		u := migration.Failed
		checkUnknown(t, "Scan", u.Scan(src), "migration.State", stateWire)
		if u != migration.Failed {
			t.Fatalf("Scan(%#v) changed the state to %v", src, u)
		}
	}
	var j migration.State
	if err := json.Unmarshal([]byte(`"done"`), &j); !errors.Is(err, migration.ErrUnknown) {
		t.Fatalf(`json.Unmarshal("done") = %v`, err)
	}
}

// D2: invalid values say what they are and never panic; every encoder
// refuses them.
func TestStateInvalid(t *testing.T) {
	for _, tc := range []struct {
		s    migration.State
		text string
	}{{0, "migration.State(0)"}, {5, "migration.State(5)"}, {255, "migration.State(255)"}} {
		s := tc.s
		if s.IsValid() || s.IsTerminal() {
			t.Fatalf("%d: IsValid %v, IsTerminal %v", s, s.IsValid(), s.IsTerminal())
		}
		if s.String() != tc.text {
			t.Fatalf("String() = %q, want %q", s.String(), tc.text)
		}
		if _, err := s.MarshalText(); !errors.Is(err, migration.ErrUnknown) {
			t.Fatalf("MarshalText: %v", err)
		}
		if b, err := s.AppendText([]byte("x")); !errors.Is(err, migration.ErrUnknown) || string(b) != "x" {
			t.Fatalf("AppendText = %q, %v", b, err)
		}
		if v, err := s.Value(); !errors.Is(err, migration.ErrUnknown) || v != nil {
			t.Fatalf("Value = %v, %v", v, err)
		}
		if _, err := json.Marshal(s); err == nil {
			t.Fatalf("json.Marshal accepted %v", s)
		}
	}
}

func TestRoleTable(t *testing.T) {
	rows := []struct {
		role  migration.Role
		wire  string
		key   string
		other migration.Role
	}{
		{migration.Source, "source", "migration_out", migration.Target},
		{migration.Target, "target", "migration_in", migration.Source},
	}
	if got := migration.AllRoles(); len(got) != len(rows) {
		t.Fatalf("AllRoles() = %v", got)
	}
	for i, row := range rows {
		r := row.role
		if migration.AllRoles()[i] != r || !r.IsValid() || r.String() != row.wire || r.ReportKey() != row.key || r.Other() != row.other {
			t.Fatalf("%v: AllRoles[%d]=%v IsValid=%v String=%q ReportKey=%q Other=%v", row.wire, i,
				migration.AllRoles()[i], r.IsValid(), r.String(), r.ReportKey(), r.Other())
		}
		if got, err := migration.ParseRole(row.wire); err != nil || got != r {
			t.Fatalf("ParseRole(%q) = %v, %v", row.wire, got, err)
		}
		if b, err := r.MarshalText(); err != nil || string(b) != row.wire {
			t.Fatalf("MarshalText = %q, %v", b, err)
		}
		if b, err := r.AppendText(nil); err != nil || string(b) != row.wire {
			t.Fatalf("AppendText = %q, %v", b, err)
		}
		var u, sc migration.Role
		if err := u.UnmarshalText([]byte(row.wire)); err != nil || u != r {
			t.Fatalf("UnmarshalText = %v, %v", u, err)
		}
		if err := sc.Scan(row.wire); err != nil || sc != r {
			t.Fatalf("Scan = %v, %v", sc, err)
		}
		if v, err := r.Value(); err != nil || v != driver.Value(row.wire) {
			t.Fatalf("Value = %v, %v", v, err)
		}
	}
	var bad migration.Role = 3
	if bad.IsValid() || bad.String() != "migration.Role(3)" || bad.ReportKey() != "" || bad.Other() != 0 {
		t.Fatalf("Role(3): IsValid=%v String=%q ReportKey=%q Other=%v", bad.IsValid(), bad.String(), bad.ReportKey(), bad.Other())
	}
	if _, err := bad.MarshalText(); !errors.Is(err, migration.ErrUnknown) {
		t.Fatalf("MarshalText(Role(3)) = %v", err)
	}
	if _, err := bad.Value(); !errors.Is(err, migration.ErrUnknown) {
		t.Fatalf("Value(Role(3)) = %v", err)
	}
	for _, in := range []string{"", "Source", "in", "out", "migration_in"} {
		_, err := migration.ParseRole(in)
		checkUnknown(t, "ParseRole("+in+")", err, "migration.Role", []string{"source", "target"})
		r := migration.Target
		if err := r.UnmarshalText([]byte(in)); err == nil || r != migration.Target {
			t.Fatalf("UnmarshalText(%q) = %v, left %v", in, err, r)
		}
		if err := r.Scan(nil); err == nil || r != migration.Target {
			t.Fatalf("Scan(nil) = %v, left %v", err, r)
		}
	}
}

package migration

import (
	"database/sql/driver"

	"github.com/vmlife/vmlife/internal/enum"
)

// State is the state of one side of a live migration (§3.3, §6.7): the
// values of the sled-agent's MigrationState and of the database's
// migration_state enum (§5.1), which share their strings. The zero value is
// invalid.
//
// Clients that meet a string they do not know should treat the side as
// still in flight (neither failed nor completed) rather than reject the
// record: a new state would be a new stage of a migration, not a new outcome.
type State uint8

// The states, in the sled-agent's and the database's declaration order
// (§3.3, §5.1).
const (
	Pending    State = iota + 1 // the migration has not started for this VMM
	InProgress                  // the VMMs are transferring state
	Failed                      // this side gave up; terminal
	Completed                   // this side finished; terminal
)

var states = enum.New[State]("migration.State", false,
	"pending", "in_progress", "failed", "completed")

// stateSet is a set of states, one bit per state.
type stateSet uint8

func setOf(ss ...State) stateSet {
	var s stateSet
	for _, x := range ss {
		s |= 1 << x
	}
	return s
}

func (s stateSet) has(x State) bool { return x.IsValid() && s&(1<<x) != 0 }

// stateRow is everything vmlife knows about one state, in one place: the
// terminal predicate of §3.3 and the state's row of the edge table. The
// code, the tests, the docs and the diagrams all read this table.
type stateRow struct {
	terminal bool     // §3.3: completed or failed; the side never changes again (D6)
	next     stateSet // the states a side may move to from this one
}

// stateTable is the migration edge table. A side starts pending (§6.8),
// moves to in_progress once Propolis reports the transfer (§3.5), and ends
// failed or completed; it may skip in_progress, because a sled-agent folds
// observations and reports only the latest (§3.5). The terminal states are
// absorbing: the first outcome wins (D6). No edge leads back to pending.
var stateTable = [...]stateRow{
	Pending:    {next: setOf(InProgress, Failed, Completed)},
	InProgress: {next: setOf(Failed, Completed)},
	Failed:     {terminal: true},
	Completed:  {terminal: true},
}

// row returns s's row; the zero row (index 0) for the zero State and for
// anything past the table, so an invalid state is neither terminal nor has
// successors. The bound is the table's constant length, so the predicates
// need no pointer chase on the hot path.
func (s State) row() stateRow {
	if int(s) >= len(stateTable) {
		return stateRow{}
	}
	return stateTable[s]
}

// AllStates returns the four states in declaration order.
func AllStates() []State { return states.All() }

// ParseState returns the state whose wire and database string is s
// ("pending", "in_progress", "failed", "completed"). The match is exact; an
// unknown string is an *enum error matching ErrUnknown that lists the
// accepted ones.
func ParseState(s string) (State, error) { return states.Parse(s) }

// IsValid reports whether s is one of the four states.
func (s State) IsValid() bool { return states.Valid(s) }

// IsTerminal reports whether s is completed or failed (§3.3, §6.7): the
// side has an outcome and never changes again (D6). It is false for an
// invalid s.
func (s State) IsTerminal() bool { return s.row().terminal }

// String returns the wire string, or "migration.State(n)" for an invalid s.
func (s State) String() string { return states.String(s) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (s State) GoString() string { return states.GoString(s) }

// CanTransition reports whether the edge table has an edge from one state to
// a different one. It is false for from == to, for a terminal from, and for
// invalid states.
func CanTransition(from, to State) bool {
	return from != to && from.row().next.has(to)
}

// Successors returns the states reachable from s in one edge, in declaration
// order: the row of the edge table that the docs and diagrams print.
func Successors(s State) []State {
	var out []State
	for _, to := range AllStates() {
		if CanTransition(s, to) {
			out = append(out, to)
		}
	}
	return out
}

// AppendText implements encoding.TextAppender; an invalid s is an error.
func (s State) AppendText(b []byte) ([]byte, error) { return states.Append(b, s) }

// MarshalText implements encoding.TextMarshaler; JSON uses it too (D9).
func (s State) MarshalText() ([]byte, error) { return states.Append(nil, s) }

// UnmarshalText implements encoding.TextUnmarshaler; on error s is unchanged.
func (s *State) UnmarshalText(b []byte) error {
	v, err := states.ParseBytes(b)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Scan implements sql.Scanner for the source_state and target_state columns
// (§5.4). NULL is an error: both columns are NOT NULL.
func (s *State) Scan(src any) error {
	v, err := states.Scan(src)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Value implements driver.Valuer.
func (s State) Value() (driver.Value, error) { return states.Value(s) }

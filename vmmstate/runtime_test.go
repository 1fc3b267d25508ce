package vmmstate_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

var (
	t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Second)
)

// stateAbbrev names the columns of the 14×14 grids below, in the order of
// allStates.
var stateAbbrev = []string{"cr", "st", "ru", "sp", "sd", "rb", "mi", "fP", "fF", "fN", "fE", "fO", "de", "su"}

// parseStateGrid reads a grid whose rows and columns are allStates.
func parseStateGrid(t *testing.T, grid string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(grid), "\n")
	if len(lines) != len(allStates)+1 {
		t.Fatalf("grid has %d lines, want a header and %d rows", len(lines), len(allStates))
	}
	if h := strings.Fields(lines[0]); strings.Join(h, " ") != strings.Join(stateAbbrev, " ") {
		t.Fatalf("grid header %v, want %v", h, stateAbbrev)
	}
	var out [][]string
	for i, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != len(allStates)+1 || f[0] != allStates[i].String() {
			t.Fatalf("grid row %d = %q, want %v and %d cells", i, line, allStates[i], len(allStates))
		}
		out = append(out, f[1:])
	}
	return out
}

// Transition from every state (row) to every state (column), written out:
//
//	= Unchanged (the identical state, or failing a failed VMM again: D6)
//	A Applied (an edge of D7: generation+1, stamped now)
//	T ErrTerminal (which also matches ErrIllegalTransition)
//	I ErrIllegalTransition
const transitionGrid = `
                          cr st ru sp sd rb mi fP fF fN fE fO de su
creating                  =  A  A  A  A  A  A  A  A  A  A  A  A  A
starting                  I  =  A  A  A  A  A  A  A  A  A  A  A  A
running                   I  A  =  A  A  A  A  A  A  A  A  A  A  A
stopping                  I  I  I  =  A  I  I  A  A  A  A  A  A  A
stopped                   I  I  I  I  =  I  I  A  A  A  A  A  A  A
rebooting                 I  A  A  A  A  =  A  A  A  A  A  A  A  A
migrating                 I  A  A  A  A  A  =  A  A  A  A  A  A  A
failed(prehistoric)       T  T  T  T  T  T  T  =  =  =  =  =  T  T
failed(from_sled_agent)   T  T  T  T  T  T  T  =  =  =  =  =  T  T
failed(no_such_instance)  T  T  T  T  T  T  T  =  =  =  =  =  T  T
failed(sled_expunged)     T  T  T  T  T  T  T  =  =  =  =  =  T  T
failed(sled_off)          T  T  T  T  T  T  T  =  =  =  =  =  T  T
destroyed                 T  T  T  T  T  T  T  T  T  T  T  T  =  T
saga_unwound              I  I  I  I  I  I  I  A  A  A  A  A  A  =
`

// Observe of a report with a newer generation, stored state (row) and
// reported state (column), written out. Codes as above; a report of
// creating or saga_unwound, which no sled-agent can send, is I whatever is
// stored, and a newer report of the same non-terminal state is A (§3.5: the
// sled-agent bumps the generation on every observation).
const observeGrid = `
                          cr st ru sp sd rb mi fP fF fN fE fO de su
creating                  I  A  A  A  A  A  A  A  A  A  A  A  A  I
starting                  I  A  A  A  A  A  A  A  A  A  A  A  A  I
running                   I  A  A  A  A  A  A  A  A  A  A  A  A  I
stopping                  I  I  I  A  A  I  I  A  A  A  A  A  A  I
stopped                   I  I  I  I  A  I  I  A  A  A  A  A  A  I
rebooting                 I  A  A  A  A  A  A  A  A  A  A  A  A  I
migrating                 I  A  A  A  A  A  A  A  A  A  A  A  A  I
failed(prehistoric)       I  T  T  T  T  T  T  =  =  =  =  =  T  I
failed(from_sled_agent)   I  T  T  T  T  T  T  =  =  =  =  =  T  I
failed(no_such_instance)  I  T  T  T  T  T  T  =  =  =  =  =  T  I
failed(sled_expunged)     I  T  T  T  T  T  T  =  =  =  =  =  T  I
failed(sled_off)          I  T  T  T  T  T  T  =  =  =  =  =  T  I
destroyed                 I  T  T  T  T  T  T  T  T  T  T  T  =  I
saga_unwound              I  I  I  I  I  I  I  A  A  A  A  A  A  I
`

// transitionRule derives a Transition grid cell from D5–D7 and the phase
// rule, independently of both the grid and the code.
func transitionRule(from, to vmmstate.State) string {
	switch {
	case from == to:
		return "="
	case from.IsFailed() && to.IsFailed():
		return "=" // D6: the first cause wins
	case from.IsTerminal():
		return "T"
	case phaseRule(from.Kind(), to.Kind()):
		return "A"
	}
	return "I"
}

// observeRule derives an Observe grid cell (newer generation) the same way.
func observeRule(from, to vmmstate.State) string {
	k := to.Kind()
	switch {
	case k == vmmstate.KindCreating || k == vmmstate.KindSagaUnwound:
		return "I" // D7: only the control plane writes these
	case from.IsTerminal() && from.Kind() == k:
		return "=" // D6
	case from.IsTerminal():
		return "T"
	case from.Kind() == k || phaseRule(from.Kind(), k):
		return "A"
	}
	return "I"
}

func TestGridsFollowRules(t *testing.T) {
	tg, og := parseStateGrid(t, transitionGrid), parseStateGrid(t, observeGrid)
	for i, from := range allStates {
		for j, to := range allStates {
			if want := transitionRule(from, to); tg[i][j] != want {
				t.Errorf("transitionGrid[%v][%v] = %s, the rules say %s", from, to, tg[i][j], want)
			}
			if want := observeRule(from, to); og[i][j] != want {
				t.Errorf("observeGrid[%v][%v] = %s, the rules say %s", from, to, og[i][j], want)
			}
		}
	}
}

func TestTransitionGrid(t *testing.T) {
	grid := parseStateGrid(t, transitionGrid)
	for i, from := range allStates {
		for j, to := range allStates {
			r := vmmstate.Runtime{State: from, Generation: generation.Of(7), TimeUpdated: t0}
			got, o, err := r.Transition(to, t1)
			checkCell(t, "Transition", grid[i][j], r, vmmstate.Runtime{State: to, Generation: generation.Of(8), TimeUpdated: t1},
				vmmstate.Runtime{}, false, got, o, err)
		}
	}
}

func TestObserveGrid(t *testing.T) {
	grid := parseStateGrid(t, observeGrid)
	for i, from := range allStates {
		for j, to := range allStates {
			r := vmmstate.Runtime{State: from, Generation: generation.Of(7), TimeUpdated: t0}
			for _, gap := range []uint32{1, 2, 1000} {
				report := vmmstate.Runtime{State: to, Generation: generation.Of(7 + gap), TimeUpdated: t1}
				got, o, err := r.Observe(report)
				checkCell(t, "Observe", grid[i][j], r, report, report, true, got, o, err)
			}
		}
	}
}

// D5: a report not newer than the stored generation is dropped as stale,
// whatever the two states are, even along no edge or out of a terminal
// state: never an error, never a change.
func TestObserveStale(t *testing.T) {
	for _, from := range allStates {
		for _, to := range allStates {
			r := vmmstate.Runtime{State: from, Generation: generation.Of(7), TimeUpdated: t0}
			for _, g := range []uint32{0, 1, 6, 7} {
				report := vmmstate.Runtime{State: to, Generation: generation.Of(g), TimeUpdated: t1}
				got, o, err := r.Observe(report)
				if err != nil || o != vmmstate.Stale || got != r {
					t.Errorf("%v@7 Observe(%v@%d) = %v, %v, %v; want stale and unchanged", from, to, g, got, o, err)
				}
			}
		}
	}
}

// checkCell checks one grid cell: the outcome, the runtime returned, and on
// refusal the whole error (D3, D7).
func checkCell(t *testing.T, op, code string, stored, applied, report vmmstate.Runtime, observed bool,
	got vmmstate.Runtime, o vmmstate.Outcome, err error) {
	t.Helper()
	what := op + " " + stored.State.String() + " → " + applied.State.String()
	switch code {
	case "=":
		if err != nil || o != vmmstate.Unchanged || got != stored {
			t.Errorf("%s = %v, %v, %v; want unchanged %v", what, got, o, err, stored)
		}
	case "A":
		if err != nil || o != vmmstate.Applied || got != applied {
			t.Errorf("%s = %v, %v, %v; want applied %v", what, got, o, err, applied)
		}
	case "T", "I":
		want := vmmstate.ErrIllegalTransition
		if code == "T" {
			want = vmmstate.ErrTerminal
		}
		checkRefused(t, what, err, want, &vmmstate.TransitionError{From: stored, To: applied.State, Report: report, Observed: observed, Err: want})
		if got != stored || o != 0 {
			t.Errorf("%s = %v, %v; want the stored %v and no outcome", what, got, o, stored)
		}
	default:
		t.Fatalf("bad grid code %q", code)
	}
}

// sentinels is every sentinel a refusal or a bad record can match.
var sentinels = []error{
	vmmstate.ErrIllegalTransition, vmmstate.ErrTerminal, vmmstate.ErrInvalidState,
	vmmstate.ErrInvalidRecord, vmmstate.ErrUnknown, generation.ErrOverflow,
}

// checkRefused checks err is exactly want: a *TransitionError equal to it,
// matching its sentinel (and ErrIllegalTransition too for ErrTerminal) and
// no other, with an Error text that names both states.
func checkRefused(t *testing.T, what string, err error, sentinel error, want *vmmstate.TransitionError) {
	t.Helper()
	var te *vmmstate.TransitionError
	if !errors.As(err, &te) {
		t.Errorf("%s: err = %v (%T), want a *TransitionError", what, err, err)
		return
	}
	if *te != *want {
		t.Errorf("%s: error = %+v, want %+v", what, *te, *want)
	}
	for _, s := range sentinels {
		wantIs := s == sentinel || (sentinel == vmmstate.ErrTerminal && s == vmmstate.ErrIllegalTransition)
		if errors.Is(err, s) != wantIs {
			t.Errorf("%s: errors.Is(err, %q) = %v, want %v", what, s, !wantIs, wantIs)
		}
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "vmmstate: ") || !strings.Contains(msg, want.From.State.String()) ||
		!strings.Contains(msg, want.To.String()) || !strings.Contains(msg, sentinel.Error()) {
		t.Errorf("%s: message %q does not name the states and the cause", what, msg)
	}
	if want.Observed && !strings.Contains(msg, "report at generation "+want.Report.Generation.String()) {
		t.Errorf("%s: message %q does not give the report's generation", what, msg)
	}
}

// D5: a change past the largest generation is an error, not a wrap or a
// panic, and changes nothing. A no-op at Max is still fine.
func TestTransitionOverflow(t *testing.T) {
	max, err := generation.FromInt64(generation.Max)
	if err != nil {
		t.Fatal(err)
	}
	r := vmmstate.Runtime{State: vmmstate.Running, Generation: max, TimeUpdated: t0}
	got, o, err := r.Transition(vmmstate.Stopping, t1)
	checkRefused(t, "Transition at Max", err, generation.ErrOverflow,
		&vmmstate.TransitionError{From: r, To: vmmstate.Stopping, Err: generation.ErrOverflow})
	if got != r || o != 0 {
		t.Errorf("Transition at Max = %v, %v; want %v unchanged", got, o, r)
	}
	if got, o, err := r.Transition(vmmstate.Running, t1); err != nil || o != vmmstate.Unchanged || got != r {
		t.Errorf("no-op Transition at Max = %v, %v, %v", got, o, err)
	}
	// One below Max still moves, to Max.
	prev, _ := max.Prev()
	r.Generation = prev
	if got, o, err := r.Transition(vmmstate.Stopping, t1); err != nil || o != vmmstate.Applied || got.Generation != max {
		t.Errorf("Transition at Max-1 = %v, %v, %v", got, o, err)
	}
}

// An invalid state on either side is ErrInvalidState, before anything else
// (before the generation comparison for Observe), and changes nothing.
func TestInvalidStateRefused(t *testing.T) {
	for _, b := range invalidBytes {
		bad := vmmstate.State(b)
		for _, good := range allStates {
			// Transition to an invalid state.
			r := vmmstate.Runtime{State: good, Generation: generation.Of(7), TimeUpdated: t0}
			got, o, err := r.Transition(bad, t1)
			checkRefused(t, "Transition to "+bad.String(), err, vmmstate.ErrInvalidState,
				&vmmstate.TransitionError{From: r, To: bad, Err: vmmstate.ErrInvalidState})
			if got != r || o != 0 {
				t.Errorf("Transition(%v) = %v, %v", bad, got, o)
			}
			// Transition out of an invalid state.
			z := vmmstate.Runtime{State: bad, Generation: generation.Of(7), TimeUpdated: t0}
			got, o, err = z.Transition(good, t1)
			checkRefused(t, "Transition from "+bad.String(), err, vmmstate.ErrInvalidState,
				&vmmstate.TransitionError{From: z, To: good, Err: vmmstate.ErrInvalidState})
			if got != z || o != 0 {
				t.Errorf("%v.Transition(%v) = %v, %v", bad, good, got, o)
			}
			// Observe an invalid report, newer or older.
			for _, g := range []uint32{3, 8} {
				rep := vmmstate.Runtime{State: bad, Generation: generation.Of(g), TimeUpdated: t1}
				got, o, err = r.Observe(rep)
				checkRefused(t, "Observe "+bad.String(), err, vmmstate.ErrInvalidState,
					&vmmstate.TransitionError{From: r, To: bad, Report: rep, Observed: true, Err: vmmstate.ErrInvalidState})
				if got != r || o != 0 {
					t.Errorf("Observe(%v) = %v, %v", rep, got, o)
				}
			}
			// Observe into an invalid stored runtime.
			rep := vmmstate.Runtime{State: good, Generation: generation.Of(8), TimeUpdated: t1}
			got, o, err = z.Observe(rep)
			checkRefused(t, "Observe into "+bad.String(), err, vmmstate.ErrInvalidState,
				&vmmstate.TransitionError{From: z, To: good, Report: rep, Observed: true, Err: vmmstate.ErrInvalidState})
			if got != z || o != 0 {
				t.Errorf("%v.Observe(%v) = %v, %v", bad, rep, got, o)
			}
		}
	}
	// The zero Runtime is refused too.
	var zero vmmstate.Runtime
	if _, _, err := zero.Transition(vmmstate.Running, t1); !errors.Is(err, vmmstate.ErrInvalidState) {
		t.Errorf("zero Runtime Transition: %v", err)
	}
	if _, _, err := zero.Observe(zero); !errors.Is(err, vmmstate.ErrInvalidState) {
		t.Errorf("zero Runtime Observe: %v", err)
	}
}

// D6 in Omicron's own scenario (ambiguity 5): the watcher's sled_expunged
// after a from_sled_agent report keeps the first cause and its generation.
func TestFirstFailureCauseWins(t *testing.T) {
	r := vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(4), TimeUpdated: t0}
	r, o, err := r.Observe(vmmstate.SledAgentRuntime{State: vmmstate.SledAgentFailed, Generation: generation.Of(5), TimeUpdated: t0}.Runtime())
	if err != nil || o != vmmstate.Applied || r.State != failedFromSledAgent {
		t.Fatalf("failed report: %v, %v, %v", r, o, err)
	}
	for _, reason := range failure.AllReasons() {
		got, o, err := r.Transition(vmmstate.Failed(reason), t1)
		if err != nil || o != vmmstate.Unchanged || got != r {
			t.Errorf("Transition(Failed(%v)) = %v, %v, %v; want %v kept", reason, got, o, err, r)
		}
		got, o, err = r.Observe(vmmstate.Runtime{State: vmmstate.Failed(reason), Generation: generation.Of(9), TimeUpdated: t1})
		if err != nil || o != vmmstate.Unchanged || got != r {
			t.Errorf("Observe(Failed(%v)@9) = %v, %v, %v; want %v kept", reason, got, o, err, r)
		}
	}
}

func TestNewRuntime(t *testing.T) {
	r := vmmstate.NewRuntime(t0)
	if want := (vmmstate.Runtime{State: vmmstate.Creating, Generation: generation.Initial(), TimeUpdated: t0}); r != want {
		t.Errorf("NewRuntime = %v, want %v", r, want)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("NewRuntime().Validate() = %v", err)
	}
}

func TestRuntimeValidate(t *testing.T) {
	for _, s := range allStates {
		// A zero time and generation 0 are allowed: only the state is checked.
		if err := (vmmstate.Runtime{State: s}).Validate(); err != nil {
			t.Errorf("Runtime{%v}.Validate() = %v", s, err)
		}
	}
	for _, b := range invalidBytes {
		err := vmmstate.Runtime{State: vmmstate.State(b)}.Validate()
		var re *vmmstate.RecordError
		if !errors.As(err, &re) || !errors.Is(err, vmmstate.ErrInvalidRecord) || re.Field != "state" ||
			re.Value != vmmstate.State(b).String() {
			t.Errorf("Runtime{State(%d)}.Validate() = %#v", b, err)
		}
	}
}

// The domain JSON of a Runtime (§4.4, D9), written out.
func TestRuntimeJSON(t *testing.T) {
	tests := []struct {
		r    vmmstate.Runtime
		json string
	}{
		{vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(4), TimeUpdated: t0},
			`{"state":"running","gen":4,"time_updated":"2026-11-21T10:00:00Z"}`},
		{vmmstate.Runtime{State: failedSledOff, Generation: generation.Of(0), TimeUpdated: t0.Add(123 * time.Nanosecond)},
			`{"state":{"failed":"sled_off"},"gen":0,"time_updated":"2026-11-21T10:00:00.000000123Z"}`},
		{vmmstate.Runtime{State: vmmstate.SagaUnwound, Generation: maxGen(t), TimeUpdated: t0.In(time.FixedZone("", 3600))},
			`{"state":"saga_unwound","gen":9223372036854775807,"time_updated":"2026-11-21T11:00:00+01:00"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.r)
		if err != nil || string(b) != tt.json {
			t.Errorf("json.Marshal(%v) = %s, %v; want %s", tt.r, b, err, tt.json)
		}
		var got vmmstate.Runtime
		if err := json.Unmarshal([]byte(tt.json), &got); err != nil || got.State != tt.r.State ||
			got.Generation != tt.r.Generation || !got.TimeUpdated.Equal(tt.r.TimeUpdated) {
			t.Errorf("json.Unmarshal(%s) = %v, %v", tt.json, got, err)
		}
	}
	// Invalid states do not marshal.
	if _, err := json.Marshal(vmmstate.Runtime{}); err == nil {
		t.Error("json.Marshal(zero Runtime): no error")
	}
}

func TestRuntimeJSONRejects(t *testing.T) {
	const ok = `"state":"running","gen":4,"time_updated":"2026-11-21T10:00:00Z"`
	for _, in := range []string{
		``, `null`, `[]`, `"running"`, `{}`,
		`{"state":"running","gen":4}`,
		`{"gen":4,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{` + ok + `,"extra":1}`,
		`{` + ok + `,"gen":5}`,
		`{"state":null,"gen":4,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{"state":"failed","gen":4,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{"state":"Running","gen":4,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{"state":"running","gen":-1,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{"state":"running","gen":"4","time_updated":"2026-11-21T10:00:00Z"}`,
		`{"state":"running","gen":9223372036854775808,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{"state":"running","gen":4,"time_updated":"yesterday"}`,
		`{"state":"running","gen":4,"time_updated":null}`,
		`{"State":"running","gen":4,"time_updated":"2026-11-21T10:00:00Z"}`,
		`{` + ok + `} {}`,
	} {
		keep := vmmstate.Runtime{State: vmmstate.Stopped, Generation: generation.Of(2), TimeUpdated: t1}
		got := keep
		if err := got.UnmarshalJSON([]byte(in)); err == nil || got != keep {
			t.Errorf("UnmarshalJSON(%s) = %v, %v; want an error and no change", in, got, err)
		}
	}
}

func maxGen(t *testing.T) generation.Generation {
	t.Helper()
	g, err := generation.FromInt64(generation.Max)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestMarkFailedInvalidReasonIsNoObservation: a refusal of MarkFailed for
// an invalid reason is the control plane's, not a sled-agent's report: its
// *TransitionError says it was not observed.
func TestMarkFailedInvalidReasonIsNoObservation(t *testing.T) {
	r := vmmstate.Runtime{State: vmmstate.Running, Generation: generation.Of(3), TimeUpdated: t0}
	_, _, err := r.MarkFailed(0, t1)
	var te *vmmstate.TransitionError
	if !errors.As(err, &te) || te.Observed || !errors.Is(err, vmmstate.ErrInvalidState) {
		t.Fatalf("%v (observed %v)", err, te != nil && te.Observed)
	}
}

package sim

import (
	"fmt"
	"github.com/google/uuid"
	"io"
	"strings"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// counters count what happened in a world; Summary reports them.
type counters struct {
	Actions  [numActions]int
	Requests [len(requestWeights)][2]int                         // by instancestate.Request: accepted, rejected
	Faults   [len(faultNames)]int                                // by Fault: how often each was injected
	Sagas    [6]struct{ Started, Completed, Unwound, Stuck int } // by sagas.Kind

	StartsByReason [4]int // by failure.StartReason
	StartFailures  [8]int // by failure.Cause
	StartConflicts int    // start sagas that lost MarkAsStarting's precondition (§14)

	MigrateConflicts  int // migrate sagas that lost SetMigrationIDs's precondition (§8.1)
	MigrateNoCapacity int

	ReportsSent, ReportsDelivered, ReportsApplied, ReportsUnchanged int
	ReportsStale, ReportsRefused, ReportsGone, ReportsLost          int

	MarkedFailed [6]int // by failure.Reason
	Watcher      map[string]int
	SledCalls    map[string]int // outcomes of vmm_put_state by the status the API answers
	Next         [9]int         // by instancestate.NextKind
	UpdateEnds   map[string]int

	Created, Deleted, GuestShutdowns, Reincarnations int
	MigrationsCompleted, MigrationsFailed            int
	Reaped, VMMsDeleted, ReservationSwaps            int
	UnwoundAlreadyTerminal                           int
	StartedAgainstIntent                             int
	MarkUndoLost, UnwindStartSkipped                 int
	Inspections, MigrationsAborted, TargetsStopped   int // D32, D34, D37
	// Sagas a control plane's crash left: recovered from the log, lost
	// with nothing durable, or left by an earlier process on the store.
	SagasRecovered, SagasLost, SagasRecoveredUnknown int
	Decisions                                        [8]int // by instancestate.Action

	ViolationOccurrences int
}

func (s *counters) init() {
	s.Watcher = make(map[string]int)
	s.SledCalls = make(map[string]int)
	s.UpdateEnds = make(map[string]int)
}

// Counts is a list of named counts in a fixed order. It writes JSON as an
// object with its names as keys, and text as "name n, name n".
type Counts []Count

// Count is one named count.
type Count struct {
	Name string
	N    int
}

// MarshalJSON writes the counts as one JSON object, in order.
func (c Counts) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", x.Name, x.N)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// Get returns the count named name, or 0.
func (c Counts) Get(name string) int {
	for _, x := range c {
		if x.Name == name {
			return x.N
		}
	}
	return 0
}

func (c Counts) text(skipZero bool) string {
	var parts []string
	for _, x := range c {
		if skipZero && x.N == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d", x.Name, x.N))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Summary is what a run did, as `vmlife simulate` prints it. Everything in
// it is a function of the configuration and the choices made, so the same
// seed gives the same summary byte for byte.
type Summary struct {
	Seed       uint64 `json:"seed"`
	Instances  int    `json:"instances"`
	Sleds      int    `json:"sleds"`
	Steps      int    `json:"steps"`
	Faults     string `json:"faults"`
	SimStart   string `json:"simulated_from"`
	SimEnd     string `json:"simulated_until"`
	States     Counts `json:"instances_by_state"`
	Intents    Counts `json:"instances_by_intent"`
	Actions    Counts `json:"actions"`
	Accepted   Counts `json:"requests_accepted"`
	Rejected   Counts `json:"requests_rejected"`
	Decisions  Counts `json:"decisions"`
	Started    Counts `json:"sagas_started"`
	Completed  Counts `json:"sagas_completed"`
	Unwound    Counts `json:"sagas_unwound"`
	Stuck      Counts `json:"sagas_stuck"`
	Starts     Counts `json:"starts_by_reason"`
	StartFails Counts `json:"start_failures"`
	Reports    Counts `json:"reports"`
	Injected   Counts `json:"faults_injected"`
	Watcher    Counts `json:"watcher_checks"`
	SledCalls  Counts `json:"sled_calls"`
	Marked     Counts `json:"vmms_marked_failed"`
	Next       Counts `json:"next_actions"`
	Updates    Counts `json:"update_saga_ends"`
	Events     Counts `json:"events"`
	Violations int    `json:"violations"`
	// What the control plane leaves, read from the store: sagas of the
	// log not at rest (-1: the store keeps no saga log), instances whose
	// updater lock is held, and reservations whose VMM is deleted or
	// absent (-1: the store keeps none). Sagas and locks are in use while
	// the world runs; once it has settled, all three must be 0.
	SagasUnfinished    int `json:"sagas_unfinished"`
	LocksHeld          int `json:"locks_held"`
	ReservationsLeaked int `json:"reservations_leaked"`
	// ViolationList holds every distinct violation, as printed.
	ViolationList []string `json:"violation_list"`
}

// Summary returns what the world has done so far.
func (w *World) Summary() Summary {
	st := &w.stats
	s := Summary{
		Seed:      w.cfg.Seed,
		Instances: w.cfg.Instances,
		Sleds:     w.cfg.Sleds,
		Steps:     w.step,
		Faults:    w.cfg.Faults.String(),
		SimStart:  Epoch.Format(time.RFC3339),
		SimEnd:    w.now.Format(time.RFC3339),
	}
	var byState [16]int
	var byIntent [8]int
	for _, in := range w.instances {
		if e, err := instancestate.EffectiveState(w.snapshot(in)); err == nil {
			byState[e]++
		}
		byIntent[in.rec.IntendedState]++
	}
	for _, e := range vmmstate.AllExternal() {
		s.States = append(s.States, Count{e.String(), byState[e]})
	}
	for _, i := range instancestate.AllIntendedStates() {
		s.Intents = append(s.Intents, Count{i.String(), byIntent[i]})
	}
	for _, a := range AllActions() {
		s.Actions = append(s.Actions, Count{a.String(), st.Actions[a]})
	}
	for _, r := range instancestate.AllRequests() {
		s.Accepted = append(s.Accepted, Count{r.String(), st.Requests[r][0]})
		s.Rejected = append(s.Rejected, Count{r.String(), st.Requests[r][1]})
	}
	for _, k := range sagas.AllKinds() {
		s.Started = append(s.Started, Count{k.String(), st.Sagas[k].Started})
		s.Completed = append(s.Completed, Count{k.String(), st.Sagas[k].Completed})
		s.Unwound = append(s.Unwound, Count{k.String(), st.Sagas[k].Unwound})
		s.Stuck = append(s.Stuck, Count{k.String(), st.Sagas[k].Stuck})
	}
	for _, r := range failure.AllStartReasons() {
		s.Starts = append(s.Starts, Count{r.String(), st.StartsByReason[r]})
	}
	for _, c := range failure.AllCauses() {
		s.StartFails = append(s.StartFails, Count{c.String(), st.StartFailures[c]})
	}
	s.Reports = Counts{
		{"sent", st.ReportsSent}, {"delivered", st.ReportsDelivered},
		{"applied", st.ReportsApplied}, {"unchanged", st.ReportsUnchanged},
		{"stale", st.ReportsStale}, {"refused", st.ReportsRefused},
		{"for_deleted_vmms", st.ReportsGone}, {"lost_to_partitions", st.ReportsLost},
	}
	for _, f := range AllFaults() {
		s.Injected = append(s.Injected, Count{f.String(), st.Faults[f]})
	}
	for _, l := range []string{"success", "sled_expunged", "sled_off", "no_such_instance", "unreachable", "503"} {
		s.Watcher = append(s.Watcher, Count{l, st.Watcher[l]})
	}
	for _, l := range []string{"200", "400", "500", "502", "503", "504"} {
		s.SledCalls = append(s.SledCalls, Count{l, st.SledCalls[l]})
	}
	for _, r := range failure.AllReasons() {
		s.Marked = append(s.Marked, Count{r.String(), st.MarkedFailed[r]})
	}
	for _, k := range instancestate.AllNextKinds() {
		s.Next = append(s.Next, Count{k.String(), st.Next[k]})
	}
	for _, l := range []string{"committed", "nothing", "locked", "conflict", "injected", "deleted", "error"} {
		s.Updates = append(s.Updates, Count{l, st.UpdateEnds[l]})
	}
	s.Events = Counts{
		{"instances_created", st.Created}, {"instances_deleted", st.Deleted},
		{"guest_shutdowns", st.GuestShutdowns}, {"reincarnations", st.Reincarnations},
		{"start_conflicts", st.StartConflicts}, {"migrate_conflicts", st.MigrateConflicts},
		{"migrate_no_capacity", st.MigrateNoCapacity},
		{"migrations_completed", st.MigrationsCompleted}, {"migrations_failed", st.MigrationsFailed},
		{"reservation_swaps", st.ReservationSwaps}, {"vmms_deleted", st.VMMsDeleted},
		{"vmms_reaped", st.Reaped}, {"unwound_vmm_already_terminal", st.UnwoundAlreadyTerminal},
		{"mark_as_starting_undo_lost", st.MarkUndoLost}, {"unwind_start_not_applied", st.UnwindStartSkipped},
		{"started_against_intent", st.StartedAgainstIntent},
		{"inspections", st.Inspections}, {"migrations_aborted", st.MigrationsAborted},
		{"unlinked_targets_stopped", st.TargetsStopped},
		{"sagas_recovered_after_crash", st.SagasRecovered}, {"sagas_lost_in_crash", st.SagasLost},
		{"sagas_recovered_of_earlier_processes", st.SagasRecoveredUnknown},
	}
	for _, a := range instancestate.AllActions() {
		s.Decisions = append(s.Decisions, Count{a.String(), st.Decisions[a]})
	}
	s.Violations = len(w.violations)
	s.SagasUnfinished, s.LocksHeld, s.ReservationsLeaked = w.leftovers()
	s.ViolationList = []string{}
	for _, v := range w.violations {
		s.ViolationList = append(s.ViolationList, v.String())
	}
	return s
}

// WriteText writes the summary for people: one fact per line, in a fixed
// order, ending with "violations: N".
func (s Summary) WriteText(out io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "vmlife simulate: seed %d, %d instances on %d sleds, %d steps, faults: %s\n", s.Seed, s.Instances, s.Sleds, s.Steps, s.Faults)
	fmt.Fprintf(&b, "simulated time: %s to %s\n\n", s.SimStart, s.SimEnd)
	line := func(label string, c Counts, skipZero bool) {
		fmt.Fprintf(&b, "%-24s %s\n", label+":", c.text(skipZero))
	}
	line("instances by state", s.States, true)
	line("instances by intent", s.Intents, true)
	b.WriteString("\nactions:\n")
	for _, a := range s.Actions {
		fmt.Fprintf(&b, "  %-22s %d\n", a.Name, a.N)
	}
	b.WriteString("\n")
	line("requests accepted", s.Accepted, false)
	line("requests rejected", s.Rejected, false)
	line("decisions", s.Decisions, false)
	line("sagas started", s.Started, false)
	line("sagas completed", s.Completed, false)
	line("sagas unwound", s.Unwound, false)
	line("sagas stuck", s.Stuck, false)
	line("starts by reason", s.Starts, false)
	line("start failures", s.StartFails, true)
	line("reports", s.Reports, false)
	line("faults injected", s.Injected, false)
	line("watcher checks", s.Watcher, false)
	line("sled calls by status", s.SledCalls, true)
	line("VMMs marked failed", s.Marked, true)
	line("reconciler next actions", s.Next, false)
	line("update sagas ended", s.Updates, false)
	line("events", s.Events, false)
	fmt.Fprintf(&b, "\nsagas unfinished: %d, locks held: %d, reservations leaked: %d\n", s.SagasUnfinished, s.LocksHeld, s.ReservationsLeaked)
	fmt.Fprintf(&b, "violations: %d\n", s.Violations)
	_, err := io.WriteString(out, b.String())
	return err
}

// leftovers counts what the control plane leaves in the store: unfinished
// sagas, held updater locks, leaked reservations (-1 where the store keeps
// no saga log or no reservations). A store that cannot answer is a
// violation, and counts -1.
func (w *World) leftovers() (sagasUnfinished, locksHeld, leaked int) {
	sagasUnfinished, leaked = -1, -1
	if w.sec != nil {
		recs, err := w.sec.Log.SagaListUnfinished(w.ctx, uuid.Nil)
		if err != nil {
			w.unexpected("saga_list_unfinished", "summary", err)
		} else {
			sagasUnfinished = len(recs)
		}
	}
	for _, in := range w.instances {
		if !in.rec.UpdaterID.IsZero() {
			locksHeld++
		}
	}
	if w.rsv != nil {
		ids, err := w.rsv.ReservationListLeaked(w.ctx)
		if err != nil {
			w.unexpected("reservation_list_leaked", "summary", err)
		} else {
			leaked = len(ids)
		}
	}
	return sagasUnfinished, locksHeld, leaked
}

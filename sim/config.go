package sim

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
)

// Fault is one kind of trouble the simulator injects. The zero value is
// invalid.
type Fault uint8

// The faults, in the order the summary and the --faults help list them.
const (
	// FaultDelay: sled-agent reports arrive late (§12: a push may be
	// delivered long after it was sent).
	FaultDelay Fault = iota + 1
	// FaultDuplicate: a report is delivered twice (D5: the second is stale).
	FaultDuplicate
	// FaultReorder: deliverable reports overtake one another.
	FaultReorder
	// FaultDrop: reports are lost; the instance watcher recovers the state
	// by polling (§13.1, §18).
	FaultDrop
	// FaultSledOff: a sled loses power, taking its VMMs with it, and later
	// comes back empty (§18: sled_off, then no_such_instance).
	FaultSledOff
	// FaultSledUnreachable: a sled-agent stops answering while its sled
	// may be on (A0 or unknown power): never a failure (D18), only the
	// SledUnreachable condition (D14).
	FaultSledUnreachable
	// FaultSledExpunge: a sled is expunged and replaced by a new one
	// (§18: sled_expunged).
	FaultSledExpunge
	// FaultVMMCrash: a VMM fails on its own and its sled-agent reports
	// failed (§4.6: from_sled_agent).
	FaultVMMCrash
	// FaultStartTransient: sled-agents refuse some registrations and
	// calls (sled_agent_error, vmm_gone; D13 transient causes).
	FaultStartTransient
	// FaultStartPermanent: one instance in three carries a placement
	// constraint — affinity to a sled, anti-affinity to one, or a local
	// disk on one — and fails to start, permanently, while it cannot be
	// met (affinity_unsatisfiable, anti_affinity_unsatisfiable,
	// local_storage_unavailable; D13, D15).
	FaultStartPermanent
	// FaultSagaUnwind: create, start, migrate and update sagas fail at a
	// random node and unwind (§13–§16; not a delete, whose intent the user
	// already wrote), a MARK_AS_STARTING undo loses its race, and a migrate
	// request reaches its target although the call fails.
	FaultSagaUnwind
	// FaultSagaReplay: a saga node — an action or an undo — runs twice, as
	// Steno re-runs a node it cannot tell finished (§13.1); every node must
	// be idempotent, and the second run is checked to change nothing.
	FaultSagaReplay
	// FaultVMMHang: a VMM's Propolis stops moving in a transient state —
	// starting, stopping, rebooting — for minutes to hours of simulated
	// time, answering health checks all the while: past its deadline the
	// control plane says NotProgressing and inspects it, and fails
	// nothing (D30, D32).
	FaultVMMHang
	// FaultMigrationStall: a live migration stops moving on both sides.
	// Under the world's migration progress deadline the control plane
	// aborts it — fails the migration, stops the target — and the source
	// runs on (D34).
	FaultMigrationStall
	// FaultControlPlaneCrash: the process running the sagas dies — every
	// saga in flight is dropped with the executor's memory, the records,
	// the saga log and the sleds are kept — and a new process under the
	// same identity recovers every unfinished saga from the log (D26). It
	// needs a store that keeps a saga log (datastore.SagaLog).
	FaultControlPlaneCrash
)

var faultNames = [...]string{
	FaultDelay:           "delay",
	FaultDuplicate:       "duplicate",
	FaultReorder:         "reorder",
	FaultDrop:            "drop",
	FaultSledOff:         "sled_off",
	FaultSledUnreachable: "sled_unreachable",
	FaultSledExpunge:     "sled_expunge",
	FaultVMMCrash:        "vmm_crash",
	FaultStartTransient:  "start_transient",
	FaultStartPermanent:  "start_permanent",
	FaultSagaUnwind:      "saga_unwind",
	FaultSagaReplay:      "saga_replay",
	FaultVMMHang:         "vmm_hang",
	FaultMigrationStall:  "migration_stall",

	FaultControlPlaneCrash: "control_plane_crash",
}

// AllFaults returns every fault in declaration order.
func AllFaults() []Fault {
	out := make([]Fault, 0, len(faultNames)-1)
	for f := Fault(1); int(f) < len(faultNames); f++ {
		out = append(out, f)
	}
	return out
}

// IsValid reports whether f is one of the faults.
func (f Fault) IsValid() bool { return f > 0 && int(f) < len(faultNames) }

// String returns the fault's name as --faults spells it, or "sim.Fault(n)".
func (f Fault) String() string {
	if !f.IsValid() {
		return "sim.Fault(" + strconv.Itoa(int(f)) + ")"
	}
	return faultNames[f]
}

// Faults is a set of faults.
type Faults uint16

// AllFaultsSet is every fault: the default.
const AllFaultsSet = Faults(1<<(len(faultNames)) - 2)

// Has reports whether f is in the set.
func (s Faults) Has(f Fault) bool { return f.IsValid() && s&(1<<f) != 0 }

// With returns the set with f added.
func (s Faults) With(f Fault) Faults {
	if !f.IsValid() {
		return s
	}
	return s | 1<<f
}

// List returns the faults in the set, in declaration order.
func (s Faults) List() []Fault {
	var out []Fault
	for _, f := range AllFaults() {
		if s.Has(f) {
			out = append(out, f)
		}
	}
	return out
}

// String returns the set as ParseFaults reads it: "all", "none", or the
// names joined by commas.
func (s Faults) String() string {
	switch s {
	case AllFaultsSet:
		return "all"
	case 0:
		return "none"
	}
	names := make([]string, 0, len(faultNames))
	for _, f := range s.List() {
		names = append(names, f.String())
	}
	return strings.Join(names, ",")
}

// FaultNames returns the words ParseFaults accepts: "all", "none" and every
// fault's name.
func FaultNames() []string {
	out := []string{"all", "none"}
	for _, f := range AllFaults() {
		out = append(out, f.String())
	}
	return out
}

// FaultError reports a word of a --faults list that names no fault.
type FaultError struct {
	Input string // the offending word
}

func (e *FaultError) Error() string {
	return "unknown fault " + strconv.Quote(e.Input) + " (accepted: " + strings.Join(FaultNames(), ", ") + ")"
}

// ParseFaults reads a comma-separated list of fault names. "all" is every
// fault and "none" (or the empty string) is no fault; names may repeat.
// An unknown word is a *FaultError naming it and listing the accepted ones.
func ParseFaults(list string) (Faults, error) {
	var s Faults
	if strings.TrimSpace(list) == "" {
		return 0, nil
	}
	for _, w := range strings.Split(list, ",") {
		w = strings.TrimSpace(w)
		switch w {
		case "all":
			s = AllFaultsSet
			continue
		case "none":
			continue
		}
		f := Fault(0)
		for _, g := range AllFaults() {
			if g.String() == w {
				f = g
			}
		}
		if f == 0 {
			return 0, &FaultError{Input: w}
		}
		s = s.With(f)
	}
	return s, nil
}

// Config says what world to simulate; Default is the built-in run. Zero
// Sleds and SledCapacity mean their defaults; Instances must be set.
type Config struct {
	// Instances is how many live instances the world keeps: deleted ones
	// are replaced by new ones.
	Instances int
	// Sleds is the number of sleds; 0 gives one per six instances, plus
	// one: few enough that capacity runs out now and then.
	Sleds int
	// SledCapacity is how many VMMs a sled can host; 0 gives 4.
	SledCapacity int
	// Faults is the set of faults to inject.
	Faults Faults
	// Seed is only reported: the Chooser that drives the world carries the
	// randomness (see NewRand).
	Seed uint64
	// Trace keeps a line for every action taken, for tests that print a
	// failing trace (it costs time: off by default).
	Trace bool
	// FullCheckEvery is how often, in steps, every instance and the
	// world's own rules are checked in full; in between, a step checks
	// the instances it touched and those whose cooldown ended (see
	// World.Step). 0 is DefaultFullCheckEvery plus two steps per instance,
	// so that a full check costs each step the same whatever the size of
	// the world; 1 checks everything after every step.
	FullCheckEvery int
	// Policy is the liveness policy the world's control plane decides with
	// (instancestate.Snapshot.Policy: deadlines, restart backoff,
	// migration bounds). Its zero value is vmlife's defaults, except that
	// with migration_stall injected and no migration progress deadline
	// given, DefaultMigrationProgress applies, so that stalled migrations
	// are aborted (D34).
	Policy instancestate.Policy
	// Store records the world's instances, VMMs and migrations: every
	// write the control plane makes goes through it, and every snapshot is
	// read from it. Nil is a fresh datastore.Memory. A store given here
	// should be empty: the world's ids start again at every run.
	Store datastore.Store
	// Keeper, when not nil, keeps what the world holds outside Store — its
	// sleds, the reports on their way, its clock and counts — as it
	// changes, so that Resume can continue the world after its process
	// dies. With a Store that keeps a saga log, nothing a world did that
	// outlived it is lost.
	Keeper Keeper
}

// The defaults. DefaultSteps is what `vmlife simulate` runs with no flags:
// a few seconds on two cores.
const (
	DefaultInstances    = 24
	DefaultSteps        = 150000
	DefaultSeed         = 1
	DefaultSledCapacity = 4
	// DefaultMigrationProgress is the migration progress deadline a world
	// with migration_stall injected decides with when Config.Policy sets
	// none: KubeVirt's.
	DefaultMigrationProgress = 150 * time.Second
	// DefaultFullCheckEvery is the full-check period of a small world:
	// every few simulated minutes (Config.FullCheckEvery adds two steps
	// per instance).
	DefaultFullCheckEvery = 256
)

// Default returns the built-in configuration: DefaultInstances instances,
// every fault, DefaultSeed.
func Default() Config {
	return Config{Instances: DefaultInstances, Faults: AllFaultsSet, Seed: DefaultSeed}
}

// ConfigError reports a configuration field that cannot be simulated.
type ConfigError struct {
	Field  string // "instances", "sleds", "sled_capacity"
	Value  int
	Accept string
}

func (e *ConfigError) Error() string {
	return "sim: " + e.Field + " = " + strconv.Itoa(e.Value) + " (accepted: " + e.Accept + ")"
}

// normalize fills the defaults in and checks the ranges.
func (c Config) normalize() (Config, error) {
	switch {
	case c.Instances < 1 || c.Instances > 10000:
		return c, &ConfigError{Field: "instances", Value: c.Instances, Accept: "1 to 10000"}
	case c.Sleds < 0 || c.Sleds > 1000:
		return c, &ConfigError{Field: "sleds", Value: c.Sleds, Accept: "0 (one per six instances, plus one) to 1000"}
	case c.SledCapacity < 0 || c.SledCapacity > 1000:
		return c, &ConfigError{Field: "sled_capacity", Value: c.SledCapacity, Accept: "0 (4) to 1000"}
	}
	if c.SledCapacity == 0 {
		c.SledCapacity = DefaultSledCapacity
	}
	if err := c.Policy.Validate(); err != nil {
		field := "policy"
		var re *instancestate.RuleError
		if errors.As(err, &re) {
			field = re.Field
		}
		return c, &ConfigError{Field: field, Accept: "durations and counts of 0 or more (a negative deadline is off)"}
	}
	if c.Faults.Has(FaultMigrationStall) && c.Policy.Migration.ProgressDeadline == 0 {
		c.Policy.Migration.ProgressDeadline = DefaultMigrationProgress
	}
	switch {
	case c.FullCheckEvery < 0:
		return c, &ConfigError{Field: "full_check_every", Value: c.FullCheckEvery, Accept: "0 (256 plus two per instance) or a positive number of steps"}
	case c.FullCheckEvery == 0:
		c.FullCheckEvery = DefaultFullCheckEvery + 2*c.Instances
	}
	if c.Sleds == 0 {
		c.Sleds = c.Instances/6 + 1
		if c.Sleds < 2 {
			c.Sleds = 2
		}
	}
	return c, nil
}

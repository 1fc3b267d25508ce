package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vmlife/vmlife/sim"
)

func init() {
	commands["simulate"] = command{
		run: runSimulate,
		usage: "simulate [--store DSN [--resume]] [--instances N] [--steps N] [--seed S] [--faults LIST] [--settle] [--json]\t" +
			"run a seeded simulation of a control plane built only on vmlife's decisions (its records in memory, or with --store in an empty PostgreSQL database), " +
			"check every invariant after every step, and print a summary (exit 1 on a violation); " +
			"--settle then lets it come to rest; --resume continues the simulation a killed process left in the database",
	}
}

// simulateRetry is how long a simulation's store waits out a server that
// does not answer (pgstore.RetryUnavailable): a server restarted under it
// is not a failure of the control plane it simulates, as it should not be
// of a control plane on PostgreSQL. A script's store does not wait (see
// runScript).
const simulateRetry = 60 * time.Second

// runSimulate runs the simulation (sim.Run) and exits 1 when it found a
// violation.
func runSimulate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var runErr error // the run's error, for closing the store
	dsn, haveStore, args, err := storeFlag(args)
	if err != nil {
		return finish(stderr, "simulate", err)
	}
	o, help, err := sim.ParseArgs(args)
	if help {
		commandUsage(stdout, "simulate")
		fmt.Fprintf(stdout, "\nWith no flags: %d instances, %d steps, seed %d, every fault.\nFaults: %s.\n",
			sim.DefaultInstances, sim.DefaultSteps, sim.DefaultSeed, strings.Join(sim.FaultNames(), ", "))
		return exitOK
	}
	if err != nil {
		return finish(stderr, "simulate", err)
	}
	if o.Resume && !haveStore {
		return finish(stderr, "simulate", badInput("--resume", "continues a simulation kept in a database, and no --store names one",
			"--resume with --store DSN"))
	}
	if haveStore {
		// The world's records in PostgreSQL: the same seed prints the
		// same summary as in memory. Its sleds and clock are kept beside
		// them (simkeep_pg.go), so that --resume can continue it. A server
		// that restarts during the run is waited out, as a control plane's
		// store should (up to simulateRetry), not counted against the
		// control plane.
		st, closeStore, err := openStore(dsn, o.Resume, simulateRetry)
		if err != nil {
			return finish(stderr, "simulate", err)
		}
		defer func() { closeStore(runErr) }()
		o.Config.Store = st
		if o.Config.Keeper, err = openKeeper(st, !o.Resume); err != nil {
			runErr = err
			return finish(stderr, "simulate", err)
		}
	}
	s, err := sim.Run(o, stdout, stderr)
	runErr = err
	if errors.Is(err, sim.ErrNothingToResume) {
		err = badInput("--resume", "the database holds no simulation to resume", "a database a `vmlife simulate --store` ran in")
	}
	if err != nil {
		return finish(stderr, "simulate", err)
	}
	if s.Violations > 0 {
		return exitFailure
	}
	return exitOK
}

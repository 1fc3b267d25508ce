package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/vmlife/vmlife/sim"
)

func init() {
	commands["simulate"] = command{
		run: runSimulate,
		usage: "simulate [--store DSN] [--instances N] [--steps N] [--seed S] [--faults LIST] [--json]\t" +
			"run a seeded simulation of a control plane built only on vmlife's decisions (its records in memory, or with --store in an empty PostgreSQL database), " +
			"check every invariant after every step, and print a summary (exit 1 on a violation)",
	}
}

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
	if haveStore {
		// The world's records in PostgreSQL: the same seed prints the
		// same summary as in memory.
		st, closeStore, err := openStore(dsn, true)
		if err != nil {
			return finish(stderr, "simulate", err)
		}
		o.Config.Store = st
		defer func() { closeStore(runErr) }()
	}
	s, err := sim.Run(o, stdout, stderr)
	runErr = err
	if err != nil {
		return finish(stderr, "simulate", err)
	}
	if s.Violations > 0 {
		return exitFailure
	}
	return exitOK
}

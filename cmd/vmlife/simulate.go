package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/vmlife/vmlife/internal/sim"
)

func init() {
	commands["simulate"] = command{
		run: runSimulate,
		usage: "simulate [--instances N] [--steps N] [--seed S] [--faults LIST] [--json]\t" +
			"run a seeded simulation of a control plane built only on vmlife's decisions, " +
			"check every invariant after every step, and print a summary (exit 1 on a violation)",
	}
}

// runSimulate runs the simulation (sim.Run) and exits 1 when it found a
// violation.
func runSimulate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "--store" || strings.HasPrefix(a, "--store=") {
			// As for script: the vmlife command links no database driver.
			return finish(stderr, "simulate", badInput("--store", "this vmlife links no database driver; for PostgreSQL run vmlife-pg from the pgstore module (cd pgstore && go run ./cmd/vmlife-pg simulate --store DSN)", "no --store: a fresh in-memory store"))
		}
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
	s, err := sim.Run(o, stdout, stderr)
	if err != nil {
		return finish(stderr, "simulate", err)
	}
	if s.Violations > 0 {
		return exitFailure
	}
	return exitOK
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

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

// simulateOptions are the flags of `vmlife simulate`.
type simulateOptions struct {
	cfg   sim.Config
	steps int
	json  bool
}

// simulateFlags lists the accepted flags for error messages.
const simulateFlags = "--instances N, --steps N, --seed S, --faults LIST, --json, -h"

// parseSimulate reads the flags: "--name value" or "--name=value", with one
// dash or two. Anything else is bad input naming the flag and what it
// accepts.
func parseSimulate(args []string) (simulateOptions, bool, error) {
	o := simulateOptions{cfg: sim.Default(), steps: sim.DefaultSteps}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-h" || a == "-help" || a == "--help" {
			return o, true, nil
		}
		if !strings.HasPrefix(a, "-") {
			return o, false, badInput("arguments", fmt.Sprintf("unexpected argument %q", a), simulateFlags)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		flag := "--" + name
		if name == "json" {
			if hasValue {
				return o, false, badInput(flag, fmt.Sprintf("takes no value, got %q", value), "--json alone")
			}
			o.json = true
			continue
		}
		if !hasValue {
			switch name {
			case "instances", "steps", "seed", "faults":
				if i+1 == len(args) {
					return o, false, badInput(flag, "missing its value", simAccepted(name))
				}
				i++
				value = args[i]
			default:
				return o, false, badInput("arguments", fmt.Sprintf("unknown flag %q", a), simulateFlags)
			}
		}
		var err error
		switch name {
		case "instances":
			o.cfg.Instances, err = simIntFlag(flag, value, 1, 10000)
		case "steps":
			o.steps, err = simIntFlag(flag, value, 0, 1_000_000_000)
		case "seed":
			var s uint64
			s, err = strconv.ParseUint(value, 10, 64)
			if err != nil {
				err = badInput(flag, fmt.Sprintf("%q is not a seed", value), simAccepted(name))
			}
			o.cfg.Seed = s
		case "faults":
			o.cfg.Faults, err = sim.ParseFaults(value)
			var fe *sim.FaultError
			if errors.As(err, &fe) {
				err = badInput(flag, fmt.Sprintf("unknown fault %q", fe.Input), simAccepted(name))
			}
		default:
			err = badInput("arguments", fmt.Sprintf("unknown flag %q", a), simulateFlags)
		}
		if err != nil {
			return o, false, err
		}
	}
	return o, false, nil
}

// simAccepted says what each valued flag accepts.
func simAccepted(name string) string {
	switch name {
	case "instances":
		return "an integer from 1 to 10000"
	case "steps":
		return "an integer from 0 to 1000000000"
	case "seed":
		return "an integer from 0 to 18446744073709551615"
	}
	return "a comma-separated list of " + strings.Join(sim.FaultNames(), ", ")
}

func simIntFlag(flag, value string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < lo || n > hi {
		return 0, badInput(flag, fmt.Sprintf("%q is out of range", value), simAccepted(strings.TrimPrefix(flag, "--")))
	}
	return n, nil
}

// maxPrinted is how many violations are printed as they are found; a
// broken library would otherwise bury the summary.
const maxPrinted = 50

// progressEvery is how often, in wall-clock time, a long run says how far
// it got on standard error.
const progressEvery = 3 * time.Second

// runSimulate runs the simulation. Standard output is a function of the
// flags alone — each violation as it is found, then the summary — so the
// same seed prints the same bytes; everything that depends on the wall
// clock (progress, steps per second) goes to standard error.
func runSimulate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	o, help, err := parseSimulate(args)
	if help {
		commandUsage(stdout, "simulate")
		fmt.Fprintf(stdout, "\nWith no flags: %d instances, %d steps, seed %d, every fault.\nFaults: %s.\n",
			sim.DefaultInstances, sim.DefaultSteps, sim.DefaultSeed, strings.Join(sim.FaultNames(), ", "))
		return exitOK
	}
	if err != nil {
		return finish(stderr, "simulate", err)
	}
	w, err := sim.New(o.cfg)
	if err != nil {
		return finish(stderr, "simulate", err)
	}
	printed := 0
	show := func(vs []sim.Violation) {
		for _, v := range vs {
			switch {
			case o.json:
			case printed < maxPrinted:
				fmt.Fprintln(stdout, v)
			case printed == maxPrinted:
				fmt.Fprintf(stdout, "(more violations are counted but not printed)\n")
			}
			printed++
		}
	}
	show(w.Violations())
	r := sim.NewRand(o.cfg.Seed)
	start := time.Now()
	last := start
	for i := 1; i <= o.steps; i++ {
		show(w.Step(r))
		if i%4096 == 0 && time.Since(last) >= progressEvery {
			last = time.Now()
			fmt.Fprintf(stderr, "vmlife simulate: step %d of %d, %d violations, %.0f steps/s\n",
				i, o.steps, len(w.Violations()), float64(i)/last.Sub(start).Seconds())
		}
	}
	elapsed := time.Since(start)
	s := w.Summary()
	if o.json {
		b, err := json.Marshal(s)
		if err != nil {
			return finish(stderr, "simulate", err)
		}
		_, err = stdout.Write(append(b, '\n'))
		if err != nil {
			return finish(stderr, "simulate", err)
		}
	} else if err := s.WriteText(stdout); err != nil {
		return finish(stderr, "simulate", err)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(o.steps) / elapsed.Seconds()
	}
	fmt.Fprintf(stderr, "vmlife simulate: %d steps in %.2fs (%.0f steps/s)\n", o.steps, elapsed.Seconds(), rate)
	if s.Violations > 0 {
		return exitFailure
	}
	return exitOK
}

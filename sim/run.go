package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vmlife/vmlife/wire"
)

// Options are the flags of `vmlife simulate`: the world, how many steps
// it runs, and whether the summary is printed as JSON.
type Options struct {
	Config Config
	Steps  int
	JSON   bool
	// Settle, after the steps, stops the users and the faults and lets the
	// control plane converge (World.Settle): the summary's leftovers —
	// sagas_unfinished, locks_held, reservations_leaked — are then 0.
	Settle bool
	// Resume continues the world Config.Store and Config.Keeper hold
	// (Resume) instead of building a new one: the rest of Config is the
	// kept world's, and Steps is the length of the whole run — the kept
	// world's, when it is negative; a length the world has reached runs
	// no step (with Settle: it settles now).
	Resume bool
}

// Flags lists the flags ParseArgs accepts, for error messages.
const Flags = "--instances N, --steps N, --seed S, --faults LIST, --json, --settle, --resume, -h"

// ParseArgs reads the flags of `vmlife simulate`: "--name value" or
// "--name=value", with one dash or two. It reports whether help was asked
// for. Anything else is bad input, a *wire.DecodeError naming the flag
// and what it accepts.
func ParseArgs(args []string) (Options, bool, error) {
	o := Options{Config: Default(), Steps: DefaultSteps}
	var world []string // the flags that describe a new world
	stepsGiven := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-h" || a == "-help" || a == "--help" {
			return o, true, nil
		}
		if !strings.HasPrefix(a, "-") {
			return o, false, badFlag("arguments", fmt.Sprintf("unexpected argument %q", a), Flags)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		flag := "--" + name
		if name == "json" || name == "settle" || name == "resume" {
			if hasValue {
				return o, false, badFlag(flag, fmt.Sprintf("takes no value, got %q", value), flag+" alone")
			}
			o.JSON = o.JSON || name == "json"
			o.Settle = o.Settle || name == "settle"
			o.Resume = o.Resume || name == "resume"
			continue
		}
		if !hasValue {
			switch name {
			case "instances", "steps", "seed", "faults":
				if i+1 == len(args) {
					return o, false, badFlag(flag, "missing its value", Accepted(name))
				}
				i++
				value = args[i]
			default:
				return o, false, badFlag("arguments", fmt.Sprintf("unknown flag %q", a), Flags)
			}
		}
		var err error
		switch name {
		case "instances":
			o.Config.Instances, err = intFlag(flag, value, 1, 10000)
		case "steps":
			o.Steps, err = intFlag(flag, value, 0, 1_000_000_000)
		case "seed":
			var s uint64
			s, err = strconv.ParseUint(value, 10, 64)
			if err != nil {
				err = badFlag(flag, fmt.Sprintf("%q is not a seed", value), Accepted(name))
			}
			o.Config.Seed = s
		case "faults":
			o.Config.Faults, err = ParseFaults(value)
			var fe *FaultError
			if errors.As(err, &fe) {
				err = badFlag(flag, fmt.Sprintf("unknown fault %q", fe.Input), Accepted(name))
			}
		default:
			err = badFlag("arguments", fmt.Sprintf("unknown flag %q", a), Flags)
		}
		if err != nil {
			return o, false, err
		}
		switch name {
		case "instances", "seed", "faults":
			world = append(world, flag)
		case "steps":
			stepsGiven = true
		}
	}
	switch {
	case o.Resume && len(world) > 0:
		return o, false, badFlag(world[0], "describes a new world, and --resume continues a kept one",
			"--resume with --steps, --settle and --json only: the kept world's own configuration applies")
	case o.Resume && !stepsGiven:
		o.Steps = -1 // the kept world's length
	}
	return o, false, nil
}

// Accepted says what each valued flag of ParseArgs accepts.
func Accepted(name string) string {
	switch name {
	case "instances":
		return "an integer from 1 to 10000"
	case "steps":
		return "an integer from 0 to 1000000000"
	case "seed":
		return "an integer from 0 to 18446744073709551615"
	}
	return "a comma-separated list of " + strings.Join(FaultNames(), ", ")
}

func intFlag(flag, value string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(value)
	switch {
	case errors.Is(err, strconv.ErrSyntax):
		return 0, badFlag(flag, fmt.Sprintf("%q is not an integer", value), Accepted(strings.TrimPrefix(flag, "--")))
	case err != nil || n < lo || n > hi:
		return 0, badFlag(flag, fmt.Sprintf("%q is out of range", value), Accepted(strings.TrimPrefix(flag, "--")))
	}
	return n, nil
}

// maxPrinted is how many violations are printed as they are found; a
// broken library would otherwise bury the summary.
const maxPrinted = 50

// progressEvery is how often, in wall-clock time, a long run says how far
// it got on standard error.
const progressEvery = 3 * time.Second

// badFlag is bad input: the flag, what was wrong, what it accepts.
func badFlag(path, problem, accepted string) *wire.DecodeError {
	return &wire.DecodeError{Path: path, Problem: problem, Accepted: accepted}
}

// Run builds the world o describes and runs it for o.Steps steps. Standard
// output is a function of the options alone — each violation as it is
// found (the first maxPrinted), then the summary, as text or JSON — so the
// same seed prints the same bytes; everything that depends on the wall
// clock (progress, steps per second) goes to stderr. It returns the
// summary; an error is a configuration Run cannot simulate or a failed
// write.
func Run(o Options, stdout, stderr io.Writer) (Summary, error) {
	var w *World
	var err error
	if o.Resume {
		w, err = Resume(o.Config)
		if err == nil && o.Steps >= 0 {
			w.target = o.Steps
		}
	} else {
		w, err = newRun(o.Config, o.Steps)
	}
	if err != nil {
		return Summary{}, err
	}
	printed := 0
	show := func(vs []Violation) {
		for _, v := range vs {
			switch {
			case o.JSON:
			case printed < maxPrinted:
				fmt.Fprintln(stdout, v)
			case printed == maxPrinted:
				fmt.Fprintf(stdout, "(more violations are counted but not printed)\n")
			}
			printed++
		}
	}
	show(w.Violations())
	// A resumed world draws from a stream of its own: the one the dead
	// process was drawing from is not kept.
	r := NewRand(w.cfg.Seed + uint64(w.epoch)*0x9e3779b97f4a7c15)
	start := time.Now()
	last := start
	ran := 0
	for w.step < w.target {
		show(w.Step(r))
		if err := w.Err(); err != nil {
			return Summary{}, w.stopped(err)
		}
		ran++
		if ran%4096 == 0 && time.Since(last) >= progressEvery {
			last = time.Now()
			fmt.Fprintf(stderr, "vmlife simulate: step %d of %d, %d violations, %.0f steps/s\n",
				w.step, w.target, len(w.Violations()), float64(ran)/last.Sub(start).Seconds())
		}
	}
	if o.Settle {
		show(w.Settle(r, SettleSteps(w.cfg.Instances)))
	}
	show(w.CheckAll()) // the end of a run is checked in full
	w.keep()
	if err := w.Err(); err != nil {
		return Summary{}, w.stopped(err)
	}
	elapsed := time.Since(start)
	s := w.Summary()
	if o.JSON {
		b, err := json.Marshal(s)
		if err != nil {
			return s, err
		}
		if _, err := stdout.Write(append(b, '\n')); err != nil {
			return s, err
		}
	} else if err := s.WriteText(stdout); err != nil {
		return s, err
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(ran) / elapsed.Seconds()
	}
	fmt.Fprintf(stderr, "vmlife simulate: %d steps in %.2fs (%.0f steps/s)\n", ran, elapsed.Seconds(), rate)
	return s, nil
}

// stopped is the error of a run that stopped at err (World.Err), saying
// how to go on when the world is kept.
func (w *World) stopped(err error) error {
	if w.keeper == nil {
		return err
	}
	return fmt.Errorf("%w (the world is kept as its last step left it: --resume continues it)", err)
}

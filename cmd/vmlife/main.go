// Command vmlife drives vmlife's decisions from the command line with the
// fixed JSON interface of docs/cli.md ("The command-line tool vmlife"):
//
//	vmlife explain [FILE]    what the control plane makes of a snapshot
//	vmlife report [FILE]     apply a sled-agent report to a snapshot
//	vmlife classify [FILE]   what a sled-agent call outcome means (D18)
//	vmlife diagram vmm|instance|migration [--format mermaid|dot]
//
// Input is read from the file named as the last argument, or standard input
// when there is none (or it is "-"). Output is one JSON object on standard
// output (a diagram is text). Exit status: 0 success; 2 bad input, with one
// line on standard error naming the field and the accepted values; 1
// anything else.
//
// The library is pure (D1); this command is the one place that reads files
// and standard input, and it adds no decision of its own: every answer comes
// from the vmlife packages, so the tool and the library cannot disagree.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// command is one subcommand of vmlife. Each lives in its own file and
// registers itself in that file's init, so a new command never edits this
// file.
type command struct {
	// run executes the command with the arguments after its name and
	// returns the exit status.
	run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
	// usage is the synopsis, a tab, and what the command does, for example
	// "explain [FILE]\twhat the control plane makes of a snapshot".
	usage string
}

// commands is the registry, filled by the init functions of the command
// files, keyed by command name.
var commands = map[string]command{}

// The exit statuses of docs/cli.md.
const (
	exitOK       = 0
	exitFailure  = 1 // anything but bad input: an unreadable file, a write error
	exitBadInput = 2 // bad input: one line on stderr naming the field and the accepted values
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it dispatches args to a command and
// returns the exit status, so tests drive it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return exitOK
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vmlife: unknown command %q (accepted: %s)\n", args[0], strings.Join(commandNames(), ", "))
		usage(stderr)
		return exitBadInput
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

// commandNames returns the registered command names, sorted.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// usage writes the synopsis of every registered command.
func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: vmlife <command> [arguments]\n\ncommands:\n")
	for _, n := range commandNames() {
		synopsis, what, _ := strings.Cut(commands[n].usage, "\t")
		fmt.Fprintf(&b, "  vmlife %s\n", synopsis)
		if what = strings.TrimSpace(what); what != "" {
			fmt.Fprintf(&b, "      %s\n", what)
		}
	}
	b.WriteString("\nInput is read from FILE, or standard input when FILE is absent or \"-\".\n" +
		"Exit status: 0 success; 2 bad input (one line on standard error naming the\n" +
		"field and the accepted values); 1 anything else.\n")
	io.WriteString(w, b.String())
}

// inputError is bad input (exit 2): the JSON path of the offending field
// ("instance.intended_state", or "input" for the document as a whole) and
// what is wrong with it, which ends by saying what is accepted.
type inputError struct {
	Path string
	Msg  string
}

func (e *inputError) Error() string { return e.Path + ": " + e.Msg }

// badInput returns an *inputError whose message ends with the accepted
// values.
func badInput(path, problem, accepted string) *inputError {
	return &inputError{Path: path, Msg: problem + " (accepted: " + accepted + ")"}
}

// finish reports err for the command named name and returns the exit
// status: 2 and one line for bad input, 1 and one line for anything else.
func finish(stderr io.Writer, name string, err error) int {
	if err == nil {
		return exitOK
	}
	status := exitFailure
	var in *inputError
	if errors.As(err, &in) {
		status = exitBadInput
	}
	// One line, whatever the message holds (docs/cli.md: one line on stderr).
	line := strings.Join(strings.Fields(err.Error()), " ")
	fmt.Fprintf(stderr, "vmlife %s: %s\n", name, line)
	return status
}

// inputArg handles the arguments every JSON command takes: -h, at most one
// FILE ("-" for standard input), nothing else. It returns how to read the
// input, or ok false with the exit status after writing usage (-h) or an
// error.
func inputArg(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) (read func() ([]byte, error), status int, ok bool) {
	var file string
	for _, a := range args {
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			commandUsage(stdout, name)
			return nil, exitOK, false
		case a != "-" && strings.HasPrefix(a, "-"):
			return nil, finish(stderr, name, badInput("arguments", fmt.Sprintf("unknown flag %q", a), "-h, a FILE, - for standard input")), false
		case file != "":
			return nil, finish(stderr, name, badInput("arguments", fmt.Sprintf("a second FILE %q", a), "at most one FILE")), false
		}
		file = a
	}
	if file == "" || file == "-" {
		return func() ([]byte, error) { return io.ReadAll(stdin) }, exitOK, true
	}
	return func() ([]byte, error) { return os.ReadFile(file) }, exitOK, true
}

// jsonCommand is the shape of explain, report and classify: read one JSON
// document, compute one JSON object, write it.
func jsonCommand(name string, do func(input []byte) (any, error)) func([]string, io.Reader, io.Writer, io.Writer) int {
	return func(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		read, status, ok := inputArg(name, args, stdin, stdout, stderr)
		if !ok {
			return status
		}
		input, err := read()
		if err != nil {
			return finish(stderr, name, err)
		}
		out, err := do(input)
		if err != nil {
			return finish(stderr, name, err)
		}
		b, err := marshalOutput(out)
		if err != nil {
			return finish(stderr, name, err)
		}
		if _, err := stdout.Write(b); err != nil {
			return finish(stderr, name, err)
		}
		return exitOK
	}
}

// commandUsage writes one command's synopsis and what it does.
func commandUsage(w io.Writer, name string) {
	synopsis, what, _ := strings.Cut(commands[name].usage, "\t")
	fmt.Fprintf(w, "usage: vmlife %s\n\n%s\n", synopsis, strings.TrimSpace(what))
}

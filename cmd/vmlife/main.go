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
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vmlife/vmlife/wire"
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
		// Nothing to do is a usage error: a script that forgot the
		// command must not read as success.
		fmt.Fprintln(stderr, "vmlife: no command (accepted: "+strings.Join(commandNames(), ", ")+")")
		usage(stderr)
		return exitBadInput
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "--version":
		return runVersion(args[1:], stdin, stdout, stderr)
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
func commandNames() []string { return slices.Sorted(maps.Keys(commands)) }

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
	b.WriteString("\nvmlife help COMMAND prints a command's whole reference.\n" +
		"Input is read from FILE, or standard input when FILE is absent or \"-\".\n" +
		"Exit status: 0 success; 2 bad input (one line on standard error naming the\n" +
		"field and the accepted values); 1 anything else.\n")
	io.WriteString(w, b.String())
}

// badInput returns bad input (exit 2) as the library reports it: a
// *wire.DecodeError with the path of the offending field ("arguments",
// "--format", "instance.intended_state") and what it accepts.
func badInput(path, problem, accepted string) *wire.DecodeError {
	return &wire.DecodeError{Path: path, Problem: problem, Accepted: accepted}
}

// finish reports err for the command named name and returns the exit
// status: 2 and one line for bad input, 1 and one line for anything else.
func finish(stderr io.Writer, name string, err error) int {
	if err == nil {
		return exitOK
	}
	status := exitFailure
	if errors.Is(err, wire.ErrDecode) {
		status = exitBadInput
	}
	// One line, whatever the message holds (docs/cli.md: one line on
	// stderr), and nothing raw from the input: invalid UTF-8 and control
	// characters are shown escaped.
	line := strings.Join(strings.Fields(printable(err.Error())), " ")
	fmt.Fprintf(stderr, "vmlife %s: %s\n", name, line)
	return status
}

// printable escapes invalid UTF-8 and control characters (other than
// white space) in a message, so that input echoed in it cannot garble a
// terminal or a log.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unicode.IsControl(r) && r != '\n' && r != '\t':
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// The bound on one input document (D24), and the flag that raises it.
const (
	maxInputFlag   = "--max-input"
	maxInputLimit  = 1 << 30 // the flag's own bound: a gibibyte
	acceptMaxInput = "a number of bytes from 1 to 1073741824"
)

// inputArg handles the arguments every JSON command takes: -h, at most one
// FILE ("-" for standard input), --max-input BYTES (D24; 1 MiB by default),
// nothing else. It returns how to read the input, or ok false with the exit
// status after writing usage (-h) or an error. No FILE reads standard
// input; a file that cannot be opened is bad input (exit 2), with usage.
func inputArg(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) (read func() ([]byte, error), status int, ok bool) {
	var file string
	limit := int64(wire.MaxDocumentSize)
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			commandUsage(stdout, name)
			return nil, exitOK, false
		case a == maxInputFlag || strings.HasPrefix(a, maxInputFlag+"="):
			v, found := strings.CutPrefix(a, maxInputFlag+"=")
			if !found {
				if i+1 == len(args) {
					return nil, finish(stderr, name, badInput(maxInputFlag, "missing its value", acceptMaxInput)), false
				}
				i++
				v = args[i]
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || n > maxInputLimit {
				return nil, finish(stderr, name, badInput(maxInputFlag, strconv.Quote(v)+" is out of range", acceptMaxInput)), false
			}
			limit = n
			continue
		case a != "-" && strings.HasPrefix(a, "-"):
			return nil, finish(stderr, name, badInput("arguments", fmt.Sprintf("unknown flag %q", a), "-h, --max-input BYTES, a FILE, - for standard input")), false
		case file != "":
			return nil, finish(stderr, name, badInput("arguments", fmt.Sprintf("a second FILE %q", a), "at most one FILE")), false
		}
		file = a
	}
	if file == "" || file == "-" {
		return func() ([]byte, error) { return wire.ReadDocument(stdin, limit) }, exitOK, true
	}
	f, err := os.Open(file)
	if err != nil {
		status := finish(stderr, name, badInput("FILE", "cannot be read: "+err.Error(), "a readable file, or - for standard input"))
		commandUsage(stderr, name)
		return nil, status, false
	}
	return func() ([]byte, error) {
		defer f.Close()
		return wire.ReadDocument(f, limit)
	}, exitOK, true
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
	if _, err := reference.Open("help/" + name + ".md"); err == nil {
		fmt.Fprintf(w, "\nThe whole reference: vmlife help %s\n", name)
	}
}

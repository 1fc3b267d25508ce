package main

import (
	"embed"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// The reference of each command, as docs/cli.md gives it: one file a
// command, copied from that document's section (the one source both are
// written from) by `go test -update`, and checked against it by
// TestHelpIsTheReference, so an installed binary — which has no docs/ —
// prints exactly what the document says.
//
//go:embed help/*.md
var reference embed.FS

func init() {
	commands["help"] = command{
		run:   runHelp,
		usage: "help [COMMAND]\tthe reference of COMMAND (its section of docs/cli.md), or this summary",
	}
	commands["version"] = command{
		run:   runVersion,
		usage: "version\tthe version of this build (also --version)",
	}
}

// runHelp is `vmlife help [COMMAND]`.
func runHelp(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
	default:
		return finish(stderr, "help", badInput("arguments", fmt.Sprintf("%d arguments", len(args)), "at most one COMMAND: "+strings.Join(commandNames(), ", ")))
	}
	name := args[0]
	if _, ok := commands[name]; !ok {
		return finish(stderr, "help", badInput("COMMAND", fmt.Sprintf("unknown command %q", name), strings.Join(commandNames(), ", ")))
	}
	text, err := reference.ReadFile("help/" + name + ".md")
	if err != nil {
		// A command the document gives no section of its own (help,
		// version): its synopsis is its whole reference.
		commandUsage(stdout, name)
		return exitOK
	}
	_, err = stdout.Write(text)
	return finish(stderr, "help", err)
}

// runVersion is `vmlife version` and `vmlife --version`.
func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		return finish(stderr, "version", badInput("arguments", fmt.Sprintf("%d arguments", len(args)), "none"))
	}
	_, err := fmt.Fprintln(stdout, "vmlife "+version())
	return finish(stderr, "version", err)
}

// version is the command's module version as the go command recorded it
// in the binary: the tag a `go install …@VERSION` fetched, or "(devel)"
// for a build from a checkout.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" {
		return "(devel)"
	}
	return info.Main.Version
}

package wire_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vmlife/vmlife/wire"
)

func TestReadDocument(t *testing.T) {
	got, err := wire.ReadDocument(strings.NewReader("  {\"a\": 1}\n"), 0)
	if err != nil || string(got) != "{\"a\": 1}\n" {
		t.Fatalf("ReadDocument = %q, %v", got, err)
	}
	// Exactly at the bound is read; one byte past is refused.
	doc := "{" + strings.Repeat(" ", 8) + "}"
	if got, err := wire.ReadDocument(strings.NewReader(doc), int64(len(doc))); err != nil || string(got) != doc {
		t.Errorf("at the bound: %q, %v", got, err)
	}
	if _, err := wire.ReadDocument(strings.NewReader(doc), int64(len(doc)-1)); !errors.Is(err, wire.ErrTooLarge) || !errors.Is(err, wire.ErrDecode) {
		t.Errorf("one past the bound: %v, want ErrTooLarge", err)
	}
	for in, problem := range map[string]string{
		"":       "empty",
		" \n\t":  "empty",
		"[1]":    "want a JSON object, got '['",
		"\x00{}": "want a JSON object, got byte 0x0",
		"\xff":   "want a JSON object, got byte 0xff",
		"\v{}":   "want a JSON object, got byte 0xb",
		"null":   "want a JSON object, got 'n'",
	} {
		_, err := wire.ReadDocument(strings.NewReader(in), 0)
		var de *wire.DecodeError
		if !errors.As(err, &de) || de.Problem != problem || de.Path != "" {
			t.Errorf("ReadDocument(%q) = %v; want problem %q", in, err, problem)
		}
	}
	// A reader's own error is passed on as it is.
	boom := errors.New("boom")
	if _, err := wire.ReadDocument(io.MultiReader(strings.NewReader("{"), iotest.ErrReader(boom)), 0); !errors.Is(err, boom) {
		t.Errorf("reader error: %v", err)
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	e := &wire.DecodeError{Path: "instance.state", Problem: `unknown value "x"`, Accepted: "a, b"}
	if got := e.Error(); got != `instance.state: unknown value "x" (accepted: a, b)` {
		t.Errorf("Error() = %q", got)
	}
	if got := (&wire.DecodeError{Problem: "empty"}).Error(); got != "input: empty" {
		t.Errorf("Error() = %q", got)
	}
	if got := e.Within("report").Path; got != "report.instance.state" || e.Path != "instance.state" {
		t.Errorf("Within: %q (original now %q)", got, e.Path)
	}
	if got := (&wire.DecodeError{}).Within("report").Path; got != "report" {
		t.Errorf("Within of the document: %q", got)
	}
}

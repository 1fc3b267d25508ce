package wire

import (
	"errors"
	"strings"
)

// ErrDecode is matched by errors.Is for every *DecodeError.
var ErrDecode = errors.New("invalid JSON document")

// DecodeError reports what a JSON document got wrong, where, and what would
// have been accepted. Its message is one line:
//
//	instance.intended_state: unknown value "runing" (accepted: running, stopped, guest_shutdown, destroyed)
type DecodeError struct {
	// Path is the JSON path of the offending value, keys joined by dots
	// ("report.vmm_state.gen"); empty for the document as a whole, which
	// the message calls "input".
	Path string
	// Problem says what is wrong, as a phrase that reads after the path:
	// "missing", "unknown key", `unknown value "runing"`, "want a string,
	// got 3".
	Problem string
	// Value is the offending value as written (clipped to a few dozen
	// bytes); empty when the value is missing.
	Value string
	// Accepted says what the field accepts: a list of values, or a phrase.
	Accepted string
	// Err is the underlying error, if any (an unknown enum value's error,
	// a generation's range error), so errors.Is and errors.As see through.
	Err error
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	if e.Path == "" {
		b.WriteString("input")
	} else {
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Accepted != "" {
		b.WriteString(" (accepted: ")
		b.WriteString(e.Accepted)
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is ErrDecode.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Within returns a copy of e whose path is below prefix: the error of a
// nested document, seen from the document that holds it.
func (e *DecodeError) Within(prefix string) *DecodeError {
	c := *e
	c.Path = JoinPath(prefix, e.Path)
	return &c
}

// JoinPath appends a path (or key) to a JSON path.
func JoinPath(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	}
	return path + "." + key
}

package failure

import (
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/internal/jsonread"
	"github.com/vmlife/vmlife/wire"
)

// Cause says why an instance failed to start (D13). The zero
// value is invalid.
//
// A client that meets a cause it does not know should show the start
// failure's transient flag and message rather than reject the record.
type Cause uint8

// The causes, in D13's order.
const (
	// CauseInsufficientCapacity: no sled has enough free vCPUs and memory.
	CauseInsufficientCapacity Cause = iota + 1
	// CauseAffinityUnsatisfiable: the instance's affinity rules leave no
	// sled with room.
	CauseAffinityUnsatisfiable
	// CauseAntiAffinityUnsatisfiable: the instance's anti-affinity rules
	// leave no sled with room.
	CauseAntiAffinityUnsatisfiable
	// CauseLocalStorageUnavailable: no sled that holds the instance's local
	// storage can host it.
	CauseLocalStorageUnavailable
	// CauseSledAgentError: the sled-agent refused or failed the start.
	CauseSledAgentError
	// CauseVMMGone: the new VMM vanished from its sled while starting
	// (a sled-agent answered NO_SUCH_INSTANCE, D18).
	CauseVMMGone
	// CauseInternal: anything else, inside the control plane.
	CauseInternal
)

var causes = enum.New[Cause]("failure.Cause", false,
	"insufficient_capacity", "affinity_unsatisfiable", "anti_affinity_unsatisfiable",
	"local_storage_unavailable", "sled_agent_error", "vmm_gone", "internal")

// causeTable is the one table of what each cause means: whether a failure
// with this cause is transient by default, and the phrase for people.
//
// Transience decides whether the control plane retries on its own (D15).
// Placement can fail for want of capacity or local storage because sleds
// are down or busy, and a sled-agent error, a vanished VMM or an internal
// error may not recur: all transient. An affinity or anti-affinity system
// that cannot be satisfied stays unsatisfiable until a user changes it
// (D15): permanent, so it is not retried in a loop.
var causeTable = [...]struct {
	transient   bool
	description string
}{
	CauseInsufficientCapacity:      {true, "no sled has enough capacity"},
	CauseAffinityUnsatisfiable:     {false, "its affinity rules cannot be satisfied"},
	CauseAntiAffinityUnsatisfiable: {false, "its anti-affinity rules cannot be satisfied"},
	CauseLocalStorageUnavailable:   {true, "no sled holding its local storage can host it"},
	CauseSledAgentError:            {true, "the sled-agent returned an error"},
	CauseVMMGone:                   {true, "its VMM disappeared from the sled while starting"},
	CauseInternal:                  {true, "an internal error occurred"},
}

// AllCauses returns every valid Cause in declaration order.
func AllCauses() []Cause { return causes.All() }

// ParseCause returns the Cause whose wire string is s. The match is exact;
// an unknown string is an error listing the accepted ones.
func ParseCause(s string) (Cause, error) { return causes.Parse(s) }

// IsValid reports whether c is one of the seven causes.
func (c Cause) IsValid() bool { return causes.Valid(c) }

// String returns the wire string, or "failure.Cause(n)" for an invalid c.
func (c Cause) String() string { return causes.String(c) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (c Cause) GoString() string { return causes.GoString(c) }

// Transient reports whether a start failure with this cause is transient
// by default (see causeTable): every cause but an unsatisfiable affinity or
// anti-affinity system. False for an invalid c.
func (c Cause) Transient() bool { return c.IsValid() && causeTable[c].transient }

// Description returns a phrase for people ("no sled has enough
// capacity"); "" for an invalid c.
func (c Cause) Description() string {
	if !c.IsValid() {
		return ""
	}
	return causeTable[c].description
}

// AppendText implements encoding.TextAppender.
func (c Cause) AppendText(b []byte) ([]byte, error) { return causes.Append(b, c) }

// MarshalText implements encoding.TextMarshaler; JSON uses it too.
func (c Cause) MarshalText() ([]byte, error) { return causes.Append(nil, c) }

// UnmarshalText implements encoding.TextUnmarshaler; on error c is unchanged.
func (c *Cause) UnmarshalText(b []byte) error {
	v, err := causes.ParseBytes(b)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Scan implements sql.Scanner. NULL is an error: scan a nullable column into
// sql.Null[Cause]. On error c is unchanged.
func (c *Cause) Scan(src any) error {
	v, err := causes.Scan(src)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Value implements driver.Valuer.
func (c Cause) Value() (driver.Value, error) { return causes.Value(c) }

// StartReason says who asked for a start (§10.3). The zero value is invalid.
type StartReason uint8

// The start reasons, in §10.3's order.
const (
	// StartReasonUser: a user asked for the start.
	StartReasonUser StartReason = iota + 1
	// StartReasonAutoStart: the instance was created with "start": true.
	StartReasonAutoStart
	// StartReasonAutoRestart: the control plane restarted the instance on
	// its own (reincarnation, §17).
	StartReasonAutoRestart
)

var startReasons = enum.New[StartReason]("failure.StartReason", false, "user", "auto_start", "auto_restart")

// startPhrases opens a start failure's message, one per reason.
var startPhrases = [...]string{
	StartReasonUser:        "start failed",
	StartReasonAutoStart:   "automatic start after create failed",
	StartReasonAutoRestart: "automatic restart failed",
}

// AllStartReasons returns every valid StartReason in declaration order.
func AllStartReasons() []StartReason { return startReasons.All() }

// ParseStartReason returns the StartReason whose wire string is s. The match
// is exact; an unknown string is an error listing the accepted ones.
func ParseStartReason(s string) (StartReason, error) { return startReasons.Parse(s) }

// IsValid reports whether r is one of the three start reasons.
func (r StartReason) IsValid() bool { return startReasons.Valid(r) }

// String returns the wire string, or "failure.StartReason(n)" for an
// invalid r.
func (r StartReason) String() string { return startReasons.String(r) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (r StartReason) GoString() string { return startReasons.GoString(r) }

// AppendText implements encoding.TextAppender.
func (r StartReason) AppendText(b []byte) ([]byte, error) { return startReasons.Append(b, r) }

// MarshalText implements encoding.TextMarshaler; JSON uses it too.
func (r StartReason) MarshalText() ([]byte, error) { return startReasons.Append(nil, r) }

// UnmarshalText implements encoding.TextUnmarshaler; on error r is unchanged.
func (r *StartReason) UnmarshalText(b []byte) error {
	v, err := startReasons.ParseBytes(b)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Scan implements sql.Scanner. NULL is an error: scan a nullable column into
// sql.Null[StartReason]. On error r is unchanged.
func (r *StartReason) Scan(src any) error {
	v, err := startReasons.Scan(src)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Value implements driver.Valuer.
func (r StartReason) Value() (driver.Value, error) { return startReasons.Value(r) }

// StartFailure records why an instance's last start failed (D13), so that
// an instance that should be running but is not always says why. A
// successful start clears it.
//
// Its JSON form is exactly
//
//	{"cause":"insufficient_capacity","transient":true,"reason":"auto_restart","time":"2026-11-21T10:00:00Z"}
//
// with the keys in that order and the time in RFC 3339, written in UTC with
// as many fractional digits as it needs.
type StartFailure struct {
	// Cause says what went wrong.
	Cause Cause
	// Transient says whether retrying may succeed without a user acting
	// (D15). NewStartFailure sets it from Cause.Transient; a caller that
	// knows better may change it.
	Transient bool
	// Reason says who asked for the start.
	Reason StartReason
	// Time is when the start failed.
	Time time.Time
}

// NewStartFailure records a start, asked for by r, that failed at now with
// cause c, transient as c's default says. The time is kept in UTC without
// a monotonic clock reading, as the JSON form reads it back, so that a
// record survives a round trip unchanged (==).
func NewStartFailure(c Cause, r StartReason, now time.Time) StartFailure {
	return StartFailure{Cause: c, Transient: c.Transient(), Reason: r, Time: now.UTC()}
}

// ErrInvalidStartFailure is matched by errors.Is for every StartFailure
// that is invalid or cannot be decoded.
var ErrInvalidStartFailure = errors.New("invalid start failure")

// StartFailureError names the JSON field of a start failure that is
// invalid, its value and what the field accepts (D3). errors.As finds it;
// it matches ErrInvalidStartFailure and, through Err, an enum's
// ErrUnknown.
type StartFailureError struct {
	Field    string // the JSON key ("cause", "transient", "reason", "time"), an unknown key, or "" for the whole document
	Value    string // the offending value, as text
	Accepted string // what the field accepts
	Err      error  // the underlying error, if any
}

func (e *StartFailureError) Error() string {
	s := "invalid start failure: "
	if e.Field != "" {
		s += strconv.Quote(e.Field) + ": "
	}
	s += "got " + e.Value + " (accepted: " + e.Accepted + ")"
	// An unknown enum string's error, or the decode error this one was
	// made from, would only repeat what is said above.
	var (
		unknown *enum.Error
		decode  *wire.DecodeError
	)
	if e.Err != nil && !errors.As(e.Err, &unknown) && !errors.As(e.Err, &decode) {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrInvalidStartFailure.
func (e *StartFailureError) Is(target error) bool { return target == ErrInvalidStartFailure }

// Unwrap returns the underlying error, if any.
func (e *StartFailureError) Unwrap() error { return e.Err }

const acceptedTime = "an RFC 3339 time in years 0001..9999, not the zero time"

// Validate reports whether f can be recorded: a valid Cause and Reason and
// a non-zero time that RFC 3339 can write. Transient may disagree with
// Cause.Transient.
func (f StartFailure) Validate() error {
	switch {
	case !f.Cause.IsValid():
		return &StartFailureError{Field: "cause", Value: f.Cause.String(), Accepted: strings.Join(causes.Names(), ", ")}
	case !f.Reason.IsValid():
		return &StartFailureError{Field: "reason", Value: f.Reason.String(), Accepted: strings.Join(startReasons.Names(), ", ")}
	case f.Time.IsZero() || f.Time.UTC().Year() < 1 || f.Time.UTC().Year() > 9999:
		// RFC 3339 has four-digit years; the JSON form is written in UTC.
		return &StartFailureError{Field: "time", Value: f.Time.String(), Accepted: acceptedTime}
	}
	return nil
}

// Message returns a sentence for people, such as "automatic restart
// failed: no sled has enough capacity (transient; a retry may succeed)".
// It never panics: an invalid field is named by its String form.
func (f StartFailure) Message() string {
	if f.Reason.IsValid() && f.Cause.IsValid() {
		return messages[f.Reason][f.Cause][b2i(f.Transient)] // built once: no allocation
	}
	return message(f)
}

// message builds a start failure's sentence.
func message(f StartFailure) string {
	opening := "start failed"
	if f.Reason.IsValid() {
		opening = startPhrases[f.Reason]
	}
	what := f.Cause.Description()
	if what == "" {
		what = f.Cause.String()
	}
	// D15 retries a transient failure only when the auto-restart policy
	// allows, so the message promises no retry; a permanent one is never
	// retried until a user acts.
	kind := "(permanent; not retried until a user acts)"
	if f.Transient {
		kind = "(transient; a retry may succeed)"
	}
	return opening + ": " + what + " " + kind
}

// messages[reason][cause][transient] is every valid start failure's
// sentence, made once.
var messages = func() (m [4][8][2]string) {
	for _, r := range AllStartReasons() {
		for _, c := range AllCauses() {
			for t := range 2 {
				m[r][c][t] = message(StartFailure{Cause: c, Reason: r, Transient: t == 1})
			}
		}
	}
	return m
}()

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// MarshalJSON writes the JSON form documented on StartFailure. An invalid
// f (see Validate) is an error.
func (f StartFailure) MarshalJSON() ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"cause":"`...)
	b = append(b, causes.String(f.Cause)...)
	b = append(b, `","transient":`...)
	b = strconv.AppendBool(b, f.Transient)
	b = append(b, `,"reason":"`...)
	b = append(b, startReasons.String(f.Reason)...)
	b = append(b, `","time":"`...)
	b = f.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return b, nil
}

// UnmarshalJSON reads the JSON form documented on StartFailure, strictly:
// every key exactly once and no other, each of its JSON type, known enum
// strings, a non-zero RFC 3339 time (kept in UTC). Key order and
// whitespace are free. null is an error too: a nullable start failure is a
// *StartFailure. On error f is unchanged and the error is a
// *StartFailureError naming the field and what it accepts, which wraps the
// *wire.DecodeError of a malformed document.
func (f *StartFailure) UnmarshalJSON(b []byte) error {
	var d jsonread.Decoder
	d.Reset(b)
	var v StartFailure
	o := d.Object(startFailureKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			v.Cause = jsonread.Enum(&d, causes)
		case 1:
			v.Transient = d.Bool()
		case 2:
			v.Reason = jsonread.Enum(&d, startReasons)
		case 3:
			v.Time = d.Time()
		}
	}
	if err := d.End(); err != nil {
		var de *wire.DecodeError
		errors.As(err, &de)
		value := de.Value
		switch {
		case de.Problem == "missing":
			value = "nothing (the key is missing)"
		case value == "":
			value = de.Problem
		}
		return &StartFailureError{Field: de.Path, Value: value, Accepted: de.Accepted, Err: de}
	}
	if err := v.Validate(); err != nil {
		return err
	}
	*f = v
	return nil
}

// startFailureKeys are the keys of the JSON form, all required.
var startFailureKeys = jsonread.NewKeys(jsonread.Req("cause"), jsonread.Req("transient"), jsonread.Req("reason"), jsonread.Req("time")).
	Hint("cause", causes.Accepted()).Hint("transient", jsonread.AcceptBool).
	Hint("reason", startReasons.Accepted()).Hint("time", acceptedTime)

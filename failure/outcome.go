package failure

import (
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"

	"github.com/vmlife/vmlife/internal/enum"
)

// Communication says why a call to a sled-agent got no response at all
// (§11). The zero value is invalid: it means "a response arrived", which an
// Outcome says with its Status instead.
type Communication uint8

// The communication errors. Their wire strings are the ones the classify
// command reads ({"communication": "timeout"}).
const (
	// CommTimeout: the request timed out; the API answers 504 (§11).
	CommTimeout Communication = iota + 1
	// CommConnect: any other failure to talk to the sled-agent (refused
	// connection, reset, TLS failure); the API answers 502 (§11).
	CommConnect
)

var communications = enum.New[Communication]("failure.Communication", false, "timeout", "connect")

// AllCommunications returns every valid Communication in declaration order.
func AllCommunications() []Communication { return communications.All() }

// ParseCommunication returns the Communication whose wire string is s. The
// match is exact; an unknown string is an error listing the accepted ones.
func ParseCommunication(s string) (Communication, error) { return communications.Parse(s) }

// IsValid reports whether c is CommTimeout or CommConnect.
func (c Communication) IsValid() bool { return communications.Valid(c) }

// String returns the wire string, or "failure.Communication(n)" for an
// invalid c.
func (c Communication) String() string { return communications.String(c) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (c Communication) GoString() string { return communications.GoString(c) }

// AppendText implements encoding.TextAppender.
func (c Communication) AppendText(b []byte) ([]byte, error) { return communications.Append(b, c) }

// MarshalText implements encoding.TextMarshaler; JSON uses it too.
func (c Communication) MarshalText() ([]byte, error) { return communications.Append(nil, c) }

// UnmarshalText implements encoding.TextUnmarshaler; on error c is unchanged.
func (c *Communication) UnmarshalText(b []byte) error {
	v, err := communications.ParseBytes(b)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Scan implements sql.Scanner. NULL is an error: scan a nullable column into
// sql.Null[Communication]. On error c is unchanged.
func (c *Communication) Scan(src any) error {
	v, err := communications.Scan(src)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Value implements driver.Valuer.
func (c Communication) Value() (driver.Value, error) { return communications.Value(c) }

// ErrorCodeNoSuchInstance is the error_code a sled-agent puts on a 404 (the
// VMM is unknown) or a 410 (the VMM is terminating) (§3.4). Together with
// one of those statuses it is the only proof, from a call, that a VMM is
// gone (D18).
const ErrorCodeNoSuchInstance = "NO_SUCH_INSTANCE"

// MessageVMMGone is what the external API says, with status 503, when a
// sled-agent call proved the VMM gone (§11).
const MessageVMMGone = "The instance was running but is no longer reachable. It is being moved to the Failed state."

// Outcome is an error outcome of a call to a sled-agent: either an error
// response (Status, and maybe an ErrorCode) or no response at all
// (Communication). Exactly one of Status and Communication is set.
type Outcome struct {
	// Status is the HTTP status of the error response, in 400..599; 0 when
	// no response arrived.
	Status int
	// ErrorCode is the response's error_code; "" if it had none. It must be
	// "" when no response arrived.
	ErrorCode string
	// Communication says why no response arrived; zero when one did.
	Communication Communication
}

// Classification is what one sled-agent call outcome means (D18, §11):
// whether it proves the VMM dead, and what the external API answers.
type Classification struct {
	// VMMGone is true only for proof of death: the caller must mark the
	// VMM Failed(Reason). Nothing else ever sets it (D18).
	VMMGone bool
	// Reason is NoSuchInstance when VMMGone, and the zero (invalid) Reason
	// otherwise.
	Reason Reason
	// HTTPStatus is the status the external API answers the user with.
	HTTPStatus int
}

// Message returns the external API's message for an outcome that proved
// the VMM gone (MessageVMMGone), and "" otherwise: every other outcome
// passes the sled-agent's own message through (§11).
func (c Classification) Message() string {
	if c.VMMGone {
		return MessageVMMGone
	}
	return ""
}

// Classify says what a sled-agent call outcome means (D18, §11). A VMM is
// gone only when the sled-agent answered 404 or 410 with NO_SUCH_INSTANCE;
// every other outcome leaves the VMM's state alone and only picks the
// external status.
//
// An Outcome that is not one of the two shapes described on Outcome is an
// *OutcomeError matching ErrInvalidOutcome, with a zero Classification.
// Classify never allocates on success.
func Classify(o Outcome) (Classification, error) {
	if err := o.validate(); err != nil {
		return Classification{}, err
	}
	// The decision table of D18, in §11's order of checks. validate has made
	// Communication and Status mutually exclusive, so the order only matters
	// to a reader comparing it with §11.
	switch {
	case o.Communication == CommTimeout:
		return Classification{HTTPStatus: 504}, nil // §11: timeout → 504 Gateway Timeout
	case o.Communication == CommConnect:
		return Classification{HTTPStatus: 502}, nil // §11: other communication error → 502 Bad Gateway
	case (o.Status == 404 || o.Status == 410) && o.ErrorCode == ErrorCodeNoSuchInstance:
		// §11 vmm_gone, and D18: a 410 with NO_SUCH_INSTANCE (the VMM is
		// terminating, §3.4) is as dead as a 404; Omicron misses it.
		return Classification{VMMGone: true, Reason: NoSuchInstance, HTTPStatus: 503}, nil
	case o.Status == 503:
		return Classification{HTTPStatus: 503}, nil // §11: unavailable passes through
	case o.Status < 500:
		return Classification{HTTPStatus: 400}, nil // §11: any other 4xx → 400 invalid request
	default:
		return Classification{HTTPStatus: 500}, nil // §11: any other 5xx → 500 internal error
	}
}

// validate rejects every Outcome that is not exactly one of "an error
// response" and "no response" (D3: no silent defaults).
func (o Outcome) validate() error {
	switch {
	case o.Status != 0 && o.Communication != 0:
		return &OutcomeError{Field: "communication", Value: o.Communication.String(),
			Accepted: "unset when status is set, since a response arrived"}
	case o.Communication != 0:
		if !o.Communication.IsValid() {
			return &OutcomeError{Field: "communication", Value: o.Communication.String(),
				Accepted: strings.Join(communications.Names(), ", ")}
		}
		if o.ErrorCode != "" {
			return &OutcomeError{Field: "error_code", Value: strconv.Quote(o.ErrorCode),
				Accepted: `"" when no response arrived`}
		}
	case o.Status == 0:
		return &OutcomeError{Field: "status", Value: "0",
			Accepted: "an HTTP error status in 400..599 or, when no response arrived, a communication error: " +
				strings.Join(communications.Names(), ", ")}
	case o.Status < 400 || o.Status > 599:
		// A success or redirect is not an error outcome; anything outside
		// 100..599 is not an HTTP status at all.
		return &OutcomeError{Field: "status", Value: strconv.Itoa(o.Status),
			Accepted: "an HTTP error status in 400..599"}
	}
	return nil
}

// ErrInvalidOutcome is matched by errors.Is for every Outcome that Classify
// and every Check that CheckHealth cannot classify.
var ErrInvalidOutcome = errors.New("invalid sled-agent call outcome")

// OutcomeError names the field of an Outcome or Check that cannot be
// classified, its value and what is accepted there (D3). errors.As finds it;
// it matches ErrInvalidOutcome.
type OutcomeError struct {
	Field    string // "status", "error_code", "communication" or "power"
	Value    string // the offending value, as text
	Accepted string // what the field accepts
}

func (e *OutcomeError) Error() string {
	return "invalid sled-agent call outcome: " + e.Field + " " + e.Value + " (accepted: " + e.Accepted + ")"
}

// Is reports whether target is ErrInvalidOutcome.
func (e *OutcomeError) Is(target error) bool { return target == ErrInvalidOutcome }

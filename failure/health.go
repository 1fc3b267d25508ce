package failure

import (
	"database/sql/driver"
	"strconv"
	"strings"

	"github.com/vmlife/vmlife/internal/enum"
)

// PowerState is a sled's power state as the management network (MGS) sees
// it (§18). The zero value is invalid.
type PowerState uint8

// The power states. A0 is on; A1 and A2 are the powered-down states in
// which no VMM can be running.
const (
	// PowerA0: the sled is powered on.
	PowerA0 PowerState = iota + 1
	// PowerA1: the sled's host is off.
	PowerA1
	// PowerA2: the sled is off.
	PowerA2
	// PowerUnknown: the management network could not say (no inventory,
	// service processor missing, serial mismatch, no gateway answered).
	PowerUnknown
)

var powerStates = enum.New[PowerState]("failure.PowerState", false, "A0", "A1", "A2", "unknown")

// AllPowerStates returns every valid PowerState in declaration order.
func AllPowerStates() []PowerState { return powerStates.All() }

// ParsePowerState returns the PowerState whose wire string is s. The match
// is exact ("a0" is not A0); an unknown string is an error listing the
// accepted ones.
func ParsePowerState(s string) (PowerState, error) { return powerStates.Parse(s) }

// IsValid reports whether p is one of the four power states.
func (p PowerState) IsValid() bool { return powerStates.Valid(p) }

// String returns the wire string, or "failure.PowerState(n)" for an
// invalid p.
func (p PowerState) String() string { return powerStates.String(p) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (p PowerState) GoString() string { return powerStates.GoString(p) }

// AppendText implements encoding.TextAppender.
func (p PowerState) AppendText(b []byte) ([]byte, error) { return powerStates.Append(b, p) }

// MarshalText implements encoding.TextMarshaler; JSON uses it too.
func (p PowerState) MarshalText() ([]byte, error) { return powerStates.Append(nil, p) }

// UnmarshalText implements encoding.TextUnmarshaler; on error p is unchanged.
func (p *PowerState) UnmarshalText(b []byte) error {
	v, err := powerStates.ParseBytes(b)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Scan implements sql.Scanner. NULL is an error: scan a nullable column into
// sql.Null[PowerState]. On error p is unchanged.
func (p *PowerState) Scan(src any) error {
	v, err := powerStates.Scan(src)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Value implements driver.Valuer.
func (p PowerState) Value() (driver.Value, error) { return powerStates.Value(p) }

// Check is what the instance watcher learned about one VMM (§18).
type Check struct {
	// SledExpunged is set when the VMM's sled policy is expunged: the VMM
	// fails without the sled being contacted.
	SledExpunged bool
	// Err is the outcome of the state query; nil when it succeeded.
	Err *Outcome
	// Power is the sled's power state, consulted only when Err is a
	// communication error.
	Power PowerState
}

// The §18 labels of an incomplete check that are not an HTTP status.
const (
	// IncompleteUnreachable: the sled-agent did not answer and the sled
	// may be powered on (A0 or unknown power state).
	IncompleteUnreachable = "unreachable"
	// IncompleteClientError: the watcher's own client failed (it could not
	// build the request or decode the answer). Such a failure is not an
	// Outcome, so CheckHealth never returns it; a watcher records it
	// itself.
	IncompleteClientError = "client_error"
)

// Verdict is the result of one health check (§18). Exactly one of Healthy,
// Failed and Incomplete != "" holds.
type Verdict struct {
	// Healthy: the state query succeeded; apply the state the sled-agent
	// reported.
	Healthy bool
	// Failed: proof of death; mark the VMM Failed(Reason) (D18).
	Failed bool
	// Reason is set iff Failed.
	Reason Reason
	// Incomplete says, iff neither Healthy nor Failed, why the check told
	// nothing: IncompleteUnreachable, IncompleteClientError or the HTTP
	// status of an error response as text ("500"). The VMM's state is left
	// alone.
	Incomplete string
}

// Label returns the §18 metric reason label: "success", the failure
// reason's wire string, or the incomplete label.
func (v Verdict) Label() string {
	switch {
	case v.Healthy:
		return "success"
	case v.Failed:
		return v.Reason.String()
	}
	return v.Incomplete
}

// CheckHealth classifies one instance-watcher check (§18, D18). Only proof
// of death fails a VMM: an expunged sled, a sled-agent that says the VMM is
// gone (as Classify decides), or a sled-agent that does not answer while
// the management network says the sled is off (A1, A2). A silent sled that
// may be on (A0, unknown) is "unreachable", never a failure.
//
// Fields that the decision does not consult are not validated: Err when
// the sled is expunged, Power unless Err is a communication error. A field
// it does consult and cannot accept is an *OutcomeError matching
// ErrInvalidOutcome, with a zero Verdict. CheckHealth never allocates on
// success.
func CheckHealth(c Check) (Verdict, error) {
	// The decision table of §18, first matching row wins.
	if c.SledExpunged {
		// §18: sled policy expunged fails the VMM without contacting the
		// sled, whatever else is known.
		return Verdict{Failed: true, Reason: SledExpunged}, nil
	}
	if c.Err == nil {
		return Verdict{Healthy: true}, nil // §18: the query succeeded
	}
	cl, err := Classify(*c.Err)
	switch {
	case err != nil:
		return Verdict{}, err
	case cl.VMMGone:
		return Verdict{Failed: true, Reason: cl.Reason}, nil // §18 vmm_gone, D18 (incl. 410)
	case c.Err.Communication == 0:
		// §18: any other error response is incomplete, labelled with its
		// status.
		return Verdict{Incomplete: statusLabels[c.Err.Status-400]}, nil
	}
	// A communication error: the management network's view decides (§18).
	switch c.Power {
	case PowerA1, PowerA2:
		return Verdict{Failed: true, Reason: SledOff}, nil
	case PowerA0, PowerUnknown:
		return Verdict{Incomplete: IncompleteUnreachable}, nil // D18: never a failure
	}
	return Verdict{}, &OutcomeError{Field: "power", Value: c.Power.String(),
		Accepted: strings.Join(powerStates.Names(), ", ")}
}

// statusLabels holds the text of every error status Classify accepts, so
// that labelling an incomplete check does not allocate.
var statusLabels = func() (l [600 - 400]string) {
	for i := range l {
		l[i] = strconv.Itoa(400 + i)
	}
	return l
}()

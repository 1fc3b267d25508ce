package instancestate

import (
	"fmt"
	"time"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/vmmstate"
)

// Request is a user's request to change an instance (§10).
type Request uint8

// The requests.
const (
	RequestStart Request = iota + 1
	RequestStop
	RequestReboot
	RequestMigrate
	RequestDelete
)

var requests = enum.New[Request]("instancestate.Request", false, "start", "stop", "reboot", "migrate", "delete")

// AllRequests returns the five requests in declaration order.
func AllRequests() []Request { return requests.All() }

// ParseRequest returns the request named s.
func ParseRequest(s string) (Request, error) { return requests.Parse(s) }

// IsValid reports whether r is one of the five requests.
func (r Request) IsValid() bool { return requests.Valid(r) }

// String returns "start", "stop", … or "instancestate.Request(n)".
func (r Request) String() string { return requests.String(r) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (r Request) GoString() string { return requests.GoString(r) }

// MarshalText implements encoding.TextMarshaler.
func (r Request) MarshalText() ([]byte, error) { return requests.Append(nil, r) }

// UnmarshalText implements encoding.TextUnmarshaler; on error r is unchanged.
func (r *Request) UnmarshalText(b []byte) error { return unmarshal(requests, r, b) }

// AppendText implements encoding.TextAppender.
func (r Request) AppendText(b []byte) ([]byte, error) { return requests.Append(b, r) }

// Action is what the control plane does with a request (§10).
type Action uint8

// The actions.
const (
	ActionAlreadyDone   Action = iota + 1 // nothing to do: the instance is already there
	ActionStartSaga                       // run the instance-start saga (§14)
	ActionSendToSled                      // ask the active VMM's sled-agent for SledRequest (§10.2)
	ActionUpdateRuntime                   // write Decision.Runtime with the generation guard (§10.2)
	ActionMigrateSaga                     // run the instance-migrate saga (§15)
	ActionDeleteSaga                      // run the instance-delete saga (§10.6)
	ActionReject                          // refuse with Decision.Status and Decision.Message
)

var actions = enum.New[Action]("instancestate.Action", false,
	"already_done", "start_saga", "send_to_sled", "update_runtime", "migrate_saga", "delete_saga", "reject")

// AllActions returns the seven actions in declaration order.
func AllActions() []Action { return actions.All() }

// IsValid reports whether a is one of the seven actions.
func (a Action) IsValid() bool { return actions.Valid(a) }

// String returns the wire string, or "instancestate.Action(n)".
func (a Action) String() string { return actions.String(a) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (a Action) GoString() string { return actions.GoString(a) }

// MarshalText implements encoding.TextMarshaler.
func (a Action) MarshalText() ([]byte, error) { return actions.Append(nil, a) }

// UnmarshalText implements encoding.TextUnmarshaler; on error a is unchanged.
func (a *Action) UnmarshalText(b []byte) error { return unmarshal(actions, a, b) }

// AppendText implements encoding.TextAppender.
func (a Action) AppendText(b []byte) ([]byte, error) { return actions.Append(b, a) }

// SledRequest is the state a sled-agent is asked for (§3.2's
// VmmStateRequested). The zero value is invalid.
type SledRequest uint8

// The requested states.
const (
	SledRequestRunning SledRequest = iota + 1
	SledRequestStopped
	SledRequestReboot
	SledRequestMigrationTarget
)

var sledRequests = enum.New[SledRequest]("instancestate.SledRequest", false,
	"running", "stopped", "reboot", "migration_target")

// AllSledRequests returns the four requested states in declaration order.
func AllSledRequests() []SledRequest { return sledRequests.All() }

// IsValid reports whether r is one of the four requested states.
func (r SledRequest) IsValid() bool { return sledRequests.Valid(r) }

// String returns the wire string, or "instancestate.SledRequest(n)".
func (r SledRequest) String() string { return sledRequests.String(r) }

// GoString implements fmt.GoStringer: the wire string, quoted, for %#v.
func (r SledRequest) GoString() string { return sledRequests.GoString(r) }

// MarshalText implements encoding.TextMarshaler.
func (r SledRequest) MarshalText() ([]byte, error) { return sledRequests.Append(nil, r) }

// AppendText implements encoding.TextAppender.
func (r SledRequest) AppendText(b []byte) ([]byte, error) { return sledRequests.Append(b, r) }

// UnmarshalText implements encoding.TextUnmarshaler; on error r is unchanged.
func (r *SledRequest) UnmarshalText(b []byte) error { return unmarshal(sledRequests, r, b) }

// Decision is the answer to a request (§10, D10, D16).
type Decision struct {
	Action  Action
	Status  int    // the HTTP status the API answers: 200 when accepted
	Message string // why, when rejected
	// SledRequest is what to ask the sled-agent for (ActionSendToSled).
	SledRequest SledRequest
	// Runtime is the instance runtime to write (ActionUpdateRuntime).
	Runtime Runtime
	// Intent is the intended state to write, set only when the request is
	// accepted (D16); IntentUnchanged when the request is rejected or
	// changes no intent.
	Intent IntendedState
}

// Accepted reports whether the request is accepted (status 200).
func (d Decision) Accepted() bool { return d.Action != ActionReject }

func reject(status int, format string, args ...any) Decision {
	return Decision{Action: ActionReject, Status: status, Message: fmt.Sprintf(format, args...)}
}

func accept(a Action, intent IntendedState) Decision {
	return Decision{Action: a, Status: 200, Intent: intent}
}

// Decide answers a user's request against a snapshot (§10.2–§10.6 as amended
// by D10 and D16). It validates the snapshot first (D17); the error is only
// ever about the snapshot or an invalid request — a refusal is a Decision
// with ActionReject. For RequestMigrate it makes every check but the
// destination's: see DecideMigrate.
func Decide(s Snapshot, r Request, now time.Time) (Decision, error) {
	if !r.IsValid() {
		return Decision{}, &RuleError{Rule: "request is one of start, stop, reboot, migrate, delete", Field: "request", Detail: r.String()}
	}
	if err := s.validate(); err != nil {
		return Decision{}, err
	}
	if s.Instance.Runtime.State == NexusDestroyed {
		return s.notFound(), nil
	}
	switch r {
	case RequestStart:
		return s.decideStart(), nil
	case RequestStop:
		return s.decideStop(now)
	case RequestReboot:
		return s.decideReboot(), nil
	case RequestMigrate:
		return s.decideMigrate(vmmstate.SledID{}), nil
	default:
		return s.decideDelete(), nil
	}
}

// DecideMigrate answers a request to migrate the instance to the sled dest
// (§10.5): the checks of Decide plus "not already on that sled".
func DecideMigrate(s Snapshot, dest vmmstate.SledID) (Decision, error) {
	if err := s.validate(); err != nil {
		return Decision{}, err
	}
	if s.Instance.Runtime.State == NexusDestroyed {
		return s.notFound(), nil
	}
	return s.decideMigrate(dest), nil
}

// notFound is D23's answer to every request on a deleted instance.
func (s *Snapshot) notFound() Decision { return NotFound(s.Instance.ID) }

// NotFound is D23's answer to every request on an instance that does not
// exist or was deleted: rejected with 404, as Omicron's API answers for a
// record it no longer finds. Decide gives it for a snapshot of a deleted
// instance; a caller whose store finds no instance at all gives it
// itself.
func NotFound(id ID) Decision {
	return reject(404, "not found: instance with id %q", id.String())
}

// residentVMM reports whether the instance has an active VMM that requests
// can be sent to. A saga_unwound active VMM is not one: it reads as stopped
// and is treated as no VMM (D10).
func (s *Snapshot) residentVMM() bool {
	return s.hasActive() && s.Active.Runtime.State != vmmstate.SagaUnwound
}

// decideStart is §10.3 with D10 and D16.
func (s *Snapshot) decideStart() Decision {
	switch e := s.effective(); e {
	case Starting, Running, Rebooting, Migrating:
		return accept(ActionAlreadyDone, IntendRunning)
	case Stopped, Failed:
		if s.residentVMM() {
			return reject(500, "instance is %v but still has an active VMM", e)
		}
		return accept(ActionStartSaga, IntendRunning) // D10: a saga_unwound VMM is replaced
	case Stopping:
		return reject(409, "instance must finish stopping before it can be started")
	default: // creating, destroyed, repairing
		return reject(409, "instance is in state %v but it must be stopped to be started", e)
	}
}

// noVMMRefusal is §10.2 case A's shared rows: what any request but the
// state's own no-op gets when the instance has no VMM to ask.
func noVMMRefusal(e State, verb string) Decision {
	switch e {
	case Stopped:
		return reject(400, "cannot %s an instance in state stopped with no VMM", verb)
	case Creating:
		return reject(400, "cannot change instance state while it is still being created")
	case Failed, Destroyed:
		return reject(400, "instance state cannot be changed from %v", e)
	default:
		return reject(500, "instance is active but not resident on a sled")
	}
}

// decideStop is §10.2 for Stop, with D10: a saga_unwound active VMM already
// reads stopped, so stopping it is already done (the update plan unlinks
// it, D11).
func (s *Snapshot) decideStop(now time.Time) (Decision, error) {
	e := s.effective()
	if s.residentVMM() {
		return s.toSled(e, SledRequestStopped, IntendStopped), nil
	}
	switch e {
	case Stopped:
		return accept(ActionAlreadyDone, IntendStopped), nil
	case Failed:
		// §10.2: stopping a failed instance moves it to no_vmm.
		rt, err := s.Instance.Runtime.next(now)
		if err != nil {
			return Decision{}, overflowed("state_generation", err)
		}
		rt.State = NexusNoVMM
		d := accept(ActionUpdateRuntime, IntendStopped)
		d.Runtime = rt
		return d, nil
	}
	return noVMMRefusal(e, "stop"), nil
}

// decideReboot is §10.2 for Reboot, with D10 (a saga_unwound VMM is no VMM)
// and D23: a VMM from whose state no edge leads to rebooting (stopping,
// stopped, failed, destroyed — D7) can only refuse, so vmlife refuses it
// itself, with the API's 400, instead of sending it to the sled-agent.
func (s *Snapshot) decideReboot() Decision {
	e := s.effective()
	if s.residentVMM() {
		if st := s.Active.Runtime.State; st != vmmstate.Rebooting && !vmmstate.CanTransition(st.Kind(), vmmstate.KindRebooting) {
			if d := s.toSled(e, SledRequestReboot, IntendRunning); !d.Accepted() {
				return d // §10.2's own refusal comes first
			}
			return reject(400, "cannot reboot an instance whose VMM is %v", st.Kind())
		}
		return s.toSled(e, SledRequestReboot, IntendRunning)
	}
	return noVMMRefusal(e, "reboot")
}

// toSled is §10.2 case B: forward to the active VMM's sled unless the
// instance reads failed, destroyed or repairing.
func (s *Snapshot) toSled(e State, req SledRequest, intent IntendedState) Decision {
	switch e {
	case Repairing, Failed, Destroyed:
		return reject(400, "instance state cannot be changed from state %q", e.String())
	}
	d := accept(ActionSendToSled, intent)
	d.SledRequest = req
	return d
}

// decideMigrate is §10.5 (the API's checks, in its order; local storage is
// outside vmlife's records), then D35's limits of migrations in flight.
// Migrating writes no intent.
func (s *Snapshot) decideMigrate(dest vmmstate.SledID) Decision {
	switch {
	case !s.residentVMM() || s.Active.Runtime.State != vmmstate.Running:
		return reject(400, "instance must be running before it can migrate")
	case !dest.IsZero() && s.Active.SledID == dest:
		return reject(400, "instance is already running on destination sled")
	case !s.Instance.Runtime.MigrationID.IsZero():
		return reject(409, "instance is already migrating")
	}
	if d, limited := s.migrationLimited(); limited {
		return d // D35
	}
	return accept(ActionMigrateSaga, 0)
}

// decideDelete is §10.6 and §8.1's deletion rule, with D10: an instance with
// a linked saga_unwound VMM can be deleted once the update plan unlinks it.
func (s *Snapshot) decideDelete() Decision {
	rt := s.Instance.Runtime
	switch {
	case rt.State == NexusDestroyed:
		return accept(ActionAlreadyDone, IntendDestroyed) // §8.1: deleting is idempotent
	case !rt.ActiveVMM.IsZero():
		return reject(400, "cannot delete instance: instance is running or has not yet fully stopped")
	case rt.State == NexusNoVMM || rt.State == NexusFailed:
		return accept(ActionDeleteSaga, IntendDestroyed)
	}
	return reject(400, "instance cannot be deleted in state %q", s.effective().String())
}

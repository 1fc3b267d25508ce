package controlplane

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// The reactions' names, as Stats counts them.
const (
	ReactionRequest = "request"  // Request
	ReactionMigrate = "migrate"  // Migrate
	ReactionCreate  = "create"   // Create
	ReactionReport  = "report"   // Report
	ReactionGone    = "vmm_gone" // VMMGone
)

// Outcome is what a user's request decided and did.
type Outcome struct {
	// Decision is the library's answer (§10, D16, D23): its Status is
	// what the API answers.
	Decision instancestate.Decision
	// Intent is the intended state written, or IntentUnchanged.
	Intent instancestate.IntendedState
	// Saga is how the saga the decision named was left; its Saga id is
	// zero when the decision ran none.
	Saga sagas.Durable
	// Report is what the sled-agent's answer wrote, when the decision
	// sent the request to the VMM's sled (ActionSendToSled).
	Report datastore.SledReportResult
}

// Request carries out a user's request to start, stop, reboot or delete
// instance id: decided on the instance as Snapshot reads it
// (instancestate.Decide), the intent of an accepted request written with
// the decision's write (datastore.RecordDecision, D16, D25), then what
// the decision names — a
// start or delete saga run to rest, or the request sent to the active
// VMM's sled-agent and its answer recorded — and the updates and restarts
// those ask for. A migration names its destination: use Migrate.
//
// A request the decision refuses is an Outcome with its status, and no
// error; the error is for a store or a sled-agent that failed, or a
// cancelled context.
func (cp *ControlPlane) Request(ctx context.Context, id instancestate.ID, r instancestate.Request) (Outcome, error) {
	if r == instancestate.RequestMigrate || !r.IsValid() {
		return Outcome{}, fmt.Errorf("controlplane: Request: request %v (accepted: start, stop, reboot, delete; a migration is Migrate)", r)
	}
	cp.count(ReactionRequest, func(c *Counters) { c.Passes++ })
	snap, err := cp.Snapshot(ctx, id)
	if errors.Is(err, datastore.ErrNotFound) {
		return Outcome{Decision: instancestate.NotFound(id)}, nil
	}
	if err != nil {
		cp.failed(ctx, ReactionRequest, "fetch the instance", err)
		return Outcome{}, err
	}
	d, err := instancestate.Decide(snap, r, cp.cfg.Now())
	if err != nil {
		cp.failed(ctx, ReactionRequest, "decide "+r.String(), err)
		return Outcome{}, err
	}
	rr, err := datastore.RecordDecision(ctx, cp.cfg.Store, id, d)
	if err != nil {
		cp.failed(ctx, ReactionRequest, "record the decision", err)
		return Outcome{}, err
	}
	out := Outcome{Decision: rr.Decision, Intent: rr.Intent}
	if !rr.Decision.Accepted() {
		return out, nil
	}
	var s sagas.Saga
	switch rr.Decision.Action {
	case instancestate.ActionStartSaga:
		s = &sagas.Start{Instance: id, Reason: failure.StartReasonUser}
	case instancestate.ActionDeleteSaga:
		s = &sagas.Delete{Instance: id}
	case instancestate.ActionSendToSled:
		out.Report, err = cp.sendToSled(ctx, ReactionRequest, snap.Active, rr.Decision.SledRequest)
		if err != nil {
			cp.failed(ctx, ReactionRequest, "send "+rr.Decision.SledRequest.String()+" to the sled", err)
		}
		cp.followUps(ctx, ReactionRequest, nil, 0, nil)
		return out, err
	default:
		return out, nil // already done, or the runtime written with the intent
	}
	out.Saga, err = cp.begin(ctx, ReactionRequest, s)
	return out, err
}

// Migrate carries out a user's request to move instance id to sled dest
// (§10.5, §15): decided by instancestate.DecideMigrate, what it writes
// written (datastore.RecordDecision), then the migrate saga run to rest —
// and, when it unwound, the update saga that clears what it left linked. The migration itself goes on on the sleds after the
// saga: their reports, through Report, record how it ends.
func (cp *ControlPlane) Migrate(ctx context.Context, id instancestate.ID, dest vmmstate.SledID) (Outcome, error) {
	if dest.IsZero() {
		return Outcome{}, errors.New("controlplane: Migrate: the destination sled is the nil UUID (accepted: a sled id)")
	}
	cp.count(ReactionMigrate, func(c *Counters) { c.Passes++ })
	snap, err := cp.Snapshot(ctx, id)
	if errors.Is(err, datastore.ErrNotFound) {
		return Outcome{Decision: instancestate.NotFound(id)}, nil
	}
	if err != nil {
		cp.failed(ctx, ReactionMigrate, "fetch the instance", err)
		return Outcome{}, err
	}
	d, err := instancestate.DecideMigrate(snap, dest)
	if err != nil {
		return Outcome{}, err
	}
	rr, err := datastore.RecordDecision(ctx, cp.cfg.Store, id, d)
	if err != nil {
		cp.failed(ctx, ReactionMigrate, "record the decision", err)
		return Outcome{}, err
	}
	out := Outcome{Decision: rr.Decision, Intent: rr.Intent}
	if rr.Decision.Action != instancestate.ActionMigrateSaga {
		return out, nil
	}
	// A migration that unwinds leaves its target and migration linked
	// (§15): the update that clears them (D11) follows it (after).
	s := &sagas.Migrate{Instance: id, Source: snap.Instance.Runtime.ActiveVMM, Destination: dest}
	out.Saga, err = cp.begin(ctx, ReactionMigrate, s)
	return out, err
}

// Create carries out a user's request to create an instance (§16): in, as
// instancestate.New makes it, is inserted by the create saga; an instance
// created to run is then started, with reason auto_start, by a start saga
// of its own — a start that fails does not fail the create. The Outcome's
// Saga is the create saga's.
func (cp *ControlPlane) Create(ctx context.Context, in instancestate.Instance) (Outcome, error) {
	cp.count(ReactionCreate, func(c *Counters) { c.Passes++ })
	s := &sagas.Create{Instance: in}
	d, err := cp.begin(ctx, ReactionCreate, s)
	out := Outcome{Saga: d, Intent: in.IntendedState}
	if err == nil && (cp.cfg.Runner != nil || d.Outcome == sagas.Completed) {
		out.Decision = instancestate.Decision{Action: instancestate.ActionAlreadyDone, Status: 201}
	}
	return out, err
}

// Report takes a sled-agent's report about VMM id (§12): recorded with
// sagas.RecordReport — a side naming a deleted migration recorded without
// it, a report the records moved past written nowhere — and, when the
// records ask for it, the instance's update saga run with what it asks
// for next.
func (cp *ControlPlane) Report(ctx context.Context, id vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	cp.count(ReactionReport, func(c *Counters) { c.Passes++ })
	res, err := cp.record(ctx, id, r)
	if err != nil {
		cp.failed(ctx, ReactionReport, "record a report on VMM "+id.String(), err)
		return res, err
	}
	cp.followUps(ctx, ReactionReport, nil, 0, nil)
	return res, nil
}

// VMMGone takes a proof that VMM id is dead (D18: its sled-agent said so,
// or its sled is off or expunged): the VMM is failed with reason
// (sagas.RecordDeath, keeping a first cause, D6) and its instance's update
// saga run, whether or not the write changed the row (§11).
func (cp *ControlPlane) VMMGone(ctx context.Context, id vmmstate.ID, reason failure.Reason) (datastore.Result, error) {
	if !reason.IsValid() {
		return datastore.Result{}, fmt.Errorf("controlplane: VMMGone: reason %d (accepted: %v)", reason, failure.AllReasons())
	}
	cp.count(ReactionGone, func(c *Counters) { c.Passes++ })
	var instance instancestate.ID
	row, err := cp.cfg.Store.VMMFetch(ctx, id)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
	case err != nil:
		cp.failed(ctx, ReactionGone, "fetch VMM "+id.String(), err)
		return datastore.Result{}, err
	default:
		instance = row.VMM.InstanceID
	}
	res, err := cp.death(ctx, ReactionGone, id, instance, reason)
	if err != nil {
		cp.failed(ctx, ReactionGone, "fail VMM "+id.String(), err)
		return res, err
	}
	cp.followUps(ctx, ReactionGone, nil, 0, nil)
	return res, nil
}

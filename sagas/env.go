package sagas

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Env is what sagas run against: the records, the sled-agents, the sleds'
// room, the time and a source of ids. Every field but UpdateNeeded is
// required.
type Env struct {
	Store datastore.Store
	Agent SledAgent
	Sleds Sleds
	// Now is the time a step stamps on what it writes (D1: injected, so a
	// simulation runs on simulated time).
	Now func() time.Time
	// NewID returns a fresh id for a VMM, a migration or an updater. A saga
	// asks for an id once and keeps it, so a step run again reuses it.
	NewID func() uuid.UUID
	// UpdateNeeded, when set, is told about an instance whose records a
	// step changed in a way that needs an instance-update saga (§12: a
	// report with update_saga_needed; §11: a VMM marked failed). The
	// caller runs that saga; a step never starts one itself.
	UpdateNeeded func(instancestate.ID)
}

func (e *Env) check() error {
	switch {
	case e == nil:
		return errors.New("sagas: nil Env")
	case e.Store == nil:
		return errors.New("sagas: Env.Store is nil")
	case e.Agent == nil:
		return errors.New("sagas: Env.Agent is nil")
	case e.Sleds == nil:
		return errors.New("sagas: Env.Sleds is nil")
	case e.Now == nil:
		return errors.New("sagas: Env.Now is nil")
	case e.NewID == nil:
		return errors.New("sagas: Env.NewID is nil")
	}
	return nil
}

func (e *Env) updateNeeded(id instancestate.ID) {
	if e.UpdateNeeded != nil {
		e.UpdateNeeded(id)
	}
}

// SledAgent is the control plane's client of the sled-agents (§3, §11).
// A call that gets an error response, or none, returns an *AgentError
// carrying the outcome, which the sagas classify (D18); any other error is
// the client's own.
type SledAgent interface {
	// Register registers VMM v with the agent of its sled and asks it to
	// run: as a fresh start when mig is zero, or as the target of
	// migration mig (§14, §15). The answer is the VMM's state as the agent
	// holds it. Registering a VMM already registered answers its state
	// and changes nothing.
	Register(ctx context.Context, v vmmstate.VMM, mig migration.ID) (instancestate.Report, error)
	// Migrate asks target, registered as the target of mig, to pull the
	// guest from src (§15, §10.2).
	Migrate(ctx context.Context, target, src vmmstate.VMM, mig migration.ID) error
	// Unregister asks the agent of v's sled to forget v, stopping it; the
	// answer carries the VMM's last state (§3.2). A VMM the agent does not
	// hold is an *AgentError with error code NO_SUCH_INSTANCE.
	Unregister(ctx context.Context, v vmmstate.VMM) (instancestate.Report, error)
}

// AgentError is a sled-agent call's error outcome: a response with an
// error status, or no response.
type AgentError struct {
	Outcome failure.Outcome
}

// Error says what the sled-agent answered: its status and error code, or
// why no answer came.
func (e *AgentError) Error() string {
	if e.Outcome.Status == 0 {
		return fmt.Sprintf("sled-agent: no response (%v)", e.Outcome.Communication)
	}
	if e.Outcome.ErrorCode != "" {
		return fmt.Sprintf("sled-agent: %d %s", e.Outcome.Status, e.Outcome.ErrorCode)
	}
	return fmt.Sprintf("sled-agent: %d", e.Outcome.Status)
}

// Sleds keeps the sleds' room for VMMs (Omicron's sled_resource_vmm):
// each reservation is one VMM's, of one instance, on one sled. Every
// method is idempotent for the same VMM.
type Sleds interface {
	// Reserve reserves room for VMM vmm of an instance on a sled the
	// instance may run on (§14 ALLOC_SERVER) and returns the sled. When
	// none has room it returns a *PlacementError.
	Reserve(ctx context.Context, instance instancestate.ID, vmm vmmstate.ID) (vmmstate.SledID, error)
	// ReserveOn reserves room for VMM vmm of an instance on sled (§15's
	// destination), or returns a *PlacementError.
	ReserveOn(ctx context.Context, instance instancestate.ID, sled vmmstate.SledID, vmm vmmstate.ID) error
	// Release releases vmm's room; releasing what is not held is no error.
	Release(ctx context.Context, vmm vmmstate.ID) error
}

// PlacementError is a reservation that found no room: Cause says why, as
// the start failure records it (D13).
type PlacementError struct {
	Cause failure.Cause
}

// Error names the cause.
func (e *PlacementError) Error() string { return "no sled has room: " + e.Cause.String() }

// classify reads a sled-agent call's error: whether it proves the VMM gone
// (§11, D18) and, for a start, the cause a failure records.
func classify(err error) (gone bool, reason failure.Reason, cause failure.Cause) {
	var ae *AgentError
	if !errors.As(err, &ae) {
		return false, 0, failure.CauseInternal
	}
	cl, cerr := failure.Classify(ae.Outcome)
	switch {
	case cerr != nil:
		return false, 0, failure.CauseInternal
	case cl.VMMGone:
		return true, cl.Reason, failure.CauseVMMGone
	}
	return false, 0, failure.CauseSledAgentError
}

// RecordReport records a sled-agent's report about VMM id (§12,
// process_vmm_update): pushed by the agent, returned by a saga's call, or
// read by the instance watcher — the one home of this write (D31), which
// every driver calls. The store writes the VMM and each migration side in
// one transaction. A side naming a migration deleted with its instance
// (§8.2: gone) does not lose the rest: the VMM's own state is still the
// agent's word, and is recorded alone. A report the records have moved
// past — an edge D7 has not, a terminal state left, a deleted migration —
// writes nothing and is no error: its VMM result is not applied, stale.
// UpdateSagaNeeded says when the caller runs an update saga (§12 step 2).
func RecordReport(ctx context.Context, st datastore.VMMWrites, id vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	res, err := st.SledReport(ctx, id, r)
	if errors.Is(err, datastore.ErrGone) && (r.MigrationIn != nil || r.MigrationOut != nil) {
		res, err = st.SledReport(ctx, id, instancestate.Report{VMM: r.VMM})
	}
	switch {
	case errors.Is(err, datastore.ErrIllegalTransition), errors.Is(err, datastore.ErrTerminal), errors.Is(err, datastore.ErrGone):
		return datastore.SledReportResult{VMM: datastore.Result{Reason: datastore.ReasonStale}}, nil
	case err != nil:
		return datastore.SledReportResult{}, err
	}
	return res, nil
}

// RecordDeath is §11's mark_vmm_failed, the one home of this write (D31):
// VMM id, proved gone (D18), is marked failed with reason. A VMM already
// terminal keeps its first cause (D6) and a missing one has nothing to
// mark: neither is an error. Whether or not the write changed the row, the
// caller runs an update saga for the VMM's instance.
func RecordDeath(ctx context.Context, st datastore.VMMWrites, id vmmstate.ID, reason failure.Reason, now time.Time) (datastore.Result, error) {
	res, err := st.VMMMarkFailed(ctx, id, reason, now)
	switch {
	case errors.Is(err, datastore.ErrTerminal):
		return datastore.Result{Reason: datastore.ReasonUnchanged}, nil
	case errors.Is(err, datastore.ErrNotFound):
		return datastore.Result{Reason: datastore.ReasonDeleted}, nil
	}
	return res, err
}

// applyReport records an answer of a sled-agent's call (RecordReport) and
// tells the caller when the instance needs an update saga.
func applyReport(ctx context.Context, env *Env, instance instancestate.ID, id vmmstate.ID, r instancestate.Report) error {
	res, err := RecordReport(ctx, env.Store, id, r)
	if err != nil {
		return err
	}
	if res.UpdateSagaNeeded {
		env.updateNeeded(instance)
	}
	return nil
}

// markFailed records a proof of death (RecordDeath) and asks for an
// update saga whether or not the write changed the row.
func markFailed(ctx context.Context, env *Env, instance instancestate.ID, id vmmstate.ID, reason failure.Reason) error {
	if _, err := RecordDeath(ctx, env.Store, id, reason, env.Now()); err != nil {
		return err
	}
	env.updateNeeded(instance)
	return nil
}

// unregister is the undo both sagas use for a registered VMM (§14, §15): the
// agent's answer is recorded; a VMM the agent proves gone is marked failed
// and the undo fails, stopping the unwind; another sled-agent error is
// taken as "already unregistered".
func unregister(ctx context.Context, env *Env, instance instancestate.ID, id vmmstate.ID) error {
	row, err := env.Store.VMMFetch(ctx, id)
	if err != nil {
		return err
	}
	r, err := env.Agent.Unregister(ctx, row.VMM)
	if err == nil {
		return applyReport(ctx, env, instance, id, r)
	}
	gone, reason, _ := classify(err)
	var ae *AgentError
	switch {
	case gone && row.VMM.Runtime.State.IsTerminal():
		// The records already say the VMM halted (this undo ran before and
		// wrote the agent's answer, or the VMM failed meanwhile): the
		// agent's 404 is that, and proves nothing new.
		return nil
	case gone:
		if ferr := markFailed(ctx, env, instance, id, reason); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	case errors.As(err, &ae):
		return nil
	}
	return err
}

// markUnwound is the VMM-record undo of §14 and §15: the saga's VMM is
// marked saga_unwound; one already terminal stays as it is (D7).
func markUnwound(ctx context.Context, env *Env, id vmmstate.ID) error {
	_, err := env.Store.VMMMarkSagaUnwound(ctx, id, env.Now())
	if err != nil && !errors.Is(err, datastore.ErrTerminal) && !errors.Is(err, datastore.ErrNotFound) {
		return err
	}
	return nil
}

package instancestate

import (
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// ID identifies an instance. It is the same type as vmmstate.InstanceID, so
// a VMM's InstanceID compares directly with the instance's ID.
type ID = vmmstate.InstanceID

// ParseID parses an instance id in the canonical UUID form.
func ParseID(s string) (ID, error) { return vmmstate.ParseInstanceID(s) }

// DefaultCooldown is how long after an automatic restart another is
// allowed when the instance configures none (§6.9, D15).
const DefaultCooldown = 5 * time.Minute

// DefaultPolicy applies when an instance configures no auto-restart policy
// (§6.9).
const DefaultPolicy = PolicyBestEffort

// AutoRestart is an instance's auto-restart configuration (§6.9). Both fields
// are nullable columns; the zero value of each means "not configured".
type AutoRestart struct {
	Policy   AutoRestartPolicy // zero: not configured, DefaultPolicy applies
	Cooldown time.Duration     // zero: not configured, DefaultCooldown applies; never negative
}

// EffectivePolicy returns the configured policy, or DefaultPolicy.
func (a AutoRestart) EffectivePolicy() AutoRestartPolicy {
	if a.Policy == 0 {
		return DefaultPolicy
	}
	return a.Policy
}

// EffectiveCooldown returns the configured cooldown, or DefaultCooldown.
func (a AutoRestart) EffectiveCooldown() time.Duration {
	if a.Cooldown == 0 {
		return DefaultCooldown
	}
	return a.Cooldown
}

// Runtime is the generation-guarded part of the instance record (§6.9): a
// write of a Runtime applies only when its generation is newer than the
// stored one (§8.1). Zero ids and zero times stand for NULL columns.
type Runtime struct {
	State                 NexusState            // column state
	Generation            generation.Generation // column state_generation
	TimeUpdated           time.Time             // column time_state_updated
	ActiveVMM             vmmstate.ID           // column active_propolis_id
	TargetVMM             vmmstate.ID           // column target_propolis_id
	MigrationID           migration.ID          // column migration_id
	TimeLastAutoRestarted time.Time             // column time_last_auto_restarted
}

// next returns r at the next generation stamped now: the start of every
// change to the instance record.
func (r Runtime) next(now time.Time) (Runtime, error) {
	g, err := r.Generation.Next()
	if err != nil {
		return r, err
	}
	r.Generation, r.TimeUpdated = g, now
	return r, nil
}

// Instance is the instance record as vmlife reasons about it (§6.9, §5.2):
// the runtime, what the user intends, the auto-restart configuration, the
// updater lock, and why the last start failed (D13).
type Instance struct {
	ID            ID
	Runtime       Runtime
	IntendedState IntendedState
	AutoRestart   AutoRestart
	UpdaterID     UpdaterID             // zero: unlocked (column updater_id NULL)
	UpdaterGen    generation.Generation // column updater_gen
	// StartFailure records why the last start failed (D13); its zero value
	// (HasStartFailure false) means the last start did not fail.
	StartFailure failure.StartFailure
	// VMMLost records that the update plan left the instance, meant to
	// run, without a VMM for a reason no guest shutdown or start failure
	// gives (D22); its zero value means nothing was lost.
	VMMLost VMMLost
	// RestartFailures counts the times in a row the instance went down
	// needing a restart without having run stably in between (D33): the
	// update plan writes it when it leaves the instance failed or without
	// its VMM. A restart backoff reads it; vmlife's column, not Omicron's.
	RestartFailures int
}

// New returns the record of an instance just created (§6.9, §16): creating,
// generation 1, updater generation 1, intending to run if start is set.
func New(id ID, start bool, auto AutoRestart, now time.Time) Instance {
	intent := IntendStopped
	if start {
		intent = IntendRunning
	}
	return Instance{
		ID: id,
		Runtime: Runtime{
			State:       NexusCreating,
			Generation:  generation.Initial(),
			TimeUpdated: now,
		},
		IntendedState: intent,
		AutoRestart:   auto,
		UpdaterGen:    generation.Initial(),
	}
}

// HasStartFailure reports whether a start failure is recorded (D13).
func (i Instance) HasStartFailure() bool { return i.hasStartFailure() }

// hasStartFailure and isLocked are the exported forms through a pointer,
// which the package calls so as not to copy the instance (see hasActive).
func (i *Instance) hasStartFailure() bool { return i.StartFailure.Cause.IsValid() }
func (i *Instance) isLocked() bool        { return !i.UpdaterID.IsZero() }

// RecordStartFailure returns i with f recorded as why the last start failed
// (D13). f must be valid; the record is otherwise unchanged.
func (i Instance) RecordStartFailure(f failure.StartFailure) (Instance, error) {
	if err := f.Validate(); err != nil {
		return i, &RuleError{Rule: "start failure is valid", Field: "start_failure", Detail: err.Error(), Err: err}
	}
	i.StartFailure = f
	return i, nil
}

// ClearStartFailure returns i without a recorded start failure: a start
// succeeded (D13).
func (i Instance) ClearStartFailure() Instance {
	i.StartFailure = failure.StartFailure{}
	return i
}

// IsLocked reports whether an updater holds the instance-updater lock (§9).
func (i Instance) IsLocked() bool { return i.isLocked() }

package migration

import (
	"time"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// CheckInOut is step 1 of §8.2: a sled-agent report whose migration_in and
// migration_out name the same migration is refused before anything in it is
// applied — a VMM cannot migrate to itself. A nil pointer means the report
// carries no update for that side (§3.2). The error is an *Error matching
// ErrSameMigration.
func CheckInOut(in, out *Report) error {
	if in == nil || out == nil || in.MigrationID != out.MigrationID {
		return nil
	}
	return &Error{Field: "migration_in.migration_id", Got: in.MigrationID.String(),
		Want: "a migration other than migration_out's", Err: ErrSameMigration}
}

// ApplySource writes the source side that VMM vmm reported as migration_out
// (§8.2 step 3). See Apply.
func (r Record) ApplySource(vmm vmmstate.ID, rep Report) (Record, vmmstate.Outcome, error) {
	o, err := r.apply(Source, vmm, rep)
	return r, o, err
}

// ApplyTarget writes the target side that VMM vmm reported as migration_in
// (§8.2 step 4). See Apply.
func (r Record) ApplyTarget(vmm vmmstate.ID, rep Report) (Record, vmmstate.Outcome, error) {
	o, err := r.apply(Target, vmm, rep)
	return r, o, err
}

// Apply writes the side that plays role from a report sent by VMM vmm,
// with the database's guards (§8.2 steps 3–4) and vmlife's (D5, D6). The
// checks are made in this order, and the first that decides wins:
//
//  1. r is not a valid record (Validate), or role is invalid: error.
//  2. rep.MigrationID is not r.ID: ErrIDMismatch. (The database finds the
//     row by the report's id; here the caller chose the record.)
//  3. vmm is not the side's VMM: ErrWrongVMM — even for a stale report, as
//     the database reports it whenever its guarded write did not apply.
//  4. rep.State is invalid: ErrInvalidState.
//  5. rep's generation is not strictly newer than the side's: Stale, no
//     error. Late and duplicated reports are normal (D5).
//  6. the side is terminal: Unchanged, no error. The first outcome wins
//     (D6): a completed side is never rewritten as failed, nor the reverse,
//     and its generation stays. A sled-agent never moves a side out of an
//     outcome (§3.5, Fold), so such a report can only meet a side the
//     control plane failed first (MarkFailed), and is no fault of the
//     reporter. Omicron would write it.
//  7. rep moves the side back to pending: ErrIllegalTransition.
//  8. otherwise: Applied. The side takes the report's state, generation and
//     time (§8.2: time_*_updated is the reported time); its VMM stays.
//
// Only the addressed side can change: ApplySource never touches Target, nor
// ApplyTarget Source. On error the returned record is r, unchanged, the
// outcome is zero, and the error is an *Error naming the side and field.
func (r Record) Apply(role Role, vmm vmmstate.ID, rep Report) (Record, vmmstate.Outcome, error) {
	o, err := r.apply(role, vmm, rep)
	return r, o, err
}

// apply is Apply on the caller's copy, so the exported methods copy the
// record once in and once out. It writes *r only after every check passed.
func (r *Record) apply(role Role, vmm vmmstate.ID, rep Report) (vmmstate.Outcome, error) {
	if err := r.validate(); err != nil {
		return 0, err
	}
	if !role.IsValid() {
		return 0, &Error{Field: "role", Got: role.String(), Want: "source, target", Err: ErrUnknown}
	}
	s := r.side(role)
	switch {
	case rep.MigrationID != r.ID:
		return 0, &Error{Role: role, Field: role.ReportKey() + ".migration_id", Got: rep.MigrationID.String(), Want: r.ID.String(), Err: ErrIDMismatch}
	case vmm != s.VMM:
		return 0, &Error{Role: role, Field: role.row().vmmColumn, Got: vmm.String(), Want: s.VMM.String(), Err: ErrWrongVMM}
	case !rep.State.IsValid():
		return 0, &Error{Role: role, Field: role.ReportKey() + ".state", Got: rep.State.String(), Want: stateNames(), Err: ErrInvalidState}
	case !rep.Generation.After(s.Generation):
		return vmmstate.Stale, nil
	case s.State.IsTerminal():
		return vmmstate.Unchanged, nil
	case rep.State != s.State && !CanTransition(s.State, rep.State):
		return 0, &Error{Role: role, Field: role.ReportKey() + ".state", Got: rep.State.String(),
			Want: "a successor of " + s.State.String() + ": " + stateList(Successors(s.State)), Err: ErrIllegalTransition}
	}
	s.State, s.Generation, s.TimeUpdated = rep.State, rep.Generation, rep.TimeUpdated // the VMM stays
	return vmmstate.Applied, nil
}

// MarkFailed is the control plane's failure of a migration (§8.3, used by
// the migrate saga's unwinding, §15): every side still in flight fails at
// generation+1, stamped now. A terminal side keeps its outcome, generation
// and time (D6; Omicron rewrites both sides unconditionally, which would
// turn a migration that completed into a lie, D19). The outcome is Applied
// when a side changed and Unchanged when both were terminal, so MarkFailed
// is idempotent.
//
// An invalid r is an error (Validate); a side at the largest generation is
// an *Error matching generation.ErrOverflow. Both sides are checked before
// either changes: on error r is returned unchanged.
func (r Record) MarkFailed(now time.Time) (Record, vmmstate.Outcome, error) {
	if err := r.validate(); err != nil {
		return r, 0, err
	}
	out, outcome := r, vmmstate.Unchanged
	for _, role := range [...]Role{Source, Target} {
		s := out.side(role)
		if s.State.IsTerminal() {
			continue
		}
		g, err := s.Generation.Next()
		if err != nil {
			return r, 0, &Error{Role: role, Field: role.row().genColumn, Got: s.Generation.String(),
				Want: "a generation below the largest", Err: generation.ErrOverflow}
		}
		*s = Side{VMM: s.VMM, State: Failed, Generation: g, TimeUpdated: now}
		outcome = vmmstate.Applied
	}
	return out, outcome, nil
}

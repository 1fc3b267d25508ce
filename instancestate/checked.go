package instancestate

import "time"

// Checked is a snapshot that Check has validated (D17, D21): its decisions
// do not validate again. A background task that asks every decision of
// every instance — the updater, the reincarnation task, a reconciler —
// validates each snapshot once, instead of once per decision. It holds its
// own copy of the snapshot, so later changes to the one it was checked
// from cannot reach it: a Checked is always valid. Its zero value is not;
// make one with Check.
type Checked struct {
	s Snapshot
	// The last plan and reincarnation computed, and at which time: Next
	// needs both, and a sweep asks for them first, so each is worked out
	// once per time.
	planAt, reincAt time.Time
	planOK, reincOK bool
	planless        bool // the snapshot needs no plan (Snapshot.planless); plan is stale
	plan            Plan
	planRequired    bool
	planErr         error
	reinc           Reincarnation
}

// Check validates s once (Snapshot.Validate) and returns it ready for any
// number of decisions. It reads s through the pointer, copying it once.
func Check(s *Snapshot) (Checked, error) {
	if err := s.validate(); err != nil {
		return Checked{}, err
	}
	return Checked{s: *s}, nil
}

// Reset validates s and makes c its Checked, forgetting what c worked out
// for the snapshot before: Check for a sweep that reuses one Checked, so
// that nothing the size of a snapshot and a plan is returned and copied
// for each instance. On an error c is left checking nothing: every
// decision on it answers as on the zero Checked until the next Reset.
func (c *Checked) Reset(s *Snapshot) error {
	if err := s.validate(); err != nil {
		*c = Checked{}
		return err
	}
	c.s = *s
	c.planOK, c.reincOK = false, false
	return nil
}

// Snapshot returns the checked snapshot.
func (c *Checked) Snapshot() Snapshot { return c.s }

// EffectiveState is EffectiveState without the validation.
func (c *Checked) EffectiveState() State { return c.s.effective() }

// PlanUpdate is PlanUpdate without the validation; the error is only ever
// the largest state generation, past which no plan can be written.
func (c *Checked) PlanUpdate(now time.Time) (Plan, bool, error) {
	c.planFor(now)
	if c.planless {
		return Plan{}, false, nil
	}
	return c.plan, c.planRequired, c.planErr
}

// planFor works the plan out at now unless it already has been.
func (c *Checked) planFor(now time.Time) {
	if c.planOK && c.planAt.Equal(now) {
		return
	}
	c.planAt, c.planOK = now, true
	// Most of a fleet needs no plan: say so without copying one.
	if c.planless = c.s.planless(); c.planless {
		c.planRequired, c.planErr = false, nil
		return
	}
	c.plan, c.planRequired, c.planErr = c.s.plan(now)
}

// Reincarnate is Reincarnate without the validation.
func (c *Checked) Reincarnate(now time.Time) Reincarnation {
	if !c.reincOK || !c.reincAt.Equal(now) {
		c.reinc = c.s.reincarnation(now)
		c.reincAt, c.reincOK = now, true
	}
	return c.reinc
}

// Conditions is Conditions without the validation, appending to dst (which
// may be nil) so that a sweep can reuse one buffer.
func (c *Checked) Conditions(now time.Time, dst []Condition) []Condition {
	return c.s.appendConditions(dst, now, c.Reincarnate(now))
}

// Next is Next without the validation.
func (c *Checked) Next(now time.Time) NextAction {
	c.planFor(now)
	return c.s.nextAfterPlan(now, c.Reincarnate(now), c.planRequired && c.planErr == nil)
}

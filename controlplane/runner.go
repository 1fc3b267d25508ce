package controlplane

import (
	"context"
	"time"
)

// interval returns how often t runs; negative: never.
func (cp *ControlPlane) interval(t Task) time.Duration {
	if d, ok := cp.cfg.Intervals[t]; ok {
		return d
	}
	return t.DefaultInterval()
}

// Activate asks for a pass of task t at the next Tick, whatever its
// interval (Omicron's activation), and wakes Run. A task that is off is
// not run.
func (cp *ControlPlane) Activate(t Task) {
	cp.mu.Lock()
	cp.activated[t] = true
	cp.mu.Unlock()
	select {
	case cp.wake <- struct{}{}:
	default:
	}
}

// Tick runs, in the order of AllTasks, one pass of every task that is due
// at Config.Now — its interval has passed since its last pass, or it was
// activated, or it never ran — and returns the passes it ran. A task
// activated during the tick (a pass that left work, or another that found
// some for it) runs later in the same tick when it comes later in the
// order, else at the next one: no task runs twice in a tick. Tick stops early only when ctx is
// done, returning its error: shutdown, never failure (D28).
func (cp *ControlPlane) Tick(ctx context.Context) ([]Pass, error) {
	var out []Pass
	for _, t := range AllTasks() {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if !cp.takeDue(t) {
			continue
		}
		p, _ := cp.RunTask(ctx, t)
		out = append(out, p)
	}
	return out, ctx.Err()
}

// takeDue reports whether t is due now, and if so schedules its next pass
// and clears its activation.
func (cp *ControlPlane) takeDue(t Task) bool {
	iv := cp.interval(t)
	if iv < 0 {
		return false
	}
	now := cp.cfg.Now()
	cp.mu.Lock()
	defer cp.mu.Unlock()
	due, seen := cp.due[t]
	if seen && !cp.activated[t] && now.Before(due) {
		return false
	}
	cp.activated[t] = false
	cp.due[t] = now.Add(iv)
	return true
}

// nextDue returns when the next task is due (now, when one was activated),
// and false when every task is off.
func (cp *ControlPlane) nextDue() (time.Time, bool) {
	now := cp.cfg.Now()
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var next time.Time
	found := false
	for _, t := range AllTasks() {
		if cp.interval(t) < 0 {
			continue
		}
		due, seen := cp.due[t]
		if !seen || cp.activated[t] {
			return now, true
		}
		if !found || due.Before(next) {
			next, found = due, true
		}
	}
	return next, found
}

// Run ticks until ctx is done: at once, then whenever a task is due or
// activated. It is for a Config.Now that is the wall clock (a simulator
// calls Tick on its own). Run returns nil when ctx is cancelled — the
// control plane's shutdown (D28) — and leaves every saga it interrupted in
// the log for the next process to recover.
func (cp *ControlPlane) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if _, err := cp.Tick(ctx); err != nil {
			return nil
		}
		next, ok := cp.nextDue()
		wait := time.Hour
		if ok {
			wait = max(next.Sub(cp.cfg.Now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-cp.wake:
			timer.Stop() // since Go 1.23 a stopped timer's channel holds no stale tick
		case <-timer.C:
		}
	}
}

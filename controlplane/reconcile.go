package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// The reactions' names, continued.
const (
	ReactionCheck     = "check"     // CheckVMM
	ReactionReconcile = "reconcile" // Reconcile
)

// Snapshot reads instance id as the control plane decides on it: its
// records in one consistent read (datastore.Records.InstanceFetchAll),
// with Config.Policy and what the instance watcher observed and the
// records do not hold — since when the active VMM's sled has not answered
// (D14, D18). A missing or deleted instance is datastore.ErrNotFound.
func (cp *ControlPlane) Snapshot(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	s, err := cp.cfg.Store.InstanceFetchAll(ctx, id)
	if err != nil {
		return s, err
	}
	s.Policy = cp.cfg.Policy
	if v := s.Instance.Runtime.ActiveVMM; !v.IsZero() {
		cp.mu.Lock()
		s.SledUnreachableSince = cp.unreachable[v]
		cp.mu.Unlock()
	}
	return s, nil
}

// observe keeps the watcher's verdict on VMM id: since when its sled has
// not answered (the first check that found it so), cleared by any check
// that learned the VMM's fate.
func (cp *ControlPlane) observe(id vmmstate.ID, v failure.Verdict, now time.Time) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	switch {
	case v.Incomplete == failure.IncompleteUnreachable:
		if _, seen := cp.unreachable[id]; !seen {
			cp.unreachable[id] = now
		}
	case v.Healthy, v.Failed:
		delete(cp.unreachable, id)
	}
}

// forget drops what the watcher observed of VMMs that are gone from the
// records — deleted by an update saga's destroy step or by the reaper, or
// no longer listed on any sled — so that the observations are bounded by
// the VMMs that exist.
func (cp *ControlPlane) forget(ids ...vmmstate.ID) {
	cp.mu.Lock()
	for _, id := range ids {
		delete(cp.unreachable, id)
	}
	cp.mu.Unlock()
}

// observed returns the VMMs the watcher holds an observation of now.
func (cp *ControlPlane) observed() []vmmstate.ID {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	out := make([]vmmstate.ID, 0, len(cp.unreachable))
	for id := range cp.unreachable {
		out = append(out, id)
	}
	return out
}

// keepOnly drops the observations of the VMMs in before — those held when
// the watcher's pass read its list — that the list does not name: the pass
// lists every VMM it watches. One made since, of a VMM the list could not
// name yet, is kept.
func (cp *ControlPlane) keepOnly(before []vmmstate.ID, listed map[vmmstate.ID]bool) {
	cp.mu.Lock()
	for _, id := range before {
		if !listed[id] {
			delete(cp.unreachable, id)
		}
	}
	cp.mu.Unlock()
}

// CheckVMM is the instance watcher's check of VMM id (§18), as its pass
// makes it of every VMM it lists, for a caller that chooses which VMM to
// check — a simulator, or an operator's "check this one now": the
// Watcher is asked, and its verdict (failure.CheckHealth, D18) acted on
// and returned. An answer is recorded as a report, and a VMM it shows
// running with no instance linking it is asked to stop (D37); a proof of
// death fails the VMM (§11); a sled that does not answer and may be on
// is only observed, from the first check that found it so (Snapshot).
// What the records then ask for — an update saga — is begun. The error
// is a store's, a broken Watcher's, or a Config without one.
func (cp *ControlPlane) CheckVMM(ctx context.Context, id vmmstate.ID) (failure.Verdict, error) {
	if cp.cfg.Watcher == nil {
		return failure.Verdict{}, errors.New("controlplane: CheckVMM: Config.Watcher is nil (accepted: a Watcher)")
	}
	cp.count(ReactionCheck, func(c *Counters) { c.Passes++ })
	v, _, err := cp.check(ctx, ReactionCheck, id, false)
	if err != nil {
		cp.failed(ctx, ReactionCheck, "check VMM "+id.String(), err)
		return v, err
	}
	cp.followUps(ctx, ReactionCheck, nil, 0, nil)
	return v, nil
}

// check is one check of VMM id for src, the watcher's pass or CheckVMM:
// the verdict, and whether the VMM was found running unlinked and asked to
// stop. Errors about the one VMM are returned, not counted. For the
// watcher's pass (listed), a VMM the pass would not list now — gone,
// deleted, ended — is passed over: listed before a saga or the reaper
// moved it on, it is no longer the watcher's.
func (cp *ControlPlane) check(ctx context.Context, src string, id vmmstate.ID, listed bool) (v failure.Verdict, stopped bool, err error) {
	row, err := cp.cfg.Store.VMMFetch(ctx, id)
	switch {
	case listed && (errors.Is(err, datastore.ErrNotFound) ||
		err == nil && (!row.TimeDeleted.IsZero() || !datastore.ListedBySled(row.VMM.Runtime.State.Kind()))):
		return v, false, nil // gone, or ended, since the pass listed it: the list would not name it now
	case err != nil:
		return v, false, fmt.Errorf("fetch VMM %v: %w", id, err)
	}
	rep, chk, ok := cp.cfg.Watcher.Check(ctx, row.VMM)
	if ok {
		v = failure.Verdict{Healthy: true}
		cp.observe(id, v, cp.cfg.Now())
		if _, err := cp.record(ctx, id, rep); err != nil {
			return v, false, fmt.Errorf("record VMM %v's state: %w", id, err)
		}
		// Asked once it stops, not again at every check.
		if st := rep.VMM.State; !st.IsTerminal() && st != vmmstate.SledAgentStopping && cp.unlinked(ctx, src, row.VMM) {
			cp.stopVMM(ctx, src, id)
			return v, true, nil
		}
		return v, false, nil
	}
	v, err = failure.CheckHealth(chk)
	switch {
	case err != nil:
		return v, false, fmt.Errorf("classify VMM %v's check: %w", id, err)
	case v.Healthy:
		// A check that did not answer cannot be healthy: the watcher's
		// contract is broken, and nothing is written.
		return failure.Verdict{}, false, fmt.Errorf("check VMM %v: a check without an answer classified healthy", id)
	}
	cp.observe(id, v, cp.cfg.Now())
	if v.Failed {
		if _, err := cp.death(ctx, src, id, row.VMM.InstanceID, v.Reason); err != nil {
			return v, false, fmt.Errorf("fail VMM %v: %w", id, err)
		}
	}
	return v, false, nil
}

// Reconcile acts on what instancestate.Next says instance id needs next
// (D19), on the instance as Snapshot reads it: a start (reason
// auto_start) or an automatic restart (auto_restart), an update saga, the
// user's stop sent to the active VMM's sled, a check of a VMM past its
// deadline (CheckVMM, D30, D32) — never a failure on time alone — or the
// stop of a stalled migration's target (D34), owed until a sled-agent
// takes it. It returns what Next said; acting on it again before the
// records change begins what is already under way, which the guards
// refuse (a second start loses at instance_mark_as_starting, a second
// update finds the lock held). A missing instance is datastore.ErrNotFound.
func (cp *ControlPlane) Reconcile(ctx context.Context, id instancestate.ID) (instancestate.NextAction, error) {
	cp.count(ReactionReconcile, func(c *Counters) { c.Passes++ })
	n, _, err := cp.reconcile(ctx, ReactionReconcile, id, nil)
	return n, err
}

// reconcile is Reconcile's work for src — the reaction, or the reconciler
// task's pass — with the follow-ups bounded by budget (followUps). It
// reports whether it began a saga; an error is counted and logged under
// src, but for a missing instance.
func (cp *ControlPlane) reconcile(ctx context.Context, src string, id instancestate.ID, budget *int) (n instancestate.NextAction, began bool, err error) {
	s, err := cp.Snapshot(ctx, id)
	if err != nil {
		if !errors.Is(err, datastore.ErrNotFound) {
			cp.failed(ctx, src, "fetch the instance", err)
		}
		return n, began, err
	}
	now := cp.cfg.Now()
	n, err = instancestate.Next(s, now)
	if err != nil {
		cp.failed(ctx, src, "decide what comes next", err)
		return n, began, err
	}
	var saga sagas.Saga
	switch n.Action {
	case instancestate.NextStart:
		saga = &sagas.Start{Instance: id, Reason: failure.StartReasonAutoStart}
	case instancestate.NextReincarnate:
		saga = &sagas.Start{Instance: id, Reason: failure.StartReasonAutoRestart}
	case instancestate.NextRunUpdate:
		saga = &sagas.Update{Instance: id}
	case instancestate.NextStop:
		var d instancestate.Decision
		if d, err = instancestate.Decide(s, instancestate.RequestStop, now); err == nil && d.Action == instancestate.ActionSendToSled {
			_, err = cp.sendToSled(ctx, src, s.Active, d.SledRequest)
		}
	case instancestate.NextInspect:
		// A VMM not yet on its sled, or an instance still creating, has a
		// saga in flight to look at instead (D30).
		vid := vmmstate.IDFromUUID(n.Record.ID)
		onSled := false
		for _, v := range [...]vmmstate.VMM{s.Active, s.Target} {
			onSled = onSled || !vid.IsZero() && v.ID == vid && v.Runtime.State.ExistsOnSled()
		}
		if n.Record.Kind != instancestate.RecordInstance && onSled && cp.cfg.Watcher != nil {
			_, _, err = cp.check(ctx, src, vid, false)
		}
	case instancestate.NextAbortMigration:
		cp.log.LogAttrs(ctx, slog.LevelInfo, "aborting a stalled migration", slog.String("instance", id.String()),
			slog.String("migration", n.Migration.String()), slog.String("stop", n.StopVMM.String()))
		cp.stopVMM(ctx, src, n.StopVMM)
	}
	if saga != nil {
		_, err = cp.begin(ctx, src, saga)
		began = err == nil
	}
	if err != nil {
		cp.failed(ctx, src, "act on "+n.Action.String(), err)
	}
	cp.followUps(ctx, src, nil, 0, budget)
	return n, began, err
}

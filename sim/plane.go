package sim

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// The world runs package controlplane's control plane as its driver: the
// control plane decides what comes next and writes it, and hands every
// saga it begins to the world (controlplane.SagaRunner), which runs it a
// node at a time among everything else and passes it back at rest
// (Rested). The world reads back what the control plane wrote through the
// one door it has into the world — the sled-agents' answers — and through
// the sagas it runs.

// newControlPlane returns the world's control plane: a fresh process, its
// memory empty, under the world's executor identity (SEC). A store that
// keeps no saga log gets one of its own in memory, so that the sagas run
// as they would with one; such a world has no crash to recover from.
func (w *World) newControlPlane() *controlplane.ControlPlane {
	log, ok := w.st.(datastore.SagaLog)
	if !ok {
		log = datastore.NewMemory()
	}
	cp, err := controlplane.New(controlplane.Config{
		ID:           SEC,
		Store:        w.st,
		Log:          log,
		Reservations: w.rsv,
		Agent:        (*sledAgents)(w),
		Sleds:        (*sledRoom)(w),
		Now:          w.Now,
		NewID:        func() uuid.UUID { return w.newUUID('s') },
		Runner:       (*runner)(w),
		Watcher:      (*watcher)(w),
		Policy:       w.cfg.Policy,
		Logger:       slog.New((*cpErrors)(w)),
	})
	if err != nil {
		panic("sim: the control plane's configuration is the world's own: " + err.Error())
	}
	return cp
}

// runner is the world as the control plane's controlplane.SagaRunner.
type runner World

// RunSaga implements controlplane.SagaRunner: the saga is put in flight
// (launch) for its instance, unless it could only repeat one in flight —
// a third start or update, a second migration or delete of the same
// instance — or its instance is gone; what it was for is found again by
// the world's tasks (D19).
func (r *runner) RunSaga(_ context.Context, src string, s sagas.Saga) {
	w := (*World)(r)
	if w.deferring {
		w.deferred = append(w.deferred, deferredSaga{src, s})
		return
	}
	if c, ok := s.(*sagas.Create); ok {
		if in := w.creating; in != nil && in.rec.ID == c.Instance.ID {
			w.launch(in, s)
		}
		return
	}
	in := w.live(sagaInstance(s))
	if in == nil || in.pending {
		return
	}
	switch s := s.(type) {
	case *sagas.Start:
		if in.starts >= 2 {
			return
		}
		in.starts++
		w.stats.StartsByReason[s.Reason]++
		if s.Reason == failure.StartReasonAutoRestart {
			w.stats.Reincarnations++
		}
		w.tracef("start saga %s (%v, %s)", in.name, s.Reason, src)
	case *sagas.Update:
		if in.updates >= 2 {
			return // a third could only find it locked
		}
		in.updates++
		w.touch(in) // checkLock reads the count
	case *sagas.Migrate:
		if in.migrates > 0 {
			return
		}
		in.migrates++
	case *sagas.Delete:
		if in.deletes > 0 {
			return
		}
		in.deletes++
	}
	w.launch(in, s)
}

// answered notes a VMM a sled-agent was asked about: the control plane
// may have written it (the answer recorded, or the death it proves), and
// the world reads it back (readBack).
func (w *World) answered(id vmmstate.ID) {
	w.answers = append(w.answers, id)
}

// answeredSides notes the migrations a sled-agent's answer names.
func (w *World) answeredSides(rep instancestate.Report) {
	for _, side := range [...]*migration.Report{rep.MigrationIn, rep.MigrationOut} {
		if side != nil && !side.MigrationID.IsZero() {
			w.answerMigs = append(w.answerMigs, side.MigrationID)
		}
	}
}

// readBack reads back the VMMs and migrations the sled-agents answered
// about since it last ran, after a call into the control plane.
func (w *World) readBack() {
	for _, id := range w.answers {
		if w.vmms[id] != nil {
			w.syncVMM(id)
		}
	}
	for _, id := range w.answerMigs {
		w.syncMigration(id)
	}
	w.answers, w.answerMigs = w.answers[:0], w.answerMigs[:0]
}

// cpErrors is the world's view of its control plane's log: the errors it
// counts (controlplane.ErrorKind). A store that did not answer stops the
// world, as everywhere (unexpected); a sled-agent's error, or no room on
// a sled, is the weather the world's faults make; anything else is an
// error vmlife should not have met, and a violation.
type cpErrors World

func (h *cpErrors) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *cpErrors) Handle(_ context.Context, r slog.Record) error {
	w := (*World)(h)
	var kind, msg string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "kind":
			kind = a.Value.String()
		case "err":
			msg = a.Value.String()
		}
		return true
	})
	switch kind {
	case "sled_agent", "placement", "illegal_transition", "terminal":
		// The last two: a late report about a VMM the records have moved
		// past (D7), refused and written nowhere.
		w.tracef("control plane: %s: %s", r.Message, msg)
	case "unavailable":
		w.abort(fmt.Errorf("sim: step %d: control plane: %s: %s: %w", w.step, r.Message, msg, datastore.ErrUnavailable))
	default:
		w.violate("unexpected error from the control plane", r.Message, kind+": "+msg)
	}
	return nil
}

func (h *cpErrors) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *cpErrors) WithGroup(string) slog.Handler      { return h }

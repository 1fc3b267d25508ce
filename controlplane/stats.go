package controlplane

import (
	"context"
	"errors"
	"log/slog"
	"maps"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/sagas"
)

// Counters are what one task or reaction did since the control plane was
// made: a value, copied out by Stats, for a caller to export to whatever
// metrics system it runs (the library links none).
type Counters struct {
	// Passes counts a task's passes, or a reaction's calls.
	Passes uint64
	// Found counts the records a task's queries listed.
	Found uint64
	// SagasStarted counts the sagas it ran, follow-ups included.
	SagasStarted uint64
	// SagasRecovered, SagasAdopted and SagasAbandoned count what saga
	// recovery brought to rest, adoption took over, and recovery gave up
	// on with a reason recorded.
	SagasRecovered, SagasAdopted, SagasAbandoned uint64
	// SagasHalted counts sagas left in the log for recovery: their run
	// stopped on shutdown (D28), a lost lease (D27) or a failed log write.
	SagasHalted uint64
	// Errors counts the errors it met, by ErrorKind.
	Errors map[string]uint64
}

// Stats returns every task's and reaction's counters, by name
// (Task.String, or a Reaction… constant). The map and its counters are
// copies: the caller may keep and change them.
func (cp *ControlPlane) Stats() map[string]Counters {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	out := make(map[string]Counters, len(cp.counters))
	for name, c := range cp.counters {
		cc := *c
		cc.Errors = maps.Clone(c.Errors)
		out[name] = cc
	}
	return out
}

func (cp *ControlPlane) count(name string, f func(*Counters)) {
	cp.mu.Lock()
	c := cp.counters[name]
	if c == nil {
		c = &Counters{}
		cp.counters[name] = c
	}
	f(c)
	cp.mu.Unlock()
}

// failed counts and logs an error of a task or a reaction. A cancelled
// context is shutdown (D28): neither counted nor logged as an error.
func (cp *ControlPlane) failed(ctx context.Context, name, what string, err error) {
	kind := ErrorKind(err)
	if kind == "" {
		return
	}
	cp.count(name, func(c *Counters) {
		if c.Errors == nil {
			c.Errors = map[string]uint64{}
		}
		c.Errors[kind]++
	})
	cp.log.LogAttrs(ctx, slog.LevelError, name+": "+what, slog.String("kind", kind), slog.String("err", err.Error()))
}

// ErrorKind names the kind of an error as Counters.Errors counts it: a
// datastore.ErrorKind's wire string ("conflict", "not_found", …);
// "outcome_unknown" for a write whose answer the store lost
// (datastore.ErrOutcomeUnknown: retry it); "timeout" for a deadline that
// passed; "unavailable" for a store that did not answer
// (datastore.ErrUnavailable); "sled_agent" for a sled-agent call's error;
// "placement" for no room on a sled; "saga_log" for a saga log no executor
// writes; "other" for anything else. A cancelled context is shutdown, not
// an error: "" (D28).
func ErrorKind(err error) string {
	var de *datastore.Error
	var ae *sagas.AgentError
	var pe *sagas.PlacementError
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return ""
	case errors.As(err, &de):
		return de.Kind.String()
	case errors.Is(err, datastore.ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, datastore.ErrUnavailable):
		return "unavailable"
	case errors.As(err, &ae):
		return "sled_agent"
	case errors.As(err, &pe):
		return "placement"
	case errors.Is(err, sagas.ErrLog):
		return "saga_log"
	}
	return "other"
}

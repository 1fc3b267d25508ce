package script

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/internal/jsonread"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/wire"
)

// sagaWorld is what a script's saga lines run against, kept from line to
// line: package memsled's in-memory sled-agent and sleds, and ids
// counted from 1 ('s' in their first byte), over the script's store and
// clock.
type sagaWorld struct {
	now   time.Time
	world *memsled.World
	// log is the store's saga log, nil for a store that keeps none: every
	// saga line runs through an executor that writes it (D26).
	log datastore.SagaLog
	// resv is the store's reservations, nil for a store that keeps none:
	// the sleds record theirs in it, and reservation_list_leaked reads it.
	resv    datastore.SledReservations
	sagaIDs func() uuid.UUID
}

// ScriptSEC is the executor a script's saga lines run under when they name
// none ("sec"): the script's own process, in the saga log.
var ScriptSEC = uuid.MustParse("5ec00000-0000-4000-8000-000000000001")

func newSagaWorld(st datastore.Store, log datastore.SagaLog, resv datastore.SledReservations) *sagaWorld {
	sw := &sagaWorld{log: log, resv: resv, sagaIDs: memsled.IDs('g')}
	sw.world = memsled.NewWorld(st, func() time.Time { return sw.now }, 0)
	sw.world.Env.UpdateNeeded = nil // the script runs the update saga when it says so
	if resv != nil {
		sw.world.Sleds.RecordIn(resv, func() time.Time { return sw.now })
	}
	return sw
}

// newSagaID returns the next saga id the log does not hold yet: counted
// from 1 ('g' in the first byte), so a transcript on a fresh store names
// them before they exist, and a script run again on the same store takes
// the ids after the earlier run's.
func (sw *sagaWorld) newSagaID(ctx context.Context) (uuid.UUID, error) {
	for {
		id := sw.sagaIDs()
		_, _, err := sw.log.SagaFetch(ctx, id)
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			return id, nil
		case err != nil:
			return uuid.Nil, err
		}
	}
}

// sec returns the executor named id over the script's world.
func (sw *sagaWorld) sec(id uuid.UUID) *sagas.SEC {
	return &sagas.SEC{ID: id, Log: sw.log, Env: sw.world.Env}
}

// sledSlots is the room of a sled a script's start or migrate names: as
// much as a script can use.
const sledSlots = 1 << 20

// The params each saga takes.
var sagaParams = map[sagas.Kind]*jsonread.Keys{
	sagas.KindCreate:  jsonread.NewKeys(jsonread.Req("instance_id"), jsonread.Opt("start")),
	sagas.KindStart:   jsonread.NewKeys(jsonread.Req("instance_id"), jsonread.Req("sled_id"), jsonread.Opt("reason")),
	sagas.KindMigrate: jsonread.NewKeys(jsonread.Req("instance_id"), jsonread.Req("source_propolis_id"), jsonread.Req("sled_id")),
	sagas.KindUpdate:  jsonread.NewKeys(jsonread.Req("instance_id")),
	sagas.KindDelete:  jsonread.NewKeys(jsonread.Req("instance_id")),
}

// runSaga is the "saga" operation: one saga of package sagas, run to its
// end with the faults the line asks for (docs/cli.md).
func runSaga(c *call) (any, error) {
	ctx, sw, a, now := c.ctx, c.sw, &c.argDecoder, c.now
	sw.now = now
	kind := enumOf(a, "saga", sagas.AllKinds(), sagas.ParseKind)
	if a.err != nil {
		return nil, nil
	}
	p := a.params(sagaParams[kind])
	if a.err != nil {
		return nil, nil
	}
	id := vmmstate.InstanceIDFromUUID(p.uuidArg("instance_id"))
	var s sagas.Saga
	switch kind {
	case sagas.KindCreate:
		start := false
		if raw := p.line.args["start"]; raw != nil {
			p.read("start", func(d *jsonread.Decoder) { start = d.Bool() })
		}
		s = &sagas.Create{Instance: instancestate.New(id, start, instancestate.AutoRestart{}, now)}
	case sagas.KindStart:
		sled := vmmstate.SledIDFromUUID(p.uuidArg("sled_id"))
		reason := failure.StartReasonUser
		if raw := p.line.args["reason"]; raw != nil {
			reason = enumOf(p, "reason", failure.AllStartReasons(), failure.ParseStartReason)
		}
		sw.world.Sleds.Add(sled, sledSlots)
		s = &sagas.Start{Instance: id, Reason: reason}
	case sagas.KindMigrate:
		src := vmmstate.IDFromUUID(p.uuidArg("source_propolis_id"))
		sled := vmmstate.SledIDFromUUID(p.uuidArg("sled_id"))
		sw.world.Sleds.Add(sled, sledSlots)
		s = &sagas.Migrate{Instance: id, Source: src, Destination: sled}
	case sagas.KindUpdate:
		s = &sagas.Update{Instance: id}
	case sagas.KindDelete:
		s = &sagas.Delete{Instance: id}
	}
	if p.err != nil {
		var de *wire.DecodeError
		if errors.As(p.err, &de) {
			a.err = de.Within("params")
		} else {
			a.err = p.err
		}
		return nil, nil
	}
	var opt sagas.Options
	if raw := a.line.args["fail_at"]; raw != nil {
		steps := s.Steps(sw.world.Env)
		accepted := make([]string, len(steps))
		for i, st := range steps {
			accepted[i] = st.Name
		}
		a.read("fail_at", func(d *jsonread.Decoder) {
			if d.Null() {
				return
			}
			name := string(d.String(strings.Join(accepted, ", ")))
			if d.Failed() {
				return
			}
			for _, n := range accepted {
				if n == name {
					opt.FailAt = name
					return
				}
			}
			q := strconv.Quote(name)
			d.Fail("not a step of the "+kind.String()+" saga: "+q, q, strings.Join(accepted, ", "), nil)
		})
	}
	if raw := a.line.args["replay"]; raw != nil {
		a.read("replay", func(d *jsonread.Decoder) { opt.Replay = d.Bool() })
	}
	sec := a.secArg("sec")
	ropt := sagas.RunOptions{Options: opt}
	if raw := a.line.args["crash_after"]; raw != nil {
		a.read("crash_after", func(d *jsonread.Decoder) {
			ropt.Crash, ropt.CrashAfter = true, int(d.Int64(0, 1<<31-1, "an integer from 0 to 2147483647"))
		})
	}
	if a.err != nil {
		return nil, nil
	}
	if sw.log == nil {
		return nil, errNoLog
	}
	sagaID, err := sw.newSagaID(ctx)
	if err != nil {
		return nil, err
	}
	d, err := sw.sec(sec).Run(ctx, sagaID, s, ropt)
	if err != nil {
		return nil, err
	}
	if d.Halted != nil {
		return nil, fmt.Errorf("saga %v stopped: %w", sagaID, d.Halted)
	}
	out := map[string]any{"saga_id": sagaID.String()}
	if d.Crashed {
		out["outcome"], out["events"] = "crashed", d.Events
		return out, nil
	}
	r := d.Result
	out["outcome"], out["steps"], out["undone"], out["error"] = r.Outcome.String(), orEmpty(r.Ran), orEmpty(r.Undone), nil
	if r.Err != nil {
		out["error"] = r.Err.Error()
	}
	if r.Ended != "" {
		out["ended"] = r.Ended
	}
	switch s := s.(type) {
	case *sagas.Start:
		out["vmm_id"] = nullID(s.VMM.IsZero(), s.VMM.String())
		if s.Cause != 0 {
			out["start_failure"] = s.Cause.String()
		}
	case *sagas.Migrate:
		out["target_propolis_id"] = nullID(s.Target.IsZero(), s.Target.String())
		out["migration_id"] = nullID(s.Migration.IsZero(), s.Migration.String())
	case *sagas.Update:
		out["committed"] = s.Committed
		out["then"] = s.Then.String()
	}
	return out, nil
}

// maxChained bounds the update sagas one instance_update_saga line runs,
// each chained after the last (§13.4): each moves the instance on, and no
// instance needs more than a few.
const maxChained = 8

// instanceUpdateSaga is "instance_update_saga" (§13, D11): the update saga
// of package sagas, run as a saga line runs it — through the script's
// executor, logged under the next saga id — and again while it says
// another update is needed (§13.4). The line's saga_id is the updater that
// takes the lock; each saga hands it to a child of its own (§13.2). A lost
// race is an outcome, not an error: the outcome is committed when a saga
// committed a plan, else how the saga ended (nothing, locked, not_found),
// or conflict when the state moved while the lock was held and the saga
// unwound; updates are the plans committed, in order.
func instanceUpdateSaga(c *call) (any, error) {
	id, updater := c.instanceID(), instancestate.UpdaterIDFromUUID(c.uuidArg("saga_id"))
	if !c.ok() {
		return nil, nil
	}
	sw := c.sw
	sw.now = c.now
	if sw.log == nil {
		return nil, errNoLog
	}
	plans := []instancestate.Plan{}
	result := func(outcome string) (any, error) {
		if len(plans) > 0 && outcome != outcomeConflict {
			outcome = outcomeCommitted
		}
		return map[string]any{"outcome": outcome, "updates": plans}, nil
	}
	for range maxChained {
		sagaID, err := sw.newSagaID(c.ctx)
		if err != nil {
			return nil, err
		}
		u := &sagas.Update{Instance: id, Updater: updater}
		d, err := sw.sec(ScriptSEC).Run(c.ctx, sagaID, u, sagas.RunOptions{})
		switch {
		case err != nil:
			return nil, err
		case d.Halted != nil:
			return nil, fmt.Errorf("saga %v stopped: %w", sagaID, d.Halted)
		}
		switch r := d.Result; {
		case r.Outcome == sagas.Completed && r.Ended != "":
			return result(r.Ended) // sagas.EndedNothing, EndedLocked, EndedNotFound
		case r.Outcome == sagas.Unwound && errors.Is(r.Err, datastore.ErrConflict):
			return result(outcomeConflict)
		case r.Outcome == sagas.Unwound && errors.Is(r.Err, datastore.ErrNotFound):
			return result(sagas.EndedNotFound) // deleted while the saga ran
		case r.Outcome != sagas.Completed:
			// A refusal is the line's answer (ok: false); anything else
			// is the store's failure.
			return nil, fmt.Errorf("update saga %v %v: %w", sagaID, r.Outcome, r.Err)
		case !u.Committed:
			return result(sagas.EndedNothing) // committed already: nothing of this saga's
		}
		plans = append(plans, u.Plan)
		if !u.Then.Has(sagas.ThenUpdate) {
			break
		}
	}
	return result(outcomeCommitted)
}

// The outcomes of instance_update_saga beside sagas' Ended.
const (
	outcomeCommitted = "committed" // a saga committed a plan
	outcomeConflict  = "conflict"  // the state moved while the lock was held
)

// errNoLog is a saga line on a store that keeps no saga log.
var errNoLog = errors.New("the store keeps no saga log (datastore.SagaLog): saga lines cannot run")

// secArg reads an executor's id; absent, the script's own (ScriptSEC).
func (a *argDecoder) secArg(key string) uuid.UUID {
	if raw := a.line.args[key]; raw == nil {
		return ScriptSEC
	}
	return a.uuidArg(key)
}

// recoverSagas is "saga_recover": the executor's unfinished sagas, each run
// to rest from its log.
func recoverSagas(c *call) (any, error) {
	sec := c.uuidArg("sec")
	if !c.ok() {
		return nil, nil
	}
	ctx, sw := c.ctx, c.sw
	sw.now = c.now
	if sw.log == nil {
		return nil, errNoLog
	}
	ds, err := sw.sec(sec).Recover(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		if d.Halted != nil && d.Abandoned == 0 {
			if errors.Is(d.Halted, datastore.ErrLostOwnership) {
				continue // adopted by another meanwhile: not ours to report
			}
			return nil, fmt.Errorf("saga %v stopped: %w", d.Saga, d.Halted)
		}
		o := map[string]any{"saga_id": d.Saga.String(), "saga": d.Kind.String(),
			"steps": orEmpty(d.Ran), "undone": orEmpty(d.Undone), "error": nil}
		if d.Abandoned != 0 {
			o["outcome"], o["abandon_reason"] = "abandoned", d.Abandoned.String()
		} else {
			o["outcome"] = d.Outcome.String()
			if d.Err != nil {
				o["error"] = d.Err.Error()
			}
		}
		out = append(out, o)
	}
	return map[string]any{"sagas": out}, nil
}

// fetchSaga is "saga_fetch": a saga's record and its events as written.
func fetchSaga(c *call) (any, error) {
	id := c.uuidArg("saga_id")
	if !c.ok() {
		return nil, nil
	}
	if c.sw.log == nil {
		return nil, errNoLog
	}
	rec, evs, err := c.sw.log.SagaFetch(c.ctx, id)
	if err != nil {
		return nil, err
	}
	events := make([]map[string]string, len(evs))
	for i, e := range evs {
		events[i] = map[string]string{"node": e.Node, "event": e.Type.String()}
	}
	saga := map[string]any{"id": rec.ID.String(), "name": rec.Name, "state": rec.State.String(),
		"current_sec": rec.CurrentSEC.String(), "adopt_generation": rec.AdoptGeneration, "events": events}
	if rec.AbandonReason != 0 {
		saga["abandon_reason"] = rec.AbandonReason.String()
	}
	return map[string]any{"saga": saga}, nil
}

// leakedReservations is "reservation_list_leaked": the reservations the
// store records whose VMM is deleted or absent.
func leakedReservations(c *call) (any, error) {
	if c.sw.resv == nil {
		return nil, errNoReservations
	}
	ids, err := c.sw.resv.ReservationListLeaked(c.ctx)
	return map[string]any{"vmm_ids": orEmpty(ids)}, err
}

// errNoReservations is reservation_list_leaked on a store that keeps no
// reservations.
var errNoReservations = errors.New("the store keeps no sled reservations (datastore.SledReservations)")

func nullID(zero bool, s string) any {
	if zero {
		return nil
	}
	return s
}

// params reads the object under "params" with keys, for an argDecoder of
// its own whose errors the caller puts under "params".
func (a *argDecoder) params(keys *jsonread.Keys) *argDecoder {
	p := &argDecoder{line: scriptLine{args: map[string][]byte{}}}
	names := keys.Names()
	a.read("params", func(d *jsonread.Decoder) {
		o := d.Object(keys)
		for o.Next() {
			if raw := d.Raw(); raw != nil {
				p.line.args[names[o.Key()]] = raw
			}
		}
	})
	return p
}

package script

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/internal/jsonread"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/sagas/sagastest"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/wire"
)

// sagaWorld is what a script's saga lines run against, kept from line to
// line: package sagastest's in-memory sled-agent and sleds, and ids
// counted from 1 ('s' in their first byte), over the script's store and
// clock.
type sagaWorld struct {
	now   time.Time
	world *sagastest.World
}

func newSagaWorld(st datastore.Store) *sagaWorld {
	sw := &sagaWorld{}
	sw.world = sagastest.NewWorld(st, func() time.Time { return sw.now }, 0)
	sw.world.Env.UpdateNeeded = nil // the script runs the update saga when it says so
	return sw
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
func runSaga(ctx context.Context, sw *sagaWorld, a *argDecoder, now time.Time) (any, error) {
	sw.now = now
	var kind sagas.Kind
	a.enumArg("saga", "create, start, migrate, update, delete", func(s string) (err error) {
		kind, err = sagas.ParseKind(s)
		return err
	})
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
			p.enumArg("reason", strings.Join(names(failure.AllStartReasons()), ", "), func(s string) (err error) {
				reason, err = failure.ParseStartReason(s)
				return err
			})
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
	if a.err != nil {
		return nil, nil
	}
	r, err := sagas.Run(ctx, sw.world.Env, s, opt)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"outcome": r.Outcome.String(), "steps": orEmpty(r.Ran), "undone": orEmpty(r.Undone), "error": nil}
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

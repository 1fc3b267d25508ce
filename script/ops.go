package script

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/internal/jsonread"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/wire"
)

// An op is one operation of the language: the keys a line of it takes
// after "op" and "now", whether it writes, and run, which decodes the
// line's arguments (a bad one is the call's error) and applies it.
type op struct {
	keys     []jsonread.Key
	readOnly bool // it writes nothing
	run      func(c *call) (any, error)
}

// writes makes an op that writes, taking keys.
func writes(run func(*call) (any, error), keys ...jsonread.Key) op {
	return op{keys: keys, run: run}
}

// reads makes an op that writes nothing, taking keys.
func reads(run func(*call) (any, error), keys ...jsonread.Key) op {
	return op{keys: keys, readOnly: true, run: run}
}

// ops is the language, every operation by name — the one list of them:
// docs/cli.md's table is checked against it (TestOpsAreDocumented).
var ops = map[string]op{
	"instance_insert":               writes(instanceInsert, jsonread.Req("instance")),
	"vmm_insert":                    writes(vmmInsert, jsonread.Req("vmm")),
	"migration_insert":              writes(migrationInsert, jsonread.Req("migration")),
	"instance_fetch_all":            reads(instanceFetchAll, jsonread.Req("instance_id")),
	"vmm_fetch":                     reads(vmmFetch, jsonread.Req("vmm_id")),
	"migration_fetch":               reads(migrationFetch, jsonread.Req("migration_id")),
	"instance_update_runtime":       writes(instanceUpdateRuntime, jsonread.Req("instance_id"), jsonread.Req("runtime")),
	"instance_set_intended_state":   writes(instanceSetIntendedState, jsonread.Req("instance_id"), jsonread.Req("intended_state")),
	"instance_set_migration_ids":    writes(instanceSetMigrationIDs, jsonread.Req("instance_id"), jsonread.Req("source_propolis_id"), jsonread.Req("migration_id"), jsonread.Req("target_propolis_id")),
	"instance_unset_migration_ids":  writes(instanceUnsetMigrationIDs, jsonread.Req("instance_id"), jsonread.Req("migration_id"), jsonread.Req("target_propolis_id")),
	"instance_mark_as_starting":     writes(instanceMarkAsStarting, jsonread.Req("instance_id"), jsonread.Req("vmm_id"), jsonread.Req("reason")),
	"instance_record_start_failure": writes(instanceRecordStartFailure, jsonread.Req("instance_id"), jsonread.Opt("start_failure")),
	"instance_updater_lock":         writes(instanceUpdaterLock, jsonread.Req("instance_id"), jsonread.Req("saga_id")),
	"instance_updater_inherit_lock": writes(instanceUpdaterInheritLock, jsonread.Req("instance_id"), jsonread.Req("lock"), jsonread.Req("child_id")),
	"instance_updater_unlock":       writes(instanceUpdaterUnlock, jsonread.Req("instance_id"), jsonread.Req("lock")),
	"instance_commit_update":        writes(instanceCommitUpdate, jsonread.Req("instance_id"), jsonread.Req("lock"), jsonread.Req("runtime"), jsonread.Opt("intended_state")),
	"instance_delete":               writes(instanceDelete, jsonread.Req("instance_id")),
	"vmm_update_runtime":            writes(vmmUpdateRuntime, jsonread.Req("vmm_id"), jsonread.Req("runtime")),
	"vmm_mark_failed":               writes(vmmMarkFailed, jsonread.Req("vmm_id"), jsonread.Req("reason")),
	"vmm_mark_saga_unwound":         writes(vmmMarkSagaUnwound, jsonread.Req("vmm_id")),
	"vmm_mark_deleted":              writes(vmmMarkDeleted, jsonread.Req("vmm_id")),
	"migration_mark_failed":         writes(migrationMarkFailed, jsonread.Req("migration_id")),
	"migration_mark_deleted":        writes(migrationMarkDeleted, jsonread.Req("migration_id")),
	"instance_list_migrations":      reads(instanceListMigrations, jsonread.Req("instance_id")),
	"sled_report":                   writes(sledReport, jsonread.Req("vmm_id"), jsonread.Req("report")),
	"instance_request":              writes(instanceRequest, jsonread.Req("instance_id"), jsonread.Req("request")),
	"instance_update_saga":          writes(instanceUpdateSaga, jsonread.Req("instance_id"), jsonread.Req("saga_id")),
	"saga":                          writes(runSaga, jsonread.Req("saga"), jsonread.Req("params"), jsonread.Opt("fail_at"), jsonread.Opt("replay"), jsonread.Opt("sec"), jsonread.Opt("crash_after")),
	"saga_recover":                  writes(recoverSagas, jsonread.Req("sec")),
	"saga_adopt":                    writes(sagaAdopt, jsonread.Req("sec"), jsonread.Req("from")),
	"sec_renew":                     writes(secRenew, jsonread.Req("sec"), jsonread.Req("lease_secs")),
	"saga_fetch":                    reads(fetchSaga, jsonread.Req("saga_id")),
	"saga_list_unfinished":          reads(sagaListUnfinished),
	"reservation_list_leaked":       reads(leakedReservations),
	"find_instances_needing_update": reads(findInstancesNeedingUpdate),
	"find_reincarnatable_instances": reads(findReincarnatableInstances),
	"find_instances_to_reconcile":   reads(findInstancesToReconcile),
	"vmm_list_abandoned":            reads(vmmListAbandoned),
	"vmm_list_by_sled":              reads(vmmListBySled, jsonread.Req("sled_id")),
}

// call is one line being run: its arguments, decoded by the op (the first
// bad one is the line's error, argDecoder.err), and what it runs against.
type call struct {
	argDecoder
	ctx context.Context
	st  datastore.Store
	sw  *sagaWorld
	now time.Time
}

// ok reports whether every argument read so far was valid: an op runs
// nothing unless it is.
func (c *call) ok() bool { return c.err == nil }

// runOp runs the line's operation. A bad argument is a decode error (exit
// 2); a refusal is the *datastore.Error returned as opErr (an ok:false
// line); anything else is err.
func runOp(ctx context.Context, st datastore.Store, sw *sagaWorld, line scriptLine, now time.Time) (result any, opErr *datastore.Error, err error) {
	c := &call{argDecoder: argDecoder{line: line}, ctx: ctx, st: st, sw: sw, now: now}
	res, err := ops[line.op].run(c)
	if c.err != nil {
		return nil, nil, c.err
	}
	var de *datastore.Error
	if errors.As(err, &de) {
		return nil, de, nil
	}
	return res, nil, err
}

// written makes a write's answer under key ("updated", "committed", …):
// written("updated")(st.VMMMarkFailed(…)).
func written(key string) func(datastore.Result, error) (any, error) {
	return func(r datastore.Result, err error) (any, error) { return resultJSON(key, r), err }
}

func instanceInsert(c *call) (any, error) {
	var in instancestate.Instance
	c.value("instance", &in)
	if c.ok() {
		if err := in.Validate(); err != nil {
			c.err = &wire.DecodeError{Path: "instance", Problem: err.Error(), Err: err}
		}
	}
	if !c.ok() {
		return nil, nil
	}
	got, err := c.st.InstanceInsert(c.ctx, in)
	return map[string]any{"instance": got}, err
}

func vmmInsert(c *call) (any, error) {
	var v vmmstate.VMM
	if c.value("vmm", &v); !c.ok() {
		return nil, nil
	}
	got, err := c.st.VMMInsert(c.ctx, v)
	return map[string]any{"vmm": got}, err
}

func migrationInsert(c *call) (any, error) {
	var m migration.Record
	c.value("migration", &m)
	if c.ok() {
		if err := m.Validate(); err != nil {
			c.err = &wire.DecodeError{Path: "migration", Problem: err.Error(), Err: err}
		} else if m.TimeCreated.IsZero() {
			// Optional in the snapshot document, but every store keeps
			// it: a record without it is not one a store can hold.
			c.err = &wire.DecodeError{Path: "migration.time_created", Problem: "null",
				Accepted: "an RFC 3339 time: when the migration was created"}
		}
	}
	if !c.ok() {
		return nil, nil
	}
	got, err := c.st.MigrationInsert(c.ctx, m)
	return map[string]any{"migration": got}, err
}

func instanceFetchAll(c *call) (any, error) {
	id := c.instanceID()
	if !c.ok() {
		return nil, nil
	}
	s, err := c.st.InstanceFetchAll(c.ctx, id)
	return map[string]any{"snapshot": s}, err
}

func vmmFetch(c *call) (any, error) {
	id := c.vmmID("vmm_id")
	if !c.ok() {
		return nil, nil
	}
	row, err := c.st.VMMFetch(c.ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := row.VMM.MarshalJSON()
	return map[string]any{"vmm": json.RawMessage(withDeleted(b, row.TimeDeleted))}, err
}

func migrationFetch(c *call) (any, error) {
	id := c.migrationID()
	if !c.ok() {
		return nil, nil
	}
	row, err := c.st.MigrationFetch(c.ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := row.Migration.MarshalJSON()
	return map[string]any{"migration": json.RawMessage(withDeleted(b, row.TimeDeleted))}, err
}

func instanceUpdateRuntime(c *call) (any, error) {
	id, rt := c.instanceID(), c.instanceRuntime("runtime")
	if !c.ok() {
		return nil, nil
	}
	return written("updated")(c.st.InstanceUpdateRuntime(c.ctx, id, rt, instancestate.IntentUnchanged))
}

func instanceSetIntendedState(c *call) (any, error) {
	id, i := c.instanceID(), c.intent("intended_state")
	if !c.ok() {
		return nil, nil
	}
	return written("updated")(c.st.InstanceSetIntendedState(c.ctx, id, i))
}

func instanceSetMigrationIDs(c *call) (any, error) {
	id, src, mig, dst := c.instanceID(), c.vmmID("source_propolis_id"), c.migrationID(), c.vmmID("target_propolis_id")
	if !c.ok() {
		return nil, nil
	}
	in, err := c.st.InstanceSetMigrationIDs(c.ctx, id, datastore.SetMigrationIDsArgs{Source: src, Migration: mig, Target: dst, Now: c.now})
	return map[string]any{"instance": in}, err
}

func instanceUnsetMigrationIDs(c *call) (any, error) {
	id, mig, dst := c.instanceID(), c.migrationID(), c.vmmID("target_propolis_id")
	if !c.ok() {
		return nil, nil
	}
	return written("updated")(c.st.InstanceUnsetMigrationIDs(c.ctx, id, datastore.UnsetMigrationIDsArgs{Migration: mig, Target: dst, Now: c.now}))
}

func instanceMarkAsStarting(c *call) (any, error) {
	id, vmm := c.instanceID(), c.vmmID("vmm_id")
	reason := enumOf(&c.argDecoder, "reason", failure.AllStartReasons(), failure.ParseStartReason)
	if !c.ok() {
		return nil, nil
	}
	in, err := c.st.InstanceMarkAsStarting(c.ctx, id, datastore.MarkAsStartingArgs{VMM: vmm, Reason: reason, Now: c.now})
	return map[string]any{"instance": in}, err
}

func instanceRecordStartFailure(c *call) (any, error) {
	id := c.instanceID()
	var f failure.StartFailure
	if !c.null("start_failure") {
		c.value("start_failure", &f)
	}
	if !c.ok() {
		return nil, nil
	}
	return written("updated")(c.st.InstanceRecordStartFailure(c.ctx, id, f))
}

// lockResult is a lock's answer: {"lock": {"updater_id", "locked_gen"}}.
func lockResult(l instancestate.Lock, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return map[string]any{"lock": lockJSON{UpdaterID: l.Updater, LockedGen: l.Gen.Uint64()}}, nil
}

func instanceUpdaterLock(c *call) (any, error) {
	id, saga := c.instanceID(), instancestate.UpdaterIDFromUUID(c.uuidArg("saga_id"))
	if !c.ok() {
		return nil, nil
	}
	return lockResult(c.st.InstanceUpdaterLock(c.ctx, id, saga))
}

func instanceUpdaterInheritLock(c *call) (any, error) {
	id, parent, child := c.instanceID(), c.lock("lock"), instancestate.UpdaterIDFromUUID(c.uuidArg("child_id"))
	if !c.ok() {
		return nil, nil
	}
	return lockResult(c.st.InstanceUpdaterInheritLock(c.ctx, id, parent, child))
}

func instanceUpdaterUnlock(c *call) (any, error) {
	id, l := c.instanceID(), c.lock("lock")
	if !c.ok() {
		return nil, nil
	}
	return written("unlocked")(c.st.InstanceUpdaterUnlock(c.ctx, id, l))
}

func instanceCommitUpdate(c *call) (any, error) {
	id, l, rt, i := c.instanceID(), c.lock("lock"), c.instanceRuntime("runtime"), c.intent("intended_state")
	if !c.ok() {
		return nil, nil
	}
	return written("committed")(c.st.InstanceCommitUpdate(c.ctx, id, l, instancestate.Plan{Runtime: rt, Intent: i}))
}

func instanceDelete(c *call) (any, error) {
	id := c.instanceID()
	if !c.ok() {
		return nil, nil
	}
	return written("deleted")(c.st.InstanceDelete(c.ctx, id, c.now))
}

func vmmUpdateRuntime(c *call) (any, error) {
	id, rt := c.vmmID("vmm_id"), c.vmmRuntime("runtime")
	if !c.ok() {
		return nil, nil
	}
	return written("updated")(c.st.VMMUpdateRuntime(c.ctx, id, rt))
}

func vmmMarkFailed(c *call) (any, error) {
	id := c.vmmID("vmm_id")
	reason := enumOf(&c.argDecoder, "reason", failure.AllReasons(), failure.ParseReason)
	if !c.ok() {
		return nil, nil
	}
	return written("updated")(c.st.VMMMarkFailed(c.ctx, id, reason, c.now))
}

func vmmMarkSagaUnwound(c *call) (any, error) {
	id := c.vmmID("vmm_id")
	if !c.ok() {
		return nil, nil
	}
	return written("updated")(c.st.VMMMarkSagaUnwound(c.ctx, id, c.now))
}

func vmmMarkDeleted(c *call) (any, error) {
	id := c.vmmID("vmm_id")
	if !c.ok() {
		return nil, nil
	}
	return written("deleted")(c.st.VMMMarkDeleted(c.ctx, id, c.now))
}

func migrationMarkFailed(c *call) (any, error) {
	id := c.migrationID()
	if !c.ok() {
		return nil, nil
	}
	return written("updated")(c.st.MigrationMarkFailed(c.ctx, id, c.now))
}

func migrationMarkDeleted(c *call) (any, error) {
	id := c.migrationID()
	if !c.ok() {
		return nil, nil
	}
	return written("deleted")(c.st.MigrationMarkDeleted(c.ctx, id, c.now))
}

func instanceListMigrations(c *call) (any, error) {
	id := c.instanceID()
	if !c.ok() {
		return nil, nil
	}
	ids, err := c.st.InstanceListMigrations(c.ctx, id)
	return map[string]any{"migration_ids": orEmpty(ids)}, err
}

func sledReport(c *call) (any, error) {
	id := c.vmmID("vmm_id")
	if !c.ok() {
		return nil, nil
	}
	// D20: the sled-agent's document ignores keys it does not know, and
	// contents vmlife refuses are an invalid_request result, not a broken
	// script.
	var r instancestate.Report
	if err := r.UnmarshalJSON(c.line.args["report"]); err != nil {
		return nil, &datastore.Error{Op: c.line.op, Kind: datastore.KindInvalidRequest, Message: err.Error(), Err: err}
	}
	res, err := c.st.SledReport(c.ctx, id, r)
	return map[string]any{"vmm_updated": res.VMM.Applied, "migration_in_updated": res.MigrationIn.Applied,
		"migration_out_updated": res.MigrationOut.Applied, "update_saga_needed": res.UpdateSagaNeeded}, err
}

func instanceRequest(c *call) (any, error) {
	id := c.instanceID()
	req := enumOf(&c.argDecoder, "request", instancestate.AllRequests(), instancestate.ParseRequest)
	if !c.ok() {
		return nil, nil
	}
	r, err := datastore.InstanceRequest(c.ctx, c.st, id, req, c.now)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"action": r.Decision.Action.String(), "status": r.Decision.Status, "message": r.Decision.Message, "intended_state": nil}
	if r.Intent != instancestate.IntentUnchanged {
		out["intended_state"] = r.Intent.String()
	}
	return out, nil
}

func sagaAdopt(c *call) (any, error) {
	sec, from := c.uuidArg("sec"), c.uuidArg("from")
	if !c.ok() {
		return nil, nil
	}
	c.sw.now = c.now
	if c.sw.log == nil {
		return nil, errNoLog
	}
	ids, err := c.sw.sec(sec).Adopt(c.ctx, from)
	return map[string]any{"adopted": orEmpty(ids)}, err
}

func secRenew(c *call) (any, error) {
	sec := c.uuidArg("sec")
	var secs int64
	c.read("lease_secs", func(d *jsonread.Decoder) { secs = d.Int64(1, 1<<31-1, "a number of seconds from 1 to 2147483647") })
	if !c.ok() {
		return nil, nil
	}
	if c.sw.log == nil {
		return nil, errNoLog
	}
	exp, err := c.sw.log.SECRenew(c.ctx, sec, c.now.Add(time.Duration(secs)*time.Second))
	return map[string]any{"lease_expires": exp}, err
}

func sagaListUnfinished(c *call) (any, error) {
	if c.sw.log == nil {
		return nil, errNoLog
	}
	recs, err := c.sw.log.SagaListUnfinished(c.ctx, uuid.Nil)
	ids := make([]uuid.UUID, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return map[string]any{"saga_ids": ids}, err
}

func findInstancesNeedingUpdate(c *call) (any, error) {
	ids, err := c.st.FindInstancesNeedingUpdate(c.ctx, c.now)
	return map[string]any{"instance_ids": orEmpty(ids)}, err
}

func findReincarnatableInstances(c *call) (any, error) {
	ids, err := c.st.FindReincarnatableInstances(c.ctx, c.now)
	return map[string]any{"instance_ids": orEmpty(ids)}, err
}

func findInstancesToReconcile(c *call) (any, error) {
	ids, err := c.st.FindInstancesToReconcile(c.ctx, c.now)
	return map[string]any{"instance_ids": orEmpty(ids)}, err
}

func vmmListAbandoned(c *call) (any, error) {
	ids, err := c.st.VMMListAbandoned(c.ctx)
	return map[string]any{"vmm_ids": orEmpty(ids)}, err
}

func vmmListBySled(c *call) (any, error) {
	sled := vmmstate.SledIDFromUUID(c.uuidArg("sled_id"))
	if !c.ok() {
		return nil, nil
	}
	ids, err := c.st.VMMListBySled(c.ctx, sled)
	return map[string]any{"vmm_ids": orEmpty(ids)}, err
}

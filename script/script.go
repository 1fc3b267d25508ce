package script

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// Epoch is the clock before any line sets "now" (docs/cli.md).
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// A script line's operations: the keys each takes after "op" and "now".
var scriptOps = map[string][]jsonread.Key{
	"instance_insert":               {jsonread.Req("instance")},
	"vmm_insert":                    {jsonread.Req("vmm")},
	"migration_insert":              {jsonread.Req("migration")},
	"instance_fetch_all":            {jsonread.Req("instance_id")},
	"vmm_fetch":                     {jsonread.Req("vmm_id")},
	"migration_fetch":               {jsonread.Req("migration_id")},
	"instance_update_runtime":       {jsonread.Req("instance_id"), jsonread.Req("runtime")},
	"instance_set_intended_state":   {jsonread.Req("instance_id"), jsonread.Req("intended_state")},
	"instance_set_migration_ids":    {jsonread.Req("instance_id"), jsonread.Req("source_propolis_id"), jsonread.Req("migration_id"), jsonread.Req("target_propolis_id")},
	"instance_unset_migration_ids":  {jsonread.Req("instance_id"), jsonread.Req("migration_id"), jsonread.Req("target_propolis_id")},
	"instance_mark_as_starting":     {jsonread.Req("instance_id"), jsonread.Req("vmm_id"), jsonread.Req("reason")},
	"instance_record_start_failure": {jsonread.Req("instance_id"), jsonread.Opt("start_failure")},
	"instance_updater_lock":         {jsonread.Req("instance_id"), jsonread.Req("saga_id")},
	"instance_updater_inherit_lock": {jsonread.Req("instance_id"), jsonread.Req("lock"), jsonread.Req("child_id")},
	"instance_updater_unlock":       {jsonread.Req("instance_id"), jsonread.Req("lock")},
	"instance_commit_update":        {jsonread.Req("instance_id"), jsonread.Req("lock"), jsonread.Req("runtime"), jsonread.Opt("intended_state")},
	"instance_delete":               {jsonread.Req("instance_id")},
	"vmm_update_runtime":            {jsonread.Req("vmm_id"), jsonread.Req("runtime")},
	"vmm_mark_failed":               {jsonread.Req("vmm_id"), jsonread.Req("reason")},
	"vmm_mark_saga_unwound":         {jsonread.Req("vmm_id")},
	"vmm_mark_deleted":              {jsonread.Req("vmm_id")},
	"migration_mark_failed":         {jsonread.Req("migration_id")},
	"migration_mark_deleted":        {jsonread.Req("migration_id")},
	"instance_list_migrations":      {jsonread.Req("instance_id")},
	"sled_report":                   {jsonread.Req("vmm_id"), jsonread.Req("report")},
	"instance_request":              {jsonread.Req("instance_id"), jsonread.Req("request")},
	"instance_update_saga":          {jsonread.Req("instance_id"), jsonread.Req("saga_id")},
	"saga":                          {jsonread.Req("saga"), jsonread.Req("params"), jsonread.Opt("fail_at"), jsonread.Opt("replay"), jsonread.Opt("sec"), jsonread.Opt("crash_after")},
	"saga_recover":                  {jsonread.Req("sec")},
	"saga_adopt":                    {jsonread.Req("sec"), jsonread.Req("from")},
	"sec_renew":                     {jsonread.Req("sec"), jsonread.Req("lease_secs")},
	"saga_fetch":                    {jsonread.Req("saga_id")},
	"saga_list_unfinished":          {},
	"reservation_list_leaked":       {},
	"find_instances_needing_update": {},
	"find_reincarnatable_instances": {},
	"vmm_list_abandoned":            {},
	"vmm_list_by_sled":              {jsonread.Req("sled_id")},
}

// opKeys are the key tables, made once, when the first script line is
// read (not at every start of the tool): "op", "now", then the op's own.
var opKeys = sync.OnceValue(func() map[string]*jsonread.Keys {
	out := make(map[string]*jsonread.Keys, len(scriptOps))
	accepted := strings.Join(opNames(), ", ")
	for op, keys := range scriptOps {
		out[op] = jsonread.NewKeys(append([]jsonread.Key{jsonread.Req("op"), jsonread.Opt("now")}, keys...)...).
			Hint("op", accepted).Hint("now", jsonread.AcceptTime)
	}
	return out
})

// opNames returns the operations' names, sorted.
func opNames() []string { return slices.Sorted(maps.Keys(scriptOps)) }

// headKeys finds "op" on a line before its own table is known.
var headKeys = jsonread.NewKeys(jsonread.Req("op")).Lenient().Hint("op", "an operation name")

// scriptLine is one decoded line: the operation and its arguments.
type scriptLine struct {
	op   string
	now  time.Time
	args map[string][]byte // raw values, decoded by the op
}

// parseScriptLine decodes one line strictly: a JSON object with a known
// "op", optional "now", and exactly the op's keys.
func parseScriptLine(b []byte) (scriptLine, error) {
	var d jsonread.Decoder
	d.Reset(b)
	var op string
	o := d.Object(headKeys)
	for o.Next() {
		op = string(d.String("an operation name"))
	}
	if err := d.End(); err != nil {
		return scriptLine{}, err
	}
	keys, ok := opKeys()[op]
	if !ok {
		q := strconv.Quote(op)
		return scriptLine{}, &wire.DecodeError{Path: "op", Problem: "unknown value " + q, Value: q, Accepted: strings.Join(opNames(), ", ")}
	}
	line := scriptLine{op: op, args: map[string][]byte{}}
	d.Reset(b)
	names := keys.Names()
	o = d.Object(keys)
	for o.Next() {
		switch k := names[o.Key()]; k {
		case "op":
			d.String("")
		case "now":
			line.now = d.Time()
		default:
			if raw := d.Raw(); raw != nil {
				line.args[k] = raw
			}
		}
	}
	return line, d.End()
}

// argDecoder reads one argument of a line, keeping the first error with
// the argument's path.
type argDecoder struct {
	line scriptLine
	err  error
}

func (a *argDecoder) value(key string, u json.Unmarshaler) {
	if a.err != nil {
		return
	}
	raw := a.line.args[key]
	if raw == nil || string(bytes.TrimSpace(raw)) == "null" {
		a.err = &wire.DecodeError{Path: key, Problem: "null", Accepted: "a value"}
		return
	}
	if err := u.UnmarshalJSON(raw); err != nil {
		var de *wire.DecodeError
		if errors.As(err, &de) {
			a.err = de.Within(key)
		} else {
			a.err = &wire.DecodeError{Path: key, Problem: err.Error(), Err: err}
		}
	}
}

// read decodes the argument key with fn over a jsonread decoder.
func (a *argDecoder) read(key string, fn func(d *jsonread.Decoder)) {
	if a.err != nil {
		return
	}
	var d jsonread.Decoder
	d.Reset(a.line.args[key])
	fn(&d)
	if err := d.End(); err != nil {
		var de *wire.DecodeError
		errors.As(err, &de)
		a.err = de.Within(key)
	}
}

func (a *argDecoder) uuidArg(key string) (u [16]byte) {
	a.read(key, func(d *jsonread.Decoder) { u = d.UUID(true) })
	return u
}

func (a *argDecoder) enumArg(key, accepted string, parse func(string) error) {
	a.read(key, func(d *jsonread.Decoder) {
		s := d.String(accepted)
		if d.Failed() {
			return
		}
		if err := parse(string(s)); err != nil {
			q := strconv.Quote(string(s))
			d.Fail("unknown value "+q, q, accepted, err)
		}
	})
}

var (
	instanceRuntimeKeys = jsonread.NewKeys(jsonread.Req("state"), jsonread.Req("state_generation"), jsonread.Req("time_state_updated"),
		jsonread.Opt("active_propolis_id"), jsonread.Opt("target_propolis_id"), jsonread.Opt("migration_id"), jsonread.Opt("time_last_auto_restarted"))
	vmmRuntimeKeys = jsonread.NewKeys(jsonread.Req("state"), jsonread.Opt("failure_reason"), jsonread.Req("state_generation"), jsonread.Req("time_state_updated"))
	lockKeys       = jsonread.NewKeys(jsonread.Req("updater_id"), jsonread.Req("locked_gen"))
)

func (a *argDecoder) instanceRuntime(key string) (rt instancestate.Runtime) {
	a.read(key, func(d *jsonread.Decoder) {
		o := d.Object(instanceRuntimeKeys)
		for o.Next() {
			switch o.Key() {
			case 0:
				s := d.String(strings.Join(names(instancestate.AllNexusStates()), ", "))
				if !d.Failed() {
					n, err := instancestate.ParseNexusState(string(s))
					if err != nil {
						d.Fail("unknown value "+strconv.Quote(string(s)), string(s), strings.Join(names(instancestate.AllNexusStates()), ", "), err)
					}
					rt.State = n
				}
			case 1:
				rt.Generation = d.Generation()
			case 2:
				rt.TimeUpdated = d.Time()
			case 3:
				rt.ActiveVMM = vmmstate.IDFromUUID(d.UUID(true))
			case 4:
				rt.TargetVMM = vmmstate.IDFromUUID(d.UUID(true))
			case 5:
				rt.MigrationID = migration.IDFromUUID(d.UUID(true))
			case 6:
				rt.TimeLastAutoRestarted = d.Time()
			}
		}
	})
	return rt
}

func (a *argDecoder) vmmRuntime(key string) vmmstate.Runtime {
	var row vmmstate.Row
	a.read(key, func(d *jsonread.Decoder) {
		o := d.Object(vmmRuntimeKeys)
		for o.Next() {
			switch o.Key() {
			case 0:
				row.State, _ = jsonread.Parsed(d, strings.Join(names(vmmstate.AllKinds()), ", "), vmmstate.ParseKind)
			case 1:
				row.FailureReason.V, row.FailureReason.Valid = jsonread.Parsed(d, strings.Join(names(failure.AllReasons()), ", "), failure.ParseReason)
			case 2:
				row.StateGeneration = d.Generation()
			case 3:
				row.TimeStateUpdated = d.Time()
			}
		}
		if !d.Failed() {
			if _, err := row.Runtime(); err != nil {
				d.FailChild("failure_reason", err.Error(), "", "null unless state is failed; a reason when it is", err)
			}
		}
	})
	rt, _ := row.Runtime()
	return rt
}

func (a *argDecoder) lock(key string) (l instancestate.Lock) {
	a.read(key, func(d *jsonread.Decoder) {
		o := d.Object(lockKeys)
		for o.Next() {
			switch o.Key() {
			case 0:
				l.Updater = instancestate.UpdaterIDFromUUID(d.UUID(true))
			case 1:
				l.Gen = d.Generation()
			}
		}
	})
	return l
}

// Run applies the lines of in to st in order and writes one result line
// per operation line to out, as each line is processed.
//
// A line that is not a valid operation stops the run: Run returns a
// *wire.DecodeError (matching wire.ErrDecode) whose path starts with the
// line number ("line 3: vmm.state"), and nothing after that line runs. A
// refused operation is not an error: it is an "ok": false line, and the
// run goes on. A store that fails under a line, rather than answering it
// — a lost connection, under any operation or any step of a saga line — ends
// the run with a *StoreFailure that says whether the line's write may have
// been committed; the line's result is not written. Any other error
// (writing out, reading in) is returned as it is.
func Run(ctx context.Context, store datastore.Store, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), wire.MaxDocumentSize) // D24: a line is bounded
	w := bufio.NewWriter(out)
	defer w.Flush()
	now := Epoch
	st := &watched{st: store}
	log, _ := store.(datastore.SagaLog)
	var resv datastore.SledReservations
	if r, ok := store.(datastore.SledReservations); ok {
		resv = &watchedReservations{w: st, r: r}
	}
	sw := newSagaWorld(st, log, resv)
	n := 1 // the number of the line being read; after the loop, of the one the scanner stopped in
	for ; sc.Scan(); n++ {
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		line, err := parseScriptLine(b)
		if err != nil {
			w.Flush()
			return lineError(n, err)
		}
		if !line.now.IsZero() {
			now = line.now
		}
		result, opErr, err := runOp(ctx, st, sw, line, now)
		var de *wire.DecodeError
		switch fail := st.take(); {
		case err != nil && errors.As(err, &de):
			w.Flush()
			return lineError(n, err)
		case fail != nil:
			w.Flush()
			return &StoreFailure{Line: n, Op: line.op, Writes: !readOnly[line.op], Err: fail}
		case err != nil:
			w.Flush()
			return fmt.Errorf("line %d: %w", n, err)
		}
		res := scriptOutput{Line: n, Op: line.op, OK: opErr == nil}
		if opErr != nil {
			res.Error = &scriptError{Kind: opErr.Kind.String(), Message: opErr.Message}
		} else {
			res.Result = result
		}
		enc, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		w.Write(enc)
		w.WriteByte('\n')
		if err := w.Flush(); err != nil { // output is written as each line is processed
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return lineError(n, &wire.DecodeError{Path: "input", Problem: "a line longer than " + strconv.Itoa(wire.MaxDocumentSize) + " bytes",
				Accepted: "lines of at most " + strconv.Itoa(wire.MaxDocumentSize) + " bytes"})
		}
		return err
	}
	return nil
}

// lineError puts the line number in front of a decode error's path.
func lineError(n int, err error) error {
	var de *wire.DecodeError
	if errors.As(err, &de) {
		c := *de
		c.Path = "line " + strconv.Itoa(n) + ": " + pathOrInput(de.Path)
		return &c
	}
	return err
}

func pathOrInput(p string) string {
	if p == "" {
		return "input"
	}
	return p
}

type scriptOutput struct {
	Line   int          `json:"line"`
	Op     string       `json:"op"`
	OK     bool         `json:"ok"`
	Result any          `json:"result,omitempty"`
	Error  *scriptError `json:"error,omitempty"`
}

type scriptError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// resultJSON writes a write's answer under key ("updated", "committed", …),
// with the reason when it was not applied.
func resultJSON(key string, r datastore.Result) map[string]any {
	out := map[string]any{key: r.Applied}
	if !r.Applied {
		out["reason"] = r.Reason.String()
	}
	return out
}

type lockJSON struct {
	UpdaterID instancestate.UpdaterID `json:"updater_id"`
	LockedGen uint64                  `json:"locked_gen"`
}

// withDeleted adds "time_deleted" to a record's JSON object.
func withDeleted(rec []byte, deleted time.Time) []byte {
	rec = rec[:len(rec)-1]
	rec = append(rec, `,"time_deleted":`...)
	if deleted.IsZero() {
		rec = append(rec, "null"...)
	} else {
		rec = append(rec, '"')
		rec = wire.AppendTime(rec, deleted)
		rec = append(rec, '"')
	}
	return append(rec, '}')
}

// runOp decodes the line's arguments and runs its operation. A bad
// argument is a decode error (exit 2); a refusal is the *datastore.Error
// returned as opErr (an ok:false line); anything else is err.
func runOp(ctx context.Context, st datastore.Store, sw *sagaWorld, line scriptLine, now time.Time) (result any, opErr *datastore.Error, err error) {
	a := &argDecoder{line: line}
	instanceID := func() instancestate.ID { return vmmstate.InstanceIDFromUUID(a.uuidArg("instance_id")) }
	vmmID := func(key string) vmmstate.ID { return vmmstate.IDFromUUID(a.uuidArg(key)) }
	migrationID := func() migration.ID { return migration.IDFromUUID(a.uuidArg("migration_id")) }
	intent := func(key string) (v instancestate.IntendedState) {
		if raw := a.line.args[key]; raw == nil || string(bytes.TrimSpace(raw)) == "null" {
			return instancestate.IntentUnchanged
		}
		a.enumArg(key, strings.Join(names(instancestate.AllIntendedStates()), ", "), func(s string) (err error) {
			v, err = instancestate.ParseIntendedState(s)
			return err
		})
		return v
	}
	var (
		res  any
		werr error
	)
	do := func(f func() (any, error)) {
		if a.err == nil {
			res, werr = f()
		}
	}
	written := func(key string, r datastore.Result, err error) (any, error) { return resultJSON(key, r), err }
	switch line.op {
	case "instance_insert":
		var in instancestate.Instance
		a.value("instance", &in)
		if a.err == nil {
			if verr := in.Validate(); verr != nil {
				a.err = &wire.DecodeError{Path: "instance", Problem: verr.Error(), Err: verr}
			}
		}
		do(func() (any, error) {
			got, err := st.InstanceInsert(ctx, in)
			return map[string]any{"instance": got}, err
		})
	case "vmm_insert":
		var v vmmstate.VMM
		a.value("vmm", &v)
		do(func() (any, error) {
			got, err := st.VMMInsert(ctx, v)
			return map[string]any{"vmm": got}, err
		})
	case "migration_insert":
		var m migration.Record
		a.value("migration", &m)
		if a.err == nil {
			if verr := m.Validate(); verr != nil {
				a.err = &wire.DecodeError{Path: "migration", Problem: verr.Error(), Err: verr}
			} else if m.TimeCreated.IsZero() {
				// Optional in the snapshot document, but every store keeps
				// it: a record without it is not one a store can hold.
				a.err = &wire.DecodeError{Path: "migration.time_created", Problem: "null",
					Accepted: "an RFC 3339 time: when the migration was created"}
			}
		}
		do(func() (any, error) {
			got, err := st.MigrationInsert(ctx, m)
			return map[string]any{"migration": got}, err
		})
	case "instance_fetch_all":
		id := instanceID()
		do(func() (any, error) {
			s, err := st.InstanceFetchAll(ctx, id)
			return map[string]any{"snapshot": s}, err
		})
	case "vmm_fetch":
		id := vmmID("vmm_id")
		do(func() (any, error) {
			row, err := st.VMMFetch(ctx, id)
			if err != nil {
				return nil, err
			}
			b, err := row.VMM.MarshalJSON()
			return map[string]any{"vmm": json.RawMessage(withDeleted(b, row.TimeDeleted))}, err
		})
	case "migration_fetch":
		id := migrationID()
		do(func() (any, error) {
			row, err := st.MigrationFetch(ctx, id)
			if err != nil {
				return nil, err
			}
			b, err := row.Migration.MarshalJSON()
			return map[string]any{"migration": json.RawMessage(withDeleted(b, row.TimeDeleted))}, err
		})
	case "instance_update_runtime":
		id, rt := instanceID(), a.instanceRuntime("runtime")
		do(func() (any, error) {
			r, err := st.InstanceUpdateRuntime(ctx, id, rt, instancestate.IntentUnchanged)
			return written("updated", r, err)
		})
	case "instance_set_intended_state":
		id, i := instanceID(), intent("intended_state")
		do(func() (any, error) {
			r, err := st.InstanceSetIntendedState(ctx, id, i)
			return written("updated", r, err)
		})
	case "instance_set_migration_ids":
		id, src, mig, dst := instanceID(), vmmID("source_propolis_id"), migrationID(), vmmID("target_propolis_id")
		do(func() (any, error) {
			in, err := st.InstanceSetMigrationIDs(ctx, id, src, mig, dst, now)
			return map[string]any{"instance": in}, err
		})
	case "instance_unset_migration_ids":
		id, mig, dst := instanceID(), migrationID(), vmmID("target_propolis_id")
		do(func() (any, error) {
			r, err := st.InstanceUnsetMigrationIDs(ctx, id, mig, dst, now)
			return written("updated", r, err)
		})
	case "instance_mark_as_starting":
		id, vmm := instanceID(), vmmID("vmm_id")
		var reason failure.StartReason
		a.enumArg("reason", strings.Join(names(failure.AllStartReasons()), ", "), func(s string) (err error) {
			reason, err = failure.ParseStartReason(s)
			return err
		})
		do(func() (any, error) {
			in, err := st.InstanceMarkAsStarting(ctx, id, vmm, reason, now)
			return map[string]any{"instance": in}, err
		})
	case "instance_record_start_failure":
		id := instanceID()
		var f failure.StartFailure
		if raw := a.line.args["start_failure"]; raw != nil && string(bytes.TrimSpace(raw)) != "null" {
			a.value("start_failure", &f)
		}
		do(func() (any, error) {
			r, err := st.InstanceRecordStartFailure(ctx, id, f)
			return written("updated", r, err)
		})
	case "instance_updater_lock", "instance_updater_inherit_lock":
		id := instanceID()
		var l instancestate.Lock
		if line.op == "instance_updater_lock" {
			saga := instancestate.UpdaterIDFromUUID(a.uuidArg("saga_id"))
			do(func() (any, error) { var err error; l, err = st.InstanceUpdaterLock(ctx, id, saga); return nil, err })
		} else {
			parent, child := a.lock("lock"), instancestate.UpdaterIDFromUUID(a.uuidArg("child_id"))
			do(func() (any, error) {
				var err error
				l, err = st.InstanceUpdaterInheritLock(ctx, id, parent, child)
				return nil, err
			})
		}
		if res == nil && werr == nil && a.err == nil {
			res = map[string]any{"lock": lockJSON{UpdaterID: l.Updater, LockedGen: l.Gen.Uint64()}}
		}
	case "instance_updater_unlock":
		id, l := instanceID(), a.lock("lock")
		do(func() (any, error) {
			r, err := st.InstanceUpdaterUnlock(ctx, id, l)
			return written("unlocked", r, err)
		})
	case "instance_commit_update":
		id, l, rt, i := instanceID(), a.lock("lock"), a.instanceRuntime("runtime"), intent("intended_state")
		do(func() (any, error) {
			r, err := st.InstanceCommitUpdate(ctx, id, l, instancestate.Plan{Runtime: rt, Intent: i})
			return written("committed", r, err)
		})
	case "instance_delete":
		id := instanceID()
		do(func() (any, error) {
			r, err := st.InstanceDelete(ctx, id, now)
			return written("deleted", r, err)
		})
	case "vmm_update_runtime":
		id, rt := vmmID("vmm_id"), a.vmmRuntime("runtime")
		do(func() (any, error) {
			r, err := st.VMMUpdateRuntime(ctx, id, rt)
			return written("updated", r, err)
		})
	case "vmm_mark_failed":
		id := vmmID("vmm_id")
		var reason failure.Reason
		a.enumArg("reason", strings.Join(names(failure.AllReasons()), ", "), func(s string) (err error) {
			reason, err = failure.ParseReason(s)
			return err
		})
		do(func() (any, error) {
			r, err := st.VMMMarkFailed(ctx, id, reason, now)
			return written("updated", r, err)
		})
	case "vmm_mark_saga_unwound":
		id := vmmID("vmm_id")
		do(func() (any, error) {
			r, err := st.VMMMarkSagaUnwound(ctx, id, now)
			return written("updated", r, err)
		})
	case "vmm_mark_deleted":
		id := vmmID("vmm_id")
		do(func() (any, error) {
			r, err := st.VMMMarkDeleted(ctx, id, now)
			return written("deleted", r, err)
		})
	case "migration_mark_failed":
		id := migrationID()
		do(func() (any, error) {
			r, err := st.MigrationMarkFailed(ctx, id, now)
			return written("updated", r, err)
		})
	case "migration_mark_deleted":
		id := migrationID()
		do(func() (any, error) {
			r, err := st.MigrationMarkDeleted(ctx, id, now)
			return written("deleted", r, err)
		})
	case "instance_list_migrations":
		id := instanceID()
		do(func() (any, error) {
			ids, err := st.InstanceListMigrations(ctx, id)
			return map[string]any{"migration_ids": orEmpty(ids)}, err
		})
	case "sled_report":
		id := vmmID("vmm_id")
		var r instancestate.Report
		if a.err == nil {
			// D20: the sled-agent's document ignores keys it does not know,
			// and contents vmlife refuses are an invalid_request result, not
			// a broken script.
			if derr := r.UnmarshalJSON(a.line.args["report"]); derr != nil {
				return nil, &datastore.Error{Op: line.op, Kind: datastore.KindInvalidRequest, Message: derr.Error(), Err: derr}, nil
			}
		}
		do(func() (any, error) {
			res, err := st.SledReport(ctx, id, r)
			return map[string]any{"vmm_updated": res.VMM.Applied, "migration_in_updated": res.MigrationIn.Applied,
				"migration_out_updated": res.MigrationOut.Applied, "update_saga_needed": res.UpdateSagaNeeded}, err
		})
	case "instance_request":
		id := instanceID()
		var req instancestate.Request
		a.enumArg("request", strings.Join(names(instancestate.AllRequests()), ", "), func(s string) (err error) {
			req, err = instancestate.ParseRequest(s)
			return err
		})
		do(func() (any, error) {
			r, err := datastore.InstanceRequest(ctx, st, id, req, now)
			if err != nil {
				return nil, err
			}
			out := map[string]any{"action": r.Decision.Action.String(), "status": r.Decision.Status, "message": r.Decision.Message, "intended_state": nil}
			if r.Intent != instancestate.IntentUnchanged {
				out["intended_state"] = r.Intent.String()
			}
			return out, nil
		})
	case "instance_update_saga":
		id, saga := instanceID(), instancestate.UpdaterIDFromUUID(a.uuidArg("saga_id"))
		do(func() (any, error) {
			o, plans, err := datastore.InstanceUpdateSaga(ctx, st, id, saga, now)
			if plans == nil {
				plans = []instancestate.Plan{}
			}
			return map[string]any{"outcome": o.String(), "updates": plans}, err
		})
	case "saga":
		res, werr = runSaga(ctx, sw, a, now)
	case "saga_recover":
		sec := a.uuidArg("sec")
		do(func() (any, error) { return recoverSagas(ctx, sw, sec, now) })
	case "saga_adopt":
		sec, from := a.uuidArg("sec"), a.uuidArg("from")
		do(func() (any, error) {
			sw.now = now
			if sw.log == nil {
				return nil, errNoLog
			}
			ids, err := sw.sec(sec).Adopt(ctx, from)
			return map[string]any{"adopted": orEmpty(ids)}, err
		})
	case "sec_renew":
		sec := a.uuidArg("sec")
		var secs int64
		a.read("lease_secs", func(d *jsonread.Decoder) { secs = d.Int64(1, 1<<31-1, "a number of seconds from 1 to 2147483647") })
		do(func() (any, error) {
			if sw.log == nil {
				return nil, errNoLog
			}
			exp, err := sw.log.SECRenew(ctx, sec, now.Add(time.Duration(secs)*time.Second))
			return map[string]any{"lease_expires": exp}, err
		})
	case "saga_fetch":
		id := a.uuidArg("saga_id")
		do(func() (any, error) { return fetchSaga(ctx, sw, id) })
	case "saga_list_unfinished":
		do(func() (any, error) {
			if sw.log == nil {
				return nil, errNoLog
			}
			recs, err := sw.log.SagaListUnfinished(ctx, uuid.Nil)
			ids := make([]uuid.UUID, len(recs))
			for i, r := range recs {
				ids[i] = r.ID
			}
			return map[string]any{"saga_ids": ids}, err
		})
	case "reservation_list_leaked":
		do(func() (any, error) { return leakedReservations(ctx, sw) })
	case "find_instances_needing_update":
		do(func() (any, error) {
			ids, err := st.FindInstancesNeedingUpdate(ctx, now)
			return map[string]any{"instance_ids": orEmpty(ids)}, err
		})
	case "find_reincarnatable_instances":
		do(func() (any, error) {
			ids, err := st.FindReincarnatableInstances(ctx, now)
			return map[string]any{"instance_ids": orEmpty(ids)}, err
		})
	case "vmm_list_abandoned":
		do(func() (any, error) {
			ids, err := st.VMMListAbandoned(ctx)
			return map[string]any{"vmm_ids": orEmpty(ids)}, err
		})
	case "vmm_list_by_sled":
		sled := vmmstate.SledIDFromUUID(a.uuidArg("sled_id"))
		do(func() (any, error) {
			ids, err := st.VMMListBySled(ctx, sled)
			return map[string]any{"vmm_ids": orEmpty(ids)}, err
		})
	}
	if a.err != nil {
		return nil, nil, a.err
	}
	var de *datastore.Error
	if errors.As(werr, &de) {
		return nil, de, nil
	}
	return res, nil, werr
}

// orEmpty writes a nil list as [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// names lists the wire strings of an enum's values.
func names[E interface{ String() string }](all []E) []string {
	out := make([]string, len(all))
	for i, e := range all {
		out[i] = e.String()
	}
	return out
}

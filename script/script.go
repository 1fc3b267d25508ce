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

// opKeys are the key tables, made once, when the first script line is
// read (not at every start of the tool): "op", "now", then the op's own.
var opKeys = sync.OnceValue(func() map[string]*jsonread.Keys {
	out := make(map[string]*jsonread.Keys, len(ops))
	accepted := strings.Join(opNames(), ", ")
	for name, op := range ops {
		out[name] = jsonread.NewKeys(append([]jsonread.Key{jsonread.Req("op"), jsonread.Opt("now")}, op.keys...)...).
			Hint("op", accepted).Hint("now", jsonread.AcceptTime)
	}
	return out
})

// opNames returns the operations' names, sorted.
func opNames() []string { return slices.Sorted(maps.Keys(ops)) }

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
	if a.null(key) {
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

// null reports whether the argument key is absent or null.
func (a *argDecoder) null(key string) bool {
	raw := a.line.args[key]
	return raw == nil || string(bytes.TrimSpace(raw)) == "null"
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

func (a *argDecoder) instanceID() instancestate.ID {
	return vmmstate.InstanceIDFromUUID(a.uuidArg("instance_id"))
}

func (a *argDecoder) vmmID(key string) vmmstate.ID { return vmmstate.IDFromUUID(a.uuidArg(key)) }

func (a *argDecoder) migrationID() migration.ID {
	return migration.IDFromUUID(a.uuidArg("migration_id"))
}

// enumOf reads the argument key as one of all, named as parse reads them.
func enumOf[E interface{ String() string }](a *argDecoder, key string, all []E, parse func(string) (E, error)) (v E) {
	a.enumArg(key, strings.Join(names(all), ", "), func(s string) (err error) {
		v, err = parse(s)
		return err
	})
	return v
}

// intent reads an intended state that may be null: IntentUnchanged.
func (a *argDecoder) intent(key string) instancestate.IntendedState {
	if a.null(key) {
		return instancestate.IntentUnchanged
	}
	return enumOf(a, key, instancestate.AllIntendedStates(), instancestate.ParseIntendedState)
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
			return &StoreFailure{Line: n, Op: line.op, Writes: !ops[line.op].readOnly, Err: fail}
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

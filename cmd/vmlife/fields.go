package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vmlife/vmlife/internal/clip"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/internal/strictjson"
	"github.com/vmlife/vmlife/internal/typedid"
)

// This file reads the JSON objects of the fixed interface strictly (D3): an
// unknown or repeated key, a value of the wrong JSON type, an unknown enum
// string, a malformed UUID, time or generation is an *inputError naming the
// JSON path and the accepted values. An absent key and null are the same
// (docs/cli.md: "missing optional keys read as null"); a required key may be
// neither.

// Accepted-value phrases shared by the fields of every document.
const (
	acceptUUID = "a UUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
	acceptTime = "an RFC 3339 time such as 2026-11-21T10:00:00Z"
	acceptGen  = "an integer 0..9223372036854775807"
	orNull     = ", or null"
)

// reader reads the keys of one JSON object at path. It keeps the first
// error and ignores every read after it, so a decoder reads its fields in
// a row and checks err once (the pattern of bufio.Scanner).
type reader struct {
	path   string
	fields map[string]json.RawMessage
	err    error
}

// join appends key to a JSON path.
func join(path, key string) string {
	switch {
	case path == "":
		return key
	case key == "":
		return path
	}
	return path + "." + key
}

// readObject reads the JSON object data at path, whose keys may only be
// keys. Empty input, a value that is not an object, malformed JSON, an
// unknown key and a repeated key are *inputErrors.
func readObject(path string, data []byte, keys []string) *reader {
	at := path
	if at == "" {
		at = "input"
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &reader{path: path, err: badInput(at, "empty", "a JSON object")}
	}
	f, err := strictjson.Fields(at, data, nil, keys)
	if err != nil {
		var se *strictjson.Error
		if !errors.As(err, &se) {
			return &reader{path: path, err: badInput(at, err.Error(), "a JSON object")}
		}
		p, msg := at, se.Msg
		if se.Field != "" {
			p = join(path, se.Field)
		}
		if se.Err != nil {
			msg += ": " + se.Err.Error()
		}
		switch {
		case strings.Contains(msg, "(accepted:"): // an unknown key: strictjson lists the keys
			return &reader{path: path, err: &inputError{Path: p, Msg: msg}}
		case se.Msg == "key appears twice":
			return &reader{path: path, err: badInput(p, msg, "each key once")}
		}
		return &reader{path: path, err: badInput(p, msg, "a well-formed JSON object")}
	}
	return &reader{path: path, fields: f}
}

// at returns the JSON path of key.
func (r *reader) at(key string) string { return join(r.path, key) }

// fail records an *inputError for key unless an error is already recorded.
func (r *reader) fail(key, problem, accepted string) {
	if r.err == nil {
		r.err = badInput(r.at(key), problem, accepted)
	}
}

// value returns the raw value of key, or nil when it is absent or null, or
// an error is already recorded. A required key that is absent or null
// records an error.
func (r *reader) value(key string, required bool, accepted string) json.RawMessage {
	if r.err != nil {
		return nil
	}
	raw, present := r.fields[key]
	if !strictjson.IsNull(raw) {
		return bytes.TrimSpace(raw)
	}
	switch {
	case !required:
	case present:
		r.fail(key, "null", accepted)
	default:
		r.fail(key, "missing", accepted)
	}
	return nil
}

// str reads key as a JSON string; ok is false when it is absent or null.
func (r *reader) str(key string, required bool, accepted string) (s string, ok bool) {
	raw := r.value(key, required, accepted)
	if raw == nil {
		return "", false
	}
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		r.fail(key, "want a string, got "+clip.Bytes(raw, clipLimit), accepted)
		return "", false
	}
	return s, true
}

// enumField reads key as one of an enum's wire strings, parsed by parse;
// ok is false when it is absent or null. names are the accepted strings.
func enumField[E any](r *reader, key string, required bool, names []string, parse func(string) (E, error)) (v E, ok bool) {
	accepted := strings.Join(names, ", ")
	if !required {
		accepted += ", null"
	}
	s, ok := r.str(key, required, accepted)
	if !ok {
		return v, false
	}
	v, err := parse(s)
	if err != nil {
		r.fail(key, "unknown value "+strconv.Quote(s), accepted)
		return v, false
	}
	return v, true
}

// idField reads key as a UUID, parsed by parse into its typed id; the zero
// id when it is absent or null. The nil UUID is refused: it identifies
// nothing, and in a nullable column it would read as null.
func idField[T interface{ IsZero() bool }](r *reader, key string, required bool, parse func(string) (T, error)) T {
	accepted := acceptUUID
	if !required {
		accepted += orNull
	}
	var zero T
	s, ok := r.str(key, required, accepted)
	if !ok {
		return zero
	}
	v, err := parse(s)
	switch {
	case err != nil:
		r.fail(key, strconv.Quote(clip.String(s, clipLimit))+" is not a UUID", accepted)
		return zero
	case v.IsZero():
		r.fail(key, "the nil UUID identifies nothing", "a non-nil "+strings.TrimPrefix(accepted, "a "))
		return zero
	}
	return v
}

// time reads key as an RFC 3339 time, kept in UTC (so a document re-encoded
// decodes to the same value); the zero time when it is absent or null. A
// nullable time may not be the zero time, which would read back as null.
func (r *reader) time(key string, required bool) time.Time {
	accepted := acceptTime
	if !required {
		accepted += orNull
	}
	s, ok := r.str(key, required, accepted)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		r.fail(key, strconv.Quote(clip.String(s, clipLimit))+" is not an RFC 3339 time", accepted)
		return time.Time{}
	}
	t = t.UTC()
	switch {
	case t.Year() < 0 || t.Year() > 9999:
		// An offset can carry a four-digit year out of range in UTC, where
		// RFC 3339 could not write it back.
		r.fail(key, strconv.Quote(s)+" is outside years 0000..9999 in UTC", accepted)
		return time.Time{}
	case t.IsZero() && !required:
		r.fail(key, strconv.Quote(s)+" is the zero time, which stands for null", accepted)
		return time.Time{}
	}
	return t
}

// gen reads the required key as a generation (§1: an integer 0..2^63−1).
func (r *reader) gen(key string) generation.Generation {
	var g generation.Generation
	raw := r.value(key, true, acceptGen)
	if raw == nil {
		return g
	}
	if err := g.UnmarshalJSON(raw); err != nil {
		switch {
		case errors.Is(err, generation.ErrNegative):
			r.fail(key, string(raw)+" is negative", acceptGen)
		case errors.Is(err, generation.ErrOverflow):
			r.fail(key, string(raw)+" is too large", acceptGen)
		default:
			r.fail(key, "want an integer, got "+clip.Bytes(raw, clipLimit), acceptGen)
		}
	}
	return g
}

// integer reads key as a JSON integer in lo..hi; ok is false when it is
// absent or null.
func (r *reader) integer(key string, required bool, lo, hi int64, accepted string) (n int64, ok bool) {
	raw := r.value(key, required, accepted)
	if raw == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		r.fail(key, string(raw)+" is out of range", accepted)
		return 0, false
	case err != nil:
		r.fail(key, "want an integer, got "+clip.Bytes(raw, clipLimit), accepted)
		return 0, false
	case n < lo || n > hi:
		r.fail(key, strconv.FormatInt(n, 10)+" is out of range", accepted)
		return 0, false
	}
	return n, true
}

// maxCooldownSecs is the longest cooldown a time.Duration holds, in seconds.
const maxCooldownSecs = math.MaxInt64 / int64(time.Second)

// cooldown reads key as a cooldown in whole seconds: null (the default of
// five minutes applies, §6.9) or a positive integer.
func (r *reader) cooldown(key string) time.Duration {
	accepted := fmt.Sprintf("a positive integer number of seconds up to %d, or null", maxCooldownSecs)
	n, ok := r.integer(key, false, 1, maxCooldownSecs, accepted)
	if !ok {
		return 0
	}
	return time.Duration(n) * time.Second
}

// decodeNested decodes key with dst's own strict decoder (a start failure, a
// sled-agent report) and turns its error into an *inputError at the path of
// the field it names. accepted says what key's value and each of its fields
// may be, by path below key ("" for the value itself).
func (r *reader) decodeNested(key string, required bool, dst json.Unmarshaler, accepted map[string]string) bool {
	raw := r.value(key, required, accepted[""])
	if raw == nil {
		return false
	}
	if err := dst.UnmarshalJSON(raw); err != nil {
		if r.err == nil {
			r.err = nestedError(r.at(key), err, accepted)
		}
		return false
	}
	return true
}

// nestedError walks the chain of *strictjson.Errors a nested decoder returns
// down to the field it names and says what is wrong there.
func nestedError(path string, err error, accepted map[string]string) error {
	base, sub, msg := path, "", ""
	for {
		var se *strictjson.Error
		if !errors.As(err, &se) {
			break
		}
		sub = join(sub, se.Field)
		msg = se.Msg
		if se.Err == nil {
			err = nil
			break
		}
		err = se.Err
	}
	p := join(base, sub)
	acc := accepted[sub]
	if acc == "" {
		acc = accepted[""]
	}
	var (
		fe *failure.StartFailureError
		ee *enum.Error
		ie *typedid.Error
		ge *generation.Error
		te *time.ParseError
		ue *json.UnmarshalTypeError
	)
	switch {
	case strings.Contains(msg, "(accepted:"): // an unknown key: the message lists the keys
		return &inputError{Path: p, Msg: msg}
	case errors.As(err, &fe):
		return badInput(join(p, fe.Field), "got "+fe.Value, fe.Accepted)
	case err == nil:
		return badInput(p, msg, acc)
	case errors.As(err, &ee):
		return badInput(p, "unknown value "+ee.Input, strings.Join(ee.Accepted, ", "))
	case errors.As(err, &ie):
		return badInput(p, strconv.Quote(ie.Input)+" is not a UUID", acceptUUID)
	case errors.As(err, &ge):
		return badInput(p, strings.Trim(ge.Input, `"`)+": "+ge.Err.Error(), acceptGen)
	case errors.As(err, &te):
		return badInput(p, strconv.Quote(clip.String(te.Value, clipLimit))+" is not an RFC 3339 time", acceptTime)
	case errors.As(err, &ue):
		return badInput(p, "got a JSON "+ue.Value, acc)
	}
	return badInput(p, strings.TrimPrefix(msg+": "+err.Error(), ": "), acc)
}

// clipLimit bounds how much of a refused value a message repeats.
const clipLimit = 40

// names returns the String of each value, for accepted-value lists.
func names[E fmt.Stringer](all []E) []string {
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = v.String()
	}
	return out
}

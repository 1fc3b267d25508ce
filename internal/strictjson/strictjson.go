// Package strictjson decodes JSON objects the way vmlife's decoders promise
// (D3): an unknown key, a missing required key, a duplicate key or a value of
// the wrong type is an error that names the field, and nothing is half
// decoded.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is matched by errors.Is for every error this package returns.
var ErrInvalid = errors.New("invalid JSON")

// Error names the type and field a JSON document got wrong.
type Error struct {
	Type  string // the Go type being decoded, for example "vmmstate.Runtime"
	Field string // the JSON key, "" for the document as a whole
	Msg   string // what is wrong, with the accepted values where there is a list
	Err   error  // the underlying decode error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Type)
	if e.Field != "" {
		b.WriteString(": field ")
		b.WriteString(`"` + e.Field + `"`)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the underlying error, so errors.As also finds the typed
// errors of the field's own decoder (an unknown enum string, a bad id, …).
func (e *Error) Unwrap() error { return e.Err }

// Fields reads the JSON object data into its keys. Every key must be one of
// required or optional, every required key must be present, and no key may
// repeat. A JSON null for an optional key is returned as the literal null.
func Fields(typ string, data []byte, required, optional []string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, &Error{Type: typ, Msg: "not a JSON object", Err: err}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &Error{Type: typ, Msg: fmt.Sprintf("want a JSON object, got %s", describe(tok))}
	}
	out := make(map[string]json.RawMessage, len(required)+len(optional))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &Error{Type: typ, Msg: "malformed object", Err: err}
		}
		key := tok.(string) // object keys are always strings
		if !slices.Contains(required, key) && !slices.Contains(optional, key) {
			return nil, &Error{Type: typ, Field: key, Msg: "unknown key (accepted: " + strings.Join(append(append([]string(nil), required...), optional...), ", ") + ")"}
		}
		if _, dup := out[key]; dup {
			return nil, &Error{Type: typ, Field: key, Msg: "key appears twice"}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, &Error{Type: typ, Field: key, Msg: "malformed value", Err: err}
		}
		out[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, &Error{Type: typ, Msg: "malformed object", Err: err}
	}
	if dec.More() {
		return nil, &Error{Type: typ, Msg: "trailing data after the object"}
	}
	if _, err := dec.Token(); err == nil {
		return nil, &Error{Type: typ, Msg: "trailing data after the object"}
	}
	for _, k := range required {
		if _, ok := out[k]; !ok {
			return nil, &Error{Type: typ, Field: k, Msg: "required key is missing"}
		}
	}
	return out, nil
}

// IsNull reports whether raw is absent or the JSON literal null.
func IsNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// Decode unmarshals the value of key into dst, naming the field on error.
// A null is an error: call IsNull first for optional keys.
func Decode(typ string, fields map[string]json.RawMessage, key string, dst any) error {
	raw := fields[key]
	if IsNull(raw) {
		return &Error{Type: typ, Field: key, Msg: "must not be null"}
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return &Error{Type: typ, Field: key, Msg: "bad value", Err: err}
	}
	return nil
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return "'" + v.String() + "'"
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// Field is one key of an object decoded by Object: where its value goes and
// whether it may be absent or null (then Dst is left as it was).
type Field struct {
	Key      string
	Dst      any
	Optional bool
}

// Object decodes the JSON object data into the fields' destinations with
// the rules of Fields: every key must be listed, required keys present and
// non-null, no key repeated. Destinations are written in order, so callers
// that promise "unchanged on error" decode into a scratch value and copy it
// out on success.
func Object(typ string, data []byte, fields ...Field) error {
	var required, optional []string
	for _, f := range fields {
		if f.Optional {
			optional = append(optional, f.Key)
		} else {
			required = append(required, f.Key)
		}
	}
	raw, err := Fields(typ, data, required, optional)
	if err != nil {
		return err
	}
	for _, f := range fields {
		if f.Optional && IsNull(raw[f.Key]) {
			continue
		}
		if err := Decode(typ, raw, f.Key, f.Dst); err != nil {
			return err
		}
	}
	return nil
}

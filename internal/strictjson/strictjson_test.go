package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var (
	required = []string{"a", "b"}
	optional = []string{"c"}
)

func TestFields(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		field    string // the field the error must name; "" for a document-level error
		wantErr  string // substring of the error; "" for success
		wantKeys []string
		nullForC bool
	}{
		{name: "required only", in: `{"a":1,"b":"x"}`, wantKeys: []string{"a", "b"}},
		{name: "with optional", in: `{"a":1,"b":2,"c":[1]}`, wantKeys: []string{"a", "b", "c"}},
		{name: "optional null", in: `{"a":1,"b":2,"c":null}`, wantKeys: []string{"a", "b", "c"}, nullForC: true},
		{name: "whitespace", in: " \n{ \"b\" : 2 , \"a\" : 1 } \n", wantKeys: []string{"a", "b"}},
		{name: "unknown key", in: `{"a":1,"b":2,"d":3}`, field: "d", wantErr: "unknown key (accepted: a, b, c)"},
		{name: "missing required", in: `{"a":1}`, field: "b", wantErr: "required key is missing"},
		{name: "duplicate", in: `{"a":1,"a":2,"b":3}`, field: "a", wantErr: "key appears twice"},
		{name: "not an object", in: `[1,2]`, wantErr: "want a JSON object, got '['"},
		{name: "string", in: `"a"`, wantErr: "want a JSON object, got a string"},
		{name: "null", in: `null`, wantErr: "want a JSON object, got null"},
		{name: "empty", in: ``, wantErr: "not a JSON object"},
		{name: "truncated", in: `{"a":1,"b":`, field: "b", wantErr: "malformed value"},
		{name: "unclosed", in: `{"a":1,"b":2`, wantErr: "malformed object"},
		{name: "trailing object", in: `{"a":1,"b":2}{}`, wantErr: "trailing data"},
		{name: "trailing value", in: `{"a":1,"b":2} 3`, wantErr: "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Fields("T", []byte(tc.in), required, optional)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Fields(%s) = %v", tc.in, err)
				}
				if len(got) != len(tc.wantKeys) {
					t.Fatalf("keys = %v, want %v", got, tc.wantKeys)
				}
				for _, k := range tc.wantKeys {
					if _, ok := got[k]; !ok {
						t.Errorf("key %q missing from %v", k, got)
					}
				}
				if tc.nullForC && !IsNull(got["c"]) {
					t.Errorf("c = %s, want null", got["c"])
				}
				return
			}
			if err == nil {
				t.Fatalf("Fields(%s) = %v, want an error containing %q", tc.in, got, tc.wantErr)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not a *Error matching ErrInvalid", err)
			}
			if e.Field != tc.field || e.Type != "T" {
				t.Errorf("error names type %q field %q, want T and %q", e.Type, e.Field, tc.field)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q lacks %q", err, tc.wantErr)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	f, err := Fields("T", []byte(`{"a":7,"b":"x","c":null}`), required, optional)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := Decode("T", f, "a", &n); err != nil || n != 7 {
		t.Fatalf("Decode(a) = %d, %v", n, err)
	}
	var e *Error
	if err := Decode("T", f, "b", &n); !errors.As(err, &e) || e.Field != "b" || e.Err == nil {
		t.Errorf("Decode(b) into int = %v, want an error naming b that wraps the decoder's", err)
	}
	if n != 7 {
		t.Errorf("a failed Decode changed the destination to %d", n)
	}
	if err := Decode("T", f, "c", &n); !errors.As(err, &e) || e.Field != "c" || !strings.Contains(err.Error(), "must not be null") {
		t.Errorf("Decode(null c) = %v, want a must-not-be-null error naming c", err)
	}
	if err := Decode("T", f, "absent", &n); err == nil {
		t.Errorf("Decode(absent) succeeded")
	}
}

func TestIsNull(t *testing.T) {
	for in, want := range map[string]bool{"": true, "null": true, " null ": true, "0": false, `"null"`: false, "{}": false} {
		if got := IsNull(json.RawMessage(in)); got != want {
			t.Errorf("IsNull(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzFields: never panics; an accepted document has exactly the accepted
// keys, all required ones, each a valid JSON value; and re-encoding the
// fields gives a document that is accepted again with the same fields.
func FuzzFields(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":2}`, `{"a":1,"b":2,"c":null}`, `{"a":{"x":[1,"2"]},"b":true}`, `{"a":1}`, `[]`, `{"a":1,"a":1,"b":2}`, ``, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Fields("T", b, required, optional)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		for _, k := range required {
			if _, ok := got[k]; !ok {
				t.Fatalf("accepted %q without required key %q", b, k)
			}
		}
		for k, v := range got {
			if k != "a" && k != "b" && k != "c" {
				t.Fatalf("accepted unknown key %q", k)
			}
			if !json.Valid(v) {
				t.Fatalf("value of %q is not valid JSON: %q", k, v)
			}
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Fields("T", again, required, optional)
		if err != nil {
			t.Fatalf("re-encoded %s refused: %v", again, err)
		}
		if len(back) != len(got) {
			t.Fatalf("re-encoding changed the fields: %v vs %v", back, got)
		}
	})
}

func TestObject(t *testing.T) {
	type doc struct {
		A int
		B string
		C *int
	}
	decode := func(in string) (doc, error) {
		var d doc
		err := Object("T", []byte(in),
			Field{Key: "a", Dst: &d.A},
			Field{Key: "b", Dst: &d.B},
			Field{Key: "c", Dst: &d.C, Optional: true})
		return d, err
	}
	if d, err := decode(`{"a":1,"b":"x"}`); err != nil || d.A != 1 || d.B != "x" || d.C != nil {
		t.Errorf("without c: %+v, %v", d, err)
	}
	if d, err := decode(`{"a":1,"b":"x","c":null}`); err != nil || d.C != nil {
		t.Errorf("c null: %+v, %v", d, err)
	}
	if d, err := decode(`{"a":1,"b":"x","c":3}`); err != nil || d.C == nil || *d.C != 3 {
		t.Errorf("c 3: %+v, %v", d, err)
	}
	var e *Error
	for in, field := range map[string]string{
		`{"a":1}`:                 "b",
		`{"a":null,"b":"x"}`:      "a",
		`{"a":"1","b":"x"}`:       "a",
		`{"a":1,"b":"x","d":1}`:   "d",
		`{"a":1,"b":"x","c":"y"}`: "c",
	} {
		if _, err := decode(in); !errors.As(err, &e) || e.Field != field {
			t.Errorf("decode(%s) = %v, want an error naming %q", in, err, field)
		}
	}
}

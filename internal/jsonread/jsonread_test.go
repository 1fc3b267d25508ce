package jsonread

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/wire"
)

type color uint8

var colors = enum.New[color]("jsonread.color", false, "red", "green")

// sample is a document with one field of every reader, used to test the
// decoder the way the library's documents use it.
type sample struct {
	Name    string
	Color   color
	ID      uuid.UUID
	Gen     generation.Generation
	At      time.Time
	On      bool
	Count   int64
	Nested  *sample
	Skipped bool // the key was present but left unread
}

var sampleKeys = NewKeys(Req("name"), Opt("color"), Opt("id"), Opt("gen"), Opt("at"), Opt("on"), Opt("count"), Opt("nested"), Opt("skip")).
	Hint("name", "a name")

func decodeSample(d *Decoder, s *sample, depth int) {
	o := d.Object(sampleKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			s.Name = string(d.String("a name"))
		case 1:
			s.Color = Enum(d, colors)
		case 2:
			s.ID = d.UUID(true)
		case 3:
			s.Gen = d.Generation()
		case 4:
			s.At = d.Time()
		case 5:
			s.On = d.Bool()
		case 6:
			s.Count = d.Int64(0, 100, "0..100")
		case 7:
			if !d.Null() {
				s.Nested = new(sample)
				decodeSample(d, s.Nested, depth+1)
			}
		case 8:
			s.Skipped = true // left unread: Next skips it
		}
	}
}

func decode(b string) (sample, error) {
	var d Decoder
	d.Reset([]byte(b))
	var s sample
	decodeSample(&d, &s, 0)
	return s, d.End()
}

func TestDecodeEveryReader(t *testing.T) {
	id := "6d1a0000-0000-4000-8000-000000000001"
	s, err := decode(` { "name" : "a\"b\u00e9" , "color":"green","id":"` + id + `","gen":7,"at":"2026-11-21T10:00:00+01:00",` +
		`"on":true,"count":42,"nested":{"name":"inner","nested":null},"skip":{"any":[1,{"x":null}]} } `)
	if err != nil {
		t.Fatal(err)
	}
	want := sample{Name: "a\"bé", Color: 2, ID: uuid.MustParse(id), Gen: generation.Of(7),
		At: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), On: true, Count: 42, Skipped: true}
	if s.Nested == nil || s.Nested.Name != "inner" || s.Nested.Nested != nil {
		t.Fatalf("nested: %+v", s.Nested)
	}
	s.Nested = nil
	if s != want {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
	// Optional keys absent or null read as zero values.
	s, err = decode(`{"name":"x","color":null,"id":null,"gen":null,"at":null,"on":null,"count":null}`)
	if err != nil || s != (sample{Name: "x"}) {
		t.Fatalf("nulls: %+v, %v", s, err)
	}
}

// TestDecodeErrors: each error names the path, says what is wrong and what
// is accepted, and the first error is the one reported.
func TestDecodeErrors(t *testing.T) {
	for in, want := range map[string]string{
		``:                            `input: want a JSON object, got nothing (accepted: a JSON object with keys name, color, id, gen, at, on, count, nested, skip)`,
		`[]`:                          `input: want a JSON object, got a JSON array (accepted: a JSON object with keys name, color, id, gen, at, on, count, nested, skip)`,
		`null`:                        `input: null (accepted: a JSON object with keys name, color, id, gen, at, on, count, nested, skip)`,
		`{}`:                          `name: missing (accepted: a name)`,
		`{"name":"x","bogus":1}`:      `bogus: unknown key (accepted: name, color, id, gen, at, on, count, nested, skip)`,
		`{"name":"x","name":"y"}`:     `name: key appears twice (accepted: each key once)`,
		`{"name":null}`:               `name: null (accepted: a name)`,
		`{"name":1}`:                  `name: want a string, got 1 (accepted: a name)`,
		`{"name":"x","color":"blue"}`: `color: unknown value "blue" (accepted: red, green, or null)`,
		`{"name":"x","color":"Red"}`:  `color: unknown value "Red" (accepted: red, green, or null)`,
		`{"name":"x","id":"nope"}`:    `id: "nope" is not a UUID (accepted: a UUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, or null)`,
		`{"name":"x","id":"00000000-0000-0000-0000-000000000000"}`: `id: the nil UUID identifies nothing (accepted: a non-nil UUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, or null)`,
		`{"name":"x","gen":-1}`:                             `gen: -1 is negative (accepted: an integer 0..9223372036854775807, or null)`,
		`{"name":"x","gen":9223372036854775808}`:            `gen: 9223372036854775808 is too large (accepted: an integer 0..9223372036854775807, or null)`,
		`{"name":"x","gen":1.5}`:                            `gen: want an integer, got 1.5 (accepted: an integer 0..9223372036854775807, or null)`,
		`{"name":"x","gen":"1"}`:                            `gen: want an integer, got "1" (accepted: an integer 0..9223372036854775807, or null)`,
		`{"name":"x","at":"yesterday"}`:                     `at: "yesterday" is not an RFC 3339 time (accepted: an RFC 3339 time such as 2026-11-21T10:00:00Z, or null)`,
		`{"name":"x","at":"0001-01-01T00:00:00Z"}`:          `at: "0001-01-01T00:00:00Z" is the zero time, which stands for null (accepted: an RFC 3339 time such as 2026-11-21T10:00:00Z, or null)`,
		`{"name":"x","on":1}`:                               `on: want true or false, got 1 (accepted: true, false, or null)`,
		`{"name":"x","count":101}`:                          `count: 101 is out of range (accepted: 0..100, or null)`,
		`{"name":"x","nested":{"name":"y","color":"blue"}}`: `nested.color: unknown value "blue" (accepted: red, green, or null)`,
		`{"name":"x","nested":{"name":"y","zz":1}}`:         `nested.zz: unknown key (accepted: name, color, id, gen, at, on, count, nested, skip)`,
		`{"name":"x","nested":{}}`:                          `nested.name: missing (accepted: a name)`,
		`{"name":"x",}`:                                     `input: malformed JSON: a ',' before '}' (accepted: well-formed JSON)`,
		`{"name":"x"`:                                       `input: malformed JSON: unexpected end of input (accepted: well-formed JSON)`,
		`{"name":"x"} {}`:                                   `input: trailing data after the object (accepted: a well-formed JSON object)`,
		`{"name":"x" "color":"red"}`:                        `input: malformed JSON: want ',' or '}' after a value (accepted: well-formed JSON)`,
		`{"name":"x","nested":{"name":"y"`:                  `nested: malformed JSON: unexpected end of input (accepted: well-formed JSON)`,
		`{"name":"x","skip":[1,2}`:                          `input: malformed JSON: want ',' or ']' (accepted: well-formed JSON)`,
		`{"name":"x","skip":01}`:                            `input: malformed JSON: want a value (accepted: well-formed JSON)`,
		`{"name":"a` + "\x01" + `"}`:                        `input: malformed JSON: a control character in a string (accepted: well-formed JSON)`,
		`{"name":"\x"}`:                                     `input: malformed JSON: a bad escape in a string (accepted: well-formed JSON)`,
		`{"na\u006de":"x","bad` + "\xff" + `":1}`:           `input: malformed JSON: invalid UTF-8 in a string (accepted: well-formed JSON)`,
		`{"name":"x","b\u0001d":1}`:                         `b\x01d: unknown key (accepted: name, color, id, gen, at, on, count, nested, skip)`,
	} {
		_, err := decode(in)
		var de *wire.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, wire.ErrDecode) || err.Error() != want {
			t.Errorf("decode(%q)\n got %v\nwant %s", in, err, want)
		}
	}
}

// TestLenientSkipsUnknownKeys: a lenient table skips keys it does not know,
// whatever they hold, and still refuses past the nesting bound.
func TestLenientSkipsUnknownKeys(t *testing.T) {
	keys := NewKeys(Req("a")).Lenient()
	read := func(in string) (string, error) {
		var d Decoder
		d.Reset([]byte(in))
		var a string
		o := d.Object(keys)
		for o.Next() {
			a = string(d.String("a string"))
		}
		return a, d.End()
	}
	for _, in := range []string{
		`{"a":"x","b":1}`, `{"b":{"c":[1,2,{"d":"e"}]},"a":"x"}`, `{"b":null,"a":"x","c":true,"d":false,"e":-1.5e-3,"f":"\"}"}`,
		`{"b":[],"c":{},"a":"x"}`,
	} {
		if a, err := read(in); err != nil || a != "x" {
			t.Errorf("%s: %q, %v", in, a, err)
		}
	}
	deep := strings.Repeat("[", wire.MaxDepth) + strings.Repeat("]", wire.MaxDepth)
	if _, err := read(`{"a":"x","b":` + deep + `}`); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("past the bound: %v", err)
	}
	if _, err := read(`{"a":"x","b":}`); err == nil {
		t.Error("a key without a value was skipped")
	}
}

// FuzzDecoder: on any input the decoder never panics; everything it
// accepts is valid JSON that encoding/json reads to the same values; and
// every valid JSON object of the sample's shape that encoding/json reads
// with the same strictness it reads too.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		`{"name":"x"}`, `{"name":"é\u00e9","color":"red","gen":3,"on":false,"count":0}`,
		`{"name":"x","nested":{"name":"y","nested":{"name":"z"}}}`, `{"name":"x","skip":[{"a":[]}]}`,
		`{"name":"x","at":"2026-11-21T10:00:00.5+05:30"}`, `{"name":"x",}`, `{"name":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decode(string(b))
		if err != nil {
			var de *wire.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%q: %T %v is not a *wire.DecodeError", b, err, err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("%q: accepted, but it is not valid JSON", b)
		}
		var ref struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(b, &ref); err != nil || ref.Name != s.Name {
			t.Fatalf("%q: name %q, encoding/json %q (%v)", b, s.Name, ref.Name, err)
		}
	})
}

// TestPropDecodeWhatEncodingJSONWrites: any sample encoding/json writes
// (random names, colors, ids, generations, times, nesting) decodes back to
// the same values.
func TestPropDecodeWhatEncodingJSONWrites(t *testing.T) {
	type wireSample struct {
		Name   string      `json:"name"`
		Color  *string     `json:"color,omitempty"`
		ID     *string     `json:"id,omitempty"`
		Gen    *uint64     `json:"gen,omitempty"`
		At     *string     `json:"at,omitempty"`
		Nested *wireSample `json:"nested,omitempty"`
	}
	var draw func(t *rapid.T, depth int) (wireSample, sample)
	draw = func(t *rapid.T, depth int) (wireSample, sample) {
		var w wireSample
		var s sample
		w.Name = rapid.String().Draw(t, "name")
		s.Name = w.Name
		if rapid.Bool().Draw(t, "color?") {
			c := rapid.SampledFrom([]string{"red", "green"}).Draw(t, "color")
			w.Color = &c
			s.Color, _ = colors.Parse(c)
		}
		if rapid.Bool().Draw(t, "id?") {
			var u uuid.UUID
			copy(u[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "id"))
			u[0] |= 1
			str := u.String()
			w.ID, s.ID = &str, u
		}
		if rapid.Bool().Draw(t, "gen?") {
			g := rapid.Uint64Range(0, generation.Max).Draw(t, "gen")
			w.Gen = &g
			s.Gen, _ = generation.FromUint64(g)
		}
		if rapid.Bool().Draw(t, "at?") {
			at := time.Unix(rapid.Int64Range(1, 4e9).Draw(t, "at"), 0).UTC()
			str := at.Format(time.RFC3339)
			w.At, s.At = &str, at
		}
		if depth < 3 && rapid.Bool().Draw(t, "nested?") {
			nw, ns := draw(t, depth+1)
			w.Nested, s.Nested = &nw, &ns
		}
		return w, s
	}
	rapid.Check(t, func(t *rapid.T) {
		w, want := draw(t, 0)
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(string(b))
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		for g, w := &got, &want; ; g, w = g.Nested, w.Nested {
			if (g == nil) != (w == nil) {
				t.Fatalf("%s: nesting differs", b)
			}
			if g == nil {
				break
			}
			gc, wc := *g, *w
			gc.Nested, wc.Nested = nil, nil
			if gc != wc {
				t.Fatalf("%s:\n got %+v\nwant %+v", b, gc, wc)
			}
		}
	})
}

// TestParsed: an enum known by its parser reads like one known by its
// table — a good value, null where null is allowed, and an unknown value
// refused with the accepted list and the parser's error.
func TestParsed(t *testing.T) {
	keys := NewKeys(Opt("c"))
	read := func(doc string) (color, bool, error) {
		var d Decoder
		d.Reset([]byte(doc))
		var (
			c  color
			ok bool
		)
		o := d.Object(keys)
		for o.Next() {
			c, ok = Parsed(&d, colors.Accepted(), colors.Parse)
		}
		return c, ok, d.End()
	}
	if c, ok, err := read(`{"c":"green"}`); err != nil || !ok || c != 2 {
		t.Errorf("green: %v, %v, %v", c, ok, err)
	}
	if c, ok, err := read(`{"c":null}`); err != nil || ok || c != 0 {
		t.Errorf("null: %v, %v, %v", c, ok, err)
	}
	_, ok, err := read(`{"c":"blue"}`)
	var de *wire.DecodeError
	if ok || !errors.As(err, &de) || !errors.Is(err, enum.ErrUnknown) ||
		err.Error() != `c: unknown value "blue" (accepted: red, green, or null)` {
		t.Errorf("blue: %v, %v", ok, err)
	}
}

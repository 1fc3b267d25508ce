// Package jsonread is vmlife's one JSON decoding mechanism: a one-pass
// reader over a byte slice that every document of the library decodes
// through, so that every document is strict in the same way (D3) and every
// error is a *wire.DecodeError naming the JSON path, the offending value and
// what would have been accepted.
//
// A decoder reads its fields in a row and checks the error once, the pattern
// of bufio.Scanner: the first error sticks, and every read after it returns
// a zero value and does nothing.
//
//	var d jsonread.Decoder
//	d.Reset(b)
//	o := d.Object(runtimeKeys)
//	for o.Next() {
//		switch o.Key() {
//		case 0:
//			v.State = jsonread.Enum(&d, states)
//		case 1:
//			v.Generation = d.Generation()
//		}
//	}
//	if err := d.End(); err != nil { … }
//
// Objects are strict by default: an unknown key, a repeated key, a missing
// required key, a null where a value is required and a value of the wrong
// JSON type are errors. A Keys table marked Lenient skips unknown keys
// instead (D20), values of any shape up to wire.MaxDepth deep. Nothing is
// allocated on the success path except for strings with escapes.
package jsonread

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/internal/clip"
	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/internal/typedid"
	"github.com/vmlife/vmlife/wire"
)

// Accepted-value phrases shared by the documents.
const (
	AcceptUUID    = "a UUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
	AcceptNonNil  = "a non-nil UUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
	AcceptGen     = "an integer 0..9223372036854775807"
	AcceptBool    = "true, false"
	AcceptTime    = wire.AcceptTime
	orNull        = ", or null"
	valueClipSize = 40
)

// Key is one key of an object and whether it may be absent or null.
type Key struct {
	Name     string
	Optional bool
}

// Req is a required key; Opt an optional one.
func Req(name string) Key { return Key{Name: name} }

// Opt is a key that may be absent or null (which read the same).
func Opt(name string) Key { return Key{Name: name, Optional: true} }

// Keys is the table of an object's keys, made once per document type.
type Keys struct {
	keys     []Key
	required uint64 // bit i: keys[i] is required
	lenient  bool
	accepted string   // "a JSON object with keys …"
	hints    []string // per key: what "missing" says is accepted
}

// NewKeys returns the table of an object with these keys (at most 64).
// Its accepted-value phrase lists them in order.
func NewKeys(keys ...Key) *Keys {
	if len(keys) > 64 {
		panic("jsonread: more than 64 keys") // a programming error in a table, caught by every test
	}
	k := &Keys{keys: keys}
	names := make([]string, len(keys))
	for i, key := range keys {
		names[i] = key.Name
		if !key.Optional {
			k.required |= 1 << i
		}
	}
	k.accepted = "a JSON object with keys " + strings.Join(names, ", ")
	return k
}

// Lenient returns a copy of k that skips keys it does not know (D20).
func (k *Keys) Lenient() *Keys {
	c := *k
	c.lenient = true
	return &c
}

// Names returns the keys' names, in order.
func (k *Keys) Names() []string {
	out := make([]string, len(k.keys))
	for i, key := range k.keys {
		out[i] = key.Name
	}
	return out
}

// Accepted is the phrase naming what an object of these keys accepts.
func (k *Keys) Accepted() string { return k.accepted }

// Decoder reads one JSON document. Its zero value is ready for Reset.
type Decoder struct {
	data  []byte
	pos   int
	level int                   // how many objects are open
	path  [wire.MaxDepth]string // the key being read at each open level
	opt   [wire.MaxDepth]bool   // whether that key is optional
	err   *wire.DecodeError
	buf   []byte // unescaped strings
	mark  int    // where the value of the key just read starts
}

// Reset starts reading data, forgetting any earlier document and error.
func (d *Decoder) Reset(data []byte) {
	*d = Decoder{data: data, buf: d.buf[:0]}
}

// Err returns the first error, or nil.
func (d *Decoder) Err() error {
	if d.err == nil {
		return nil
	}
	return d.err
}

// Failed reports whether an error has been recorded.
func (d *Decoder) Failed() bool { return d.err != nil }

// End checks that only white space follows the document and returns the
// first error, or nil.
func (d *Decoder) End() error {
	if d.err == nil {
		d.space()
		if d.pos < len(d.data) {
			if len(d.data) > 0 && d.data[0] == '{' {
				d.failAt("", "trailing data after the object", "", "a well-formed JSON object", nil)
			} else {
				d.failAt("", "trailing data after the value", "", "a single JSON value", nil)
			}
		}
	}
	return d.Err()
}

// Path returns the JSON path of the value being read.
func (d *Decoder) Path() string { return d.pathTo(d.level) }

// pathTo joins the keys of the first n open levels.
func (d *Decoder) pathTo(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(d.path[i])
	}
	return b.String()
}

// optional reports whether the value being read may be null.
func (d *Decoder) optional() bool { return d.level > 0 && d.opt[d.level-1] }

// Fail records an error about the value being read (a rule it breaks that
// only its reader knows), unless one is already recorded. The accepted
// phrase gains ", or null" when the key is optional.
func (d *Decoder) Fail(problem, value, accepted string, err error) {
	if d.optional() && accepted != "" {
		accepted += orNull
	}
	d.failAt(d.Path(), problem, value, accepted, err)
}

// FailChild records an error about key of the object just read as the
// current value (a rule of that object, checked once it is whole).
func (d *Decoder) FailChild(key, problem, value, accepted string, err error) {
	d.failAt(wire.JoinPath(d.Path(), key), problem, value, accepted, err)
}

func (d *Decoder) failAt(path, problem, value, accepted string, err error) {
	if d.err == nil {
		d.err = &wire.DecodeError{Path: path, Problem: problem, Value: value, Accepted: accepted, Err: err}
	}
}

// failSyntax records malformed JSON, at the path of the object it breaks:
// the key being read may be where the break showed, not where it is.
func (d *Decoder) failSyntax(what string) {
	if d.pos >= len(d.data) {
		what = "unexpected end of input"
	}
	d.failAt(d.pathTo(max(d.level-1, 0)), "malformed JSON: "+what, "", "well-formed JSON", nil)
}

func (d *Decoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\r', '\n':
			d.pos++
		default:
			return
		}
	}
}

// Peek returns the first byte of the next value (after white space), or 0
// at the end of the input or after an error: what a decoder looks at to
// choose between the forms a value may take.
func (d *Decoder) Peek() byte {
	if d.err != nil {
		return 0
	}
	return d.peek()
}

// peek returns the next byte after white space, or 0 at the end.
func (d *Decoder) peek() byte {
	d.space()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// Null consumes a null and reports whether there was one. It reads
// nothing after an error.
func (d *Decoder) Null() bool {
	if d.err != nil {
		return false
	}
	if d.peek() == 'n' && bytes.HasPrefix(d.data[d.pos:], []byte("null")) {
		d.pos += 4
		return true
	}
	return false
}

// isNull is Null for a required value: a null there is an error naming
// what the value accepts.
func (d *Decoder) isNull(accepted string) bool {
	if d.Null() {
		if !d.optional() {
			d.Fail("null", "null", accepted, nil)
		}
		return true
	}
	return d.err != nil
}

// Object is one JSON object being read, key by key.
type Object struct {
	d     *Decoder
	keys  *Keys
	level int
	seen  uint64
	key   int
	state uint8 // 0 before the first key, 1 inside, 2 done
}

// Object starts reading an object with keys k. A null (where the key is
// optional) or anything but an object ends it at once; Next then reports
// false.
func (d *Decoder) Object(k *Keys) Object {
	o := Object{d: d, keys: k, level: d.level, state: 2}
	if d.err != nil || d.isNull(k.accepted) {
		return o
	}
	if d.peek() != '{' {
		d.Fail("want a JSON object, got "+d.describe(), d.clipped(), k.accepted, nil)
		return o
	}
	if d.level >= wire.MaxDepth {
		d.Fail("nested deeper than "+strconv.Itoa(wire.MaxDepth)+" levels", "", "", nil)
		return o
	}
	d.pos++
	d.level++
	o.state = 0
	return o
}

// Next reads the next key and reports whether there is one; the value is
// read by the caller (Key says which), or skipped if the caller reads
// nothing. At the end of the object it checks that every required key was
// present.
func (o *Object) Next() bool {
	d := o.d
	if o.state == 2 {
		return false
	}
	if d.err != nil {
		o.close()
		return false
	}
	afterComma := false
	if o.state == 1 {
		// The previous key's value was read by the caller, or is skipped
		// now.
		if d.pending() {
			d.skip(0)
		}
		afterComma = d.comma()
	}
	for d.err == nil {
		if d.peek() == '}' {
			if afterComma {
				d.failSyntax("a ',' before '}'")
				break
			}
			d.pos++
			o.finish()
			return false
		}
		o.state = 1
		name, ok := d.key()
		if !ok {
			break
		}
		i := o.lookup(name)
		if i < 0 {
			if o.keys.lenient {
				// D20: a key a newer writer added is skipped, whatever it
				// holds, up to the nesting bound; an error inside it (too
				// deep, malformed) names that key.
				d.path[o.level] = escape(string(name))
				d.opt[o.level] = true
				d.skip(0)
				afterComma = d.comma()
				continue
			}
			d.failAt(wire.JoinPath(d.pathTo(o.level), escape(string(name))), "unknown key", "", strings.Join(o.keys.Names(), ", "), nil)
			break
		}
		if o.seen&(1<<i) != 0 {
			d.failAt(wire.JoinPath(d.pathTo(o.level), o.keys.keys[i].Name), "key appears twice", "", "each key once", nil)
			break
		}
		o.seen |= 1 << i
		o.key = i
		d.path[o.level] = o.keys.keys[i].Name
		d.opt[o.level] = o.keys.keys[i].Optional
		d.space()
		d.mark = d.pos
		return true
	}
	o.close()
	return false
}

// comma consumes the ',' between two members and reports whether there
// was one; anything but ',' or '}' after a value is malformed.
func (d *Decoder) comma() bool {
	switch d.peek() {
	case ',':
		d.pos++
		return true
	case '}':
		return false
	}
	d.failSyntax("want ',' or '}' after a value")
	return false
}

// Key returns the index in the Keys table of the key just read.
func (o *Object) Key() int { return o.key }

// finish closes the object and checks the required keys.
func (o *Object) finish() {
	d := o.d
	d.level = o.level
	o.state = 2
	if missing := o.keys.required &^ o.seen; missing != 0 && d.err == nil {
		for i, k := range o.keys.keys {
			if missing&(1<<i) != 0 {
				d.failAt(wire.JoinPath(d.Path(), k.Name), "missing", "", o.keys.acceptedFor(i), nil)
				return
			}
		}
	}
}

func (o *Object) close() {
	o.d.level = o.level
	o.state = 2
}

// Fail records an error about key name of this object, read or not: a
// rule between fields that only holds once the object is read.
func (o *Object) Fail(name, problem, value, accepted string) {
	d := o.d
	if d.err != nil {
		return
	}
	saved := d.level
	d.level = o.level
	d.failAt(wire.JoinPath(d.Path(), name), problem, value, accepted, nil)
	d.level = saved
}

// acceptedFor is what the phrase "missing" is followed by: the key's
// reader registers nothing, so a generic phrase.
func (k *Keys) acceptedFor(i int) string {
	if k.hints != nil && k.hints[i] != "" {
		return k.hints[i]
	}
	return "a value for key " + k.keys[i].Name
}

// Hint sets the accepted-value phrase reported when key name is missing:
// the same phrase its reader reports for a bad value.
func (k *Keys) Hint(name, accepted string) *Keys {
	if k.hints == nil {
		k.hints = make([]string, len(k.keys))
	}
	for i, key := range k.keys {
		if key.Name == name {
			k.hints[i] = accepted
			return k
		}
	}
	panic("jsonread: no key " + name) // a programming error in a table
}

func (o *Object) lookup(name []byte) int {
	for i, k := range o.keys.keys {
		if k.Name == string(name) {
			return i
		}
	}
	return -1
}

// pending reports whether the caller left the current value unread: the
// position has not moved since the key was read.
func (d *Decoder) pending() bool { return d.pos == d.mark }

// key reads an object key and its colon.
func (d *Decoder) key() ([]byte, bool) {
	if d.peek() != '"' {
		d.failSyntax("want a key")
		return nil, false
	}
	name, ok := d.str()
	if !ok {
		return nil, false
	}
	if d.peek() != ':' {
		d.failSyntax("want ':' after a key")
		return nil, false
	}
	d.pos++
	return name, true
}

// str reads a string token, returning its unescaped bytes (a slice of the
// input when it has no escapes, else of the decoder's buffer, valid until
// the next string).
func (d *Decoder) str() ([]byte, bool) {
	start := d.pos + 1
	i := start
	ascii := true
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(d.data[start:i]) {
				// RFC 8259 text is UTF-8; encoding/json would silently
				// replace the bad bytes, and then the two readers disagree.
				d.pos = start - 1
				d.failSyntax("invalid UTF-8 in a string")
				return nil, false
			}
			d.pos = i + 1
			return d.data[start:i], true
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			d.pos = i
			d.failSyntax("a control character in a string")
			return nil, false
		case c >= 0x80:
			ascii = false
		}
		i++
	}
	d.pos = len(d.data)
	d.failSyntax("an unterminated string")
	return nil, false
}

// strEscaped reads a string with escapes from start, through
// encoding/json's own unquoting (rare in vmlife's documents: their strings
// are names, UUIDs and times).
func (d *Decoder) strEscaped(start int) ([]byte, bool) {
	i := start
	for i < len(d.data) && d.data[i] != '"' {
		if d.data[i] == '\\' {
			i++
		}
		i++
	}
	if i >= len(d.data) {
		d.pos = len(d.data)
		d.failSyntax("an unterminated string")
		return nil, false
	}
	var s string
	if !utf8.Valid(d.data[start:i]) {
		d.pos = start - 1
		d.failSyntax("invalid UTF-8 in a string")
		return nil, false
	}
	if err := json.Unmarshal(d.data[start-1:i+1], &s); err != nil {
		d.pos = start - 1
		d.failSyntax("a bad escape in a string")
		return nil, false
	}
	d.pos = i + 1
	d.buf = append(d.buf[:0], s...)
	return d.buf, true
}

// skip passes over one value of any shape, at most wire.MaxDepth deep
// (depth counts the arrays and objects already open inside it).
func (d *Decoder) skip(depth int) {
	if d.err != nil {
		return
	}
	if d.level+depth >= wire.MaxDepth {
		d.Fail("nested deeper than "+strconv.Itoa(wire.MaxDepth)+" levels", "", "", nil)
		return
	}
	switch c := d.peek(); c {
	case '"':
		d.str()
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		d.pos++
		if d.peek() == end {
			d.pos++
			return
		}
		for d.err == nil {
			if c == '{' {
				if _, ok := d.key(); !ok {
					return
				}
			}
			d.skip(depth + 1)
			switch d.peek() {
			case ',':
				d.pos++
			case end:
				d.pos++
				return
			default:
				d.failSyntax("want ',' or '" + string(end) + "'")
			}
		}
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		d.number()
	}
}

func (d *Decoder) literal(lit string) {
	if !bytes.HasPrefix(d.data[d.pos:], []byte(lit)) {
		d.failSyntax("want a value")
		return
	}
	d.pos += len(lit)
}

// number reads a JSON number token and returns its bytes.
func (d *Decoder) number() []byte {
	start := d.pos
	i := start
	if i < len(d.data) && d.data[i] == '-' {
		i++
	}
	digitsAt := i
	for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
		i++
	}
	if i == digitsAt || (d.data[digitsAt] == '0' && i-digitsAt > 1) {
		d.failSyntax("want a value")
		return nil
	}
	if i < len(d.data) && d.data[i] == '.' {
		i++
		f := i
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
		if i == f {
			d.failSyntax("a number without digits after '.'")
			return nil
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		f := i
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
		if i == f {
			d.failSyntax("a number without digits in its exponent")
			return nil
		}
	}
	d.pos = i
	return d.data[start:i]
}

// Raw returns the next value's bytes, skipping over it.
func (d *Decoder) Raw() []byte {
	if d.err != nil {
		return nil
	}
	d.space()
	start := d.pos
	d.skip(0)
	if d.err != nil {
		return nil
	}
	return d.data[start:d.pos]
}

// Value decodes the next value with its own UnmarshalJSON (a document of
// another package), reporting its errors below the current path. A null is
// left to the caller (check Null first).
func (d *Decoder) Value(u json.Unmarshaler) {
	raw := d.Raw()
	if d.err != nil {
		return
	}
	if err := u.UnmarshalJSON(raw); err != nil {
		var de *wire.DecodeError
		if errors.As(err, &de) {
			d.err = de.Within(d.Path())
			return
		}
		d.Fail(err.Error(), clip.Bytes(raw, valueClipSize), "", err)
	}
}

// describe names the JSON type of the next value for a "want …, got …"
// message: its first bytes for a scalar, "a JSON object" or "a JSON array".
func (d *Decoder) describe() string {
	switch d.peek() {
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	case 0:
		return "nothing"
	}
	return d.clipped()
}

// clipped shows the next value's first bytes, valid UTF-8 escaped.
func (d *Decoder) clipped() string {
	d.space()
	end := d.pos
	for end < len(d.data) && end-d.pos < 64 {
		c := d.data[end]
		if c == ',' || c == '}' || c == ']' || c == '\n' {
			break
		}
		end++
	}
	return escape(clip.Bytes(d.data[d.pos:end], valueClipSize))
}

// escape makes s safe to print on one line: invalid UTF-8 and control
// characters are shown as escapes, never echoed raw.
func escape(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// quoted shows a string value in a message, quoted and escaped.
func quoted(b []byte) string { return strconv.Quote(clip.Bytes(b, valueClipSize)) }

// String reads a string; accepted names what the field accepts.
func (d *Decoder) String(accepted string) []byte {
	if d.isNull(accepted) {
		return nil
	}
	if d.peek() != '"' {
		d.Fail("want a string, got "+d.describe(), d.clipped(), accepted, nil)
		d.skip(0)
		return nil
	}
	s, _ := d.str()
	return s
}

// Enum reads a string naming a value of table t. A null where the key is
// optional reads as the zero value.
func Enum[E ~uint8](d *Decoder, t *enum.Table[E]) E {
	accepted := t.Accepted()
	s := d.String(accepted)
	if s == nil || d.err != nil {
		return 0
	}
	v, err := t.ParseBytes(s)
	if err != nil {
		d.Fail("unknown value "+quoted(s), quoted(s), accepted, err)
		return 0
	}
	return v
}

// Parsed is Enum for a type whose table lives in another package and is
// known here only by its exported parser, such as failure.ParseReason:
// it reads a string and parses it, failing with the accepted values. ok
// is false when the value was null (where null is allowed) or refused.
func Parsed[E any](d *Decoder, accepted string, parse func(string) (E, error)) (v E, ok bool) {
	s := d.String(accepted)
	if s == nil || d.err != nil {
		return v, false
	}
	v, err := parse(string(s))
	if err != nil {
		d.Fail("unknown value "+quoted(s), quoted(s), accepted, err)
		return v, false
	}
	return v, true
}

// UUID reads a UUID string; with nonNil the nil UUID is refused (an id
// that identifies nothing). A null where the key is optional reads as the
// nil UUID.
func (d *Decoder) UUID(nonNil bool) uuid.UUID {
	accepted := AcceptUUID
	if nonNil {
		accepted = AcceptNonNil
	}
	s := d.String(accepted)
	if s == nil || d.err != nil {
		return uuid.UUID{}
	}
	u, err := uuid.ParseBytes(s)
	if err != nil || len(s) != 36 {
		d.Fail(quoted(s)+" is not a UUID", quoted(s), AcceptUUID, typedid.ErrInvalid)
		return uuid.UUID{}
	}
	if nonNil && u == (uuid.UUID{}) {
		d.Fail("the nil UUID identifies nothing", quoted(s), accepted, typedid.ErrInvalid)
	}
	return u
}

// Time reads an RFC 3339 time (wire.ParseTime). Where the key is optional
// a null reads as the zero time, and the zero time written out is refused:
// it stands for null, so it would not read back as itself.
func (d *Decoder) Time() time.Time {
	s := d.String(AcceptTime)
	if s == nil || d.err != nil {
		return time.Time{}
	}
	t, err := wire.ParseTime(s)
	switch {
	case errors.Is(err, wire.ErrTimeRange):
		d.Fail(quoted(s)+" is outside years 0000..9999 in UTC", quoted(s), AcceptTime, err)
	case err != nil:
		d.Fail(quoted(s)+" is not an RFC 3339 time", quoted(s), AcceptTime, err)
	case t.IsZero() && d.optional():
		d.Fail(quoted(s)+" is the zero time, which stands for null", quoted(s), AcceptTime, nil)
	}
	return t
}

// Bool reads true or false.
func (d *Decoder) Bool() bool {
	if d.isNull(AcceptBool) {
		return false
	}
	switch {
	case d.peek() == 't' && bytes.HasPrefix(d.data[d.pos:], []byte("true")):
		d.pos += 4
		return true
	case d.peek() == 'f' && bytes.HasPrefix(d.data[d.pos:], []byte("false")):
		d.pos += 5
		return false
	}
	d.Fail("want true or false, got "+d.describe(), d.clipped(), AcceptBool, nil)
	return false
}

// integer reads a JSON number that must be an integer, returning its text.
func (d *Decoder) integer(accepted string) []byte {
	if d.isNull(accepted) {
		return nil
	}
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		d.Fail("want an integer, got "+d.describe(), d.clipped(), accepted, generation.ErrSyntax)
		return nil
	}
	n := d.number()
	if d.err != nil {
		return nil
	}
	if bytes.ContainsAny(n, ".eE") {
		d.Fail("want an integer, got "+string(n), string(n), accepted, generation.ErrSyntax)
		return nil
	}
	return n
}

// Generation reads a generation: a JSON integer in 0..2^63−1 (§1).
func (d *Decoder) Generation() generation.Generation {
	n := d.integer(AcceptGen)
	if n == nil {
		return generation.Generation{}
	}
	g, err := generation.ParseBytes(n)
	if err != nil {
		problem := string(n) + " is too large"
		if n[0] == '-' {
			problem = string(n) + " is negative"
		}
		d.Fail(problem, string(n), AcceptGen, err)
	}
	return g
}

// Int64 reads a JSON integer in [lo, hi]; accepted names the range.
func (d *Decoder) Int64(lo, hi int64, accepted string) int64 {
	n := d.integer(accepted)
	if n == nil {
		return 0
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || v < lo || v > hi {
		d.Fail(string(n)+" is out of range", string(n), accepted, err)
		return 0
	}
	return v
}

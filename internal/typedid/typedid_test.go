package typedid_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/internal/typedid"
)

type vmmKind struct{}

func (vmmKind) Name() string { return "vmm" }

type sledKind struct{}

func (sledKind) Name() string { return "sled" }

type vmmID = typedid.ID[vmmKind]

const canonical = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

var canonicalUUID = uuid.MustParse(canonical)

func TestParseGood(t *testing.T) {
	for _, s := range []string{
		canonical,
		strings.ToUpper(canonical),
		"6BA7B810-9dad-11D1-80b4-00C04FD430C8",
	} {
		id, err := typedid.Parse[vmmKind](s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if id.UUID() != canonicalUUID || id.String() != canonical {
			t.Errorf("Parse(%q) = %v, want %s", s, id, canonical)
		}
		if id.IsZero() {
			t.Errorf("Parse(%q).IsZero()", s)
		}
	}
	nilID, err := typedid.Parse[vmmKind]("00000000-0000-0000-0000-000000000000")
	if err != nil || !nilID.IsZero() || nilID != (vmmID{}) {
		t.Errorf("nil UUID = %v, %v; want the zero id", nilID, err)
	}
}

// Only the canonical 36-character form is an id; the other spellings
// uuid.Parse tolerates (no dashes, braces, urn:uuid:) are not.
func TestParseBad(t *testing.T) {
	for _, s := range []string{
		"",
		"6ba7b8109dad11d180b400c04fd430c8",     // 32 hex, no dashes
		"{" + canonical + "}",                  // braces
		"urn:uuid:" + canonical,                // URN
		canonical[:35],                         // one short
		canonical + "0",                        // one long
		" " + canonical[1:],                    // 36 chars, space
		canonical[:35] + "g",                   // not hex
		"6ba7b810-9dad-11d1-80b4_00c04fd430c8", // wrong separator
		"6ba7b8109-dad-11d1-80b4-00c04fd430c8", // dash misplaced
		"6ba7b810-9dad-11d1-80b4-00c04fd430c\u00e9"[:36], // cut inside UTF-8
		"+ba7b810-9dad-11d1-80b4-00c04fd430c8",           // sign
		"\x00ba7b810-9dad-11d1-80b4-00c04fd430c8",        // NUL
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8\n"[1:],     // shifted
		strings.Repeat("a", 36),                          // no dashes at all
		strings.Repeat("-", 36),                          // only dashes
		canonical[:35] + "-",                             // dash for a digit
	} {
		id, err := typedid.Parse[vmmKind](s)
		if id != (vmmID{}) {
			t.Errorf("Parse(%q) = %v on error, want zero", s, id)
		}
		checkInvalid(t, "Parse", err, "vmm", s)
	}
}

// checkInvalid asserts D3: errors.Is ErrInvalid, errors.As *Error naming
// the kind and the input.
func checkInvalid(t testing.TB, what string, err error, kind, input string) {
	t.Helper()
	if !errors.Is(err, typedid.ErrInvalid) {
		t.Fatalf("%s(%q): %v is not ErrInvalid", what, input, err)
	}
	var e *typedid.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s(%q): %v (%T) is not a *typedid.Error", what, input, err, err)
	}
	if e.Kind != kind || e.Input != input {
		t.Fatalf("%s(%q): got %+v, want kind %s", what, input, *e, kind)
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := typedid.Parse[sledKind]("nope")
	const want = `sled id: "nope" is not a UUID (want the 36-character form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant      %s", err, want)
	}
	// A hostile input is clipped, not echoed whole.
	_, err = typedid.Parse[sledKind](strings.Repeat("x", 1<<20))
	var e *typedid.Error
	if !errors.As(err, &e) || e.Input != strings.Repeat("x", 64)+"…" || len(err.Error()) > 200 {
		t.Errorf("long input: %v", err)
	}
}

func TestMarshal(t *testing.T) {
	id := typedid.FromUUID[vmmKind](canonicalUUID)
	if b, err := id.MarshalText(); err != nil || string(b) != canonical {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
	if b, err := id.AppendText([]byte("id=")); err != nil || string(b) != "id="+canonical {
		t.Errorf("AppendText = %q, %v", b, err)
	}
	if v, err := id.Value(); err != nil || v != canonical {
		t.Errorf("Value = %#v, %v", v, err)
	}
	js, err := json.Marshal(map[string]vmmID{"id": id})
	if err != nil || string(js) != `{"id":"`+canonical+`"}` {
		t.Errorf("json.Marshal = %s, %v", js, err)
	}
	var back map[string]vmmID
	if err := json.Unmarshal(js, &back); err != nil || back["id"] != id {
		t.Errorf("json.Unmarshal = %v, %v", back, err)
	}
	var zero vmmID
	if !zero.IsZero() || zero.String() != "00000000-0000-0000-0000-000000000000" {
		t.Errorf("zero id = %v", zero)
	}
}

func TestUnmarshalTextErrorKeepsValue(t *testing.T) {
	id := typedid.FromUUID[vmmKind](canonicalUUID)
	for _, s := range []string{"", "6ba7b8109dad11d180b400c04fd430c8", "{" + canonical + "}"} {
		err := id.UnmarshalText([]byte(s))
		checkInvalid(t, "UnmarshalText", err, "vmm", s)
		if id.UUID() != canonicalUUID {
			t.Fatalf("UnmarshalText(%q) changed the id to %v", s, id)
		}
	}
	if err := json.Unmarshal([]byte(`"not-a-uuid"`), &id); !errors.Is(err, typedid.ErrInvalid) || id.UUID() != canonicalUUID {
		t.Errorf("json.Unmarshal(bad) = %v, id %v", err, id)
	}
}

func TestScan(t *testing.T) {
	raw := canonicalUUID // [16]byte, copied
	for name, src := range map[string]any{
		"string":       canonical,
		"[]byte text":  []byte(canonical),
		"[]byte upper": []byte(strings.ToUpper(canonical)),
		"16 raw bytes": raw[:],
	} {
		var id vmmID
		if err := id.Scan(src); err != nil || id.UUID() != canonicalUUID {
			t.Errorf("Scan(%s) = %v, %v", name, id, err)
		}
	}

	// The 16 raw bytes are copied: a driver may reuse its buffer.
	buf := append([]byte(nil), canonicalUUID[:]...)
	var id vmmID
	if err := id.Scan(buf); err != nil {
		t.Fatal(err)
	}
	buf[0] ^= 0xff
	if id.UUID() != canonicalUUID {
		t.Errorf("Scan aliased the driver's buffer: %v", id)
	}

	for _, tt := range []struct {
		src   any
		input string
	}{
		{nil, "NULL"},
		{int64(1), "value of type int64"},
		{1.5, "value of type float64"},
		{canonicalUUID, "value of type uuid.UUID"},
		{"6ba7b8109dad11d180b400c04fd430c8", "6ba7b8109dad11d180b400c04fd430c8"},
		{canonicalUUID[:15], string(canonicalUUID[:15])},
		{append(canonicalUUID[:], 0), string(append(canonicalUUID[:], 0))},
		{[]byte{}, ""},
	} {
		id := typedid.FromUUID[vmmKind](canonicalUUID)
		err := id.Scan(tt.src)
		checkInvalid(t, "Scan", err, "vmm", tt.input)
		if id.UUID() != canonicalUUID {
			t.Errorf("Scan(%#v) changed the id to %v", tt.src, id)
		}
	}
}

// Ids of different kinds are different types: the point of the package.
func TestKindsAreDistinct(t *testing.T) {
	var a any = typedid.FromUUID[vmmKind](canonicalUUID)
	var b any = typedid.FromUUID[sledKind](canonicalUUID)
	if a == b {
		t.Error("a vmm id equals a sled id with the same UUID")
	}
	if _, ok := a.(typedid.ID[sledKind]); ok {
		t.Error("a vmm id asserts to a sled id")
	}
	_, err := typedid.Parse[sledKind]("x")
	checkInvalid(t, "Parse", err, "sled", "x")
}

func genUUID() *rapid.Generator[uuid.UUID] {
	return rapid.Custom(func(t *rapid.T) uuid.UUID {
		var u uuid.UUID
		copy(u[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "bytes"))
		return u
	})
}

// Every representation of an id decodes back to the same id, and the text
// form is canonical (lower case, 36 characters) whatever case was parsed.
func TestPropRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		u := genUUID().Draw(t, "uuid")
		id := typedid.FromUUID[vmmKind](u)
		if id.UUID() != u || id.IsZero() != (u == uuid.Nil) {
			t.Fatalf("FromUUID(%v) = %v", u, id)
		}
		s := id.String()
		if s != u.String() || len(s) != 36 || strings.ToLower(s) != s {
			t.Fatalf("String() = %q, want %q", s, u.String())
		}
		for _, in := range []string{s, strings.ToUpper(s)} {
			if p, err := typedid.Parse[vmmKind](in); err != nil || p != id {
				t.Fatalf("Parse(%q) = %v, %v", in, p, err)
			}
		}
		text, err := id.MarshalText()
		if err != nil || string(text) != s {
			t.Fatalf("MarshalText = %q, %v", text, err)
		}
		var fromText vmmID
		if err := fromText.UnmarshalText(text); err != nil || fromText != id {
			t.Fatalf("UnmarshalText(%q) = %v, %v", text, fromText, err)
		}
		if b, err := id.AppendText([]byte("x")); err != nil || string(b) != "x"+s {
			t.Fatalf("AppendText = %q, %v", b, err)
		}
		v, err := id.Value()
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range []any{v, []byte(s), u[:]} {
			var fromSQL vmmID
			if err := fromSQL.Scan(src); err != nil || fromSQL != id {
				t.Fatalf("Scan(%#v) = %v, %v", src, fromSQL, err)
			}
		}
	})
}

// FuzzUnmarshalText: never a panic; an error leaves the id alone; accepted
// text is exactly the canonical form up to case, agrees with uuid.Parse, and
// marshal → unmarshal → marshal is byte-identical.
func FuzzUnmarshalText(f *testing.F) {
	for _, s := range []string{
		canonical, strings.ToUpper(canonical), "", "6ba7b8109dad11d180b400c04fd430c8",
		"{" + canonical + "}", "urn:uuid:" + canonical, "00000000-0000-0000-0000-000000000000",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		before := typedid.FromUUID[vmmKind](canonicalUUID)
		id := before
		err := id.UnmarshalText(b)
		if err != nil {
			var e *typedid.Error
			if !errors.Is(err, typedid.ErrInvalid) || !errors.As(err, &e) || e.Kind != "vmm" {
				t.Fatalf("%q: error %v breaks D3", b, err)
			}
			if id != before {
				t.Fatalf("%q: rejected but id changed to %v", b, id)
			}
			return
		}
		u, uerr := uuid.ParseBytes(b)
		if len(b) != 36 || uerr != nil || u != id.UUID() {
			t.Fatalf("%q accepted as %v; uuid.ParseBytes gives %v, %v", b, id, u, uerr)
		}
		m1, err := id.MarshalText()
		if err != nil || !bytes.Equal(m1, bytes.ToLower(b)) {
			t.Fatalf("%q: MarshalText = %q, %v", b, m1, err)
		}
		var again vmmID
		if err := again.UnmarshalText(m1); err != nil || again != id {
			t.Fatalf("%q: re-decoding = %v, %v", b, again, err)
		}
		if m2, _ := again.MarshalText(); !bytes.Equal(m1, m2) {
			t.Fatalf("%q: marshal→unmarshal→marshal %q != %q", b, m1, m2)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := typedid.Parse[vmmKind](canonical); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkString(b *testing.B) {
	b.ReportAllocs()
	id := typedid.FromUUID[vmmKind](canonicalUUID)
	for b.Loop() {
		_ = id.String()
	}
}

func BenchmarkAppendText(b *testing.B) {
	b.ReportAllocs()
	id := typedid.FromUUID[vmmKind](canonicalUUID)
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf, _ = id.AppendText(buf[:0])
	}
}

package failure_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/vmlife/vmlife/failure"
)

// reasonTable is §4.3 and §5.1 (vmm_failure_reason) row by row, in
// declaration order: the wire string, the database string and the
// description are one and the same table in Omicron.
var reasonTable = []struct {
	r    failure.Reason
	wire string
	desc string
}{
	{failure.Prehistoric, "prehistoric", "VMM failed prior to recorded history"},
	{failure.FromSledAgent, "from_sled_agent", "failed VMM state received from sled-agent"},
	{failure.NoSuchInstance, "no_such_instance", "VMM no longer present on sled"},
	{failure.SledExpunged, "sled_expunged", "the sled this VMM was running on has been expunged"},
	{failure.SledOff, "sled_off", "the sled this VMM was running on powered off"},
}

var reasonWires = []string{"prehistoric", "from_sled_agent", "no_such_instance", "sled_expunged", "sled_off"}

func TestReasonTable(t *testing.T) {
	for _, tt := range reasonTable {
		t.Run(tt.wire, func(t *testing.T) {
			r := tt.r
			if !r.IsValid() {
				t.Error("IsValid() = false")
			}
			if got := r.String(); got != tt.wire {
				t.Errorf("String() = %q", got)
			}
			if got := r.Description(); got != tt.desc {
				t.Errorf("Description() = %q, want %q", got, tt.desc)
			}
			if got, err := failure.ParseReason(tt.wire); err != nil || got != r {
				t.Errorf("ParseReason(%q) = %v, %v", tt.wire, got, err)
			}
			if got, err := r.MarshalText(); err != nil || string(got) != tt.wire {
				t.Errorf("MarshalText() = %q, %v", got, err)
			}
			if got, err := r.AppendText([]byte("x=")); err != nil || string(got) != "x="+tt.wire {
				t.Errorf("AppendText() = %q, %v", got, err)
			}
			var u failure.Reason
			if err := u.UnmarshalText([]byte(tt.wire)); err != nil || u != r {
				t.Errorf("UnmarshalText(%q) = %v, %v", tt.wire, u, err)
			}

			// JSON goes through the text form: a snake_case string (D9).
			js, err := json.Marshal(r)
			if err != nil || string(js) != strconv.Quote(tt.wire) {
				t.Errorf("json.Marshal = %s, %v", js, err)
			}
			var fromJSON failure.Reason
			if err := json.Unmarshal(js, &fromJSON); err != nil || fromJSON != r {
				t.Errorf("json.Unmarshal(%s) = %v, %v", js, fromJSON, err)
			}

			// The vmm_failure_reason column holds the same string (§5.1, §6.2).
			v, err := r.Value()
			if err != nil || v != tt.wire {
				t.Errorf("Value() = %#v, %v", v, err)
			}
			for _, src := range []any{tt.wire, []byte(tt.wire)} {
				var s failure.Reason
				if err := s.Scan(src); err != nil || s != r {
					t.Errorf("Scan(%#v) = %v, %v", src, s, err)
				}
			}
		})
	}
}

func TestAllReasons(t *testing.T) {
	var want []failure.Reason
	for _, tt := range reasonTable {
		want = append(want, tt.r)
	}
	all := failure.AllReasons()
	if !slices.Equal(all, want) {
		t.Fatalf("AllReasons() = %v, want %v", all, want)
	}
	// A fresh slice each time: a caller cannot corrupt the enum.
	all[0] = failure.SledOff
	if failure.AllReasons()[0] != failure.Prehistoric {
		t.Error("AllReasons() shares its backing array")
	}
}

// Every uint8 value either is one of the five reasons or is invalid and says
// so without panicking (D2): there is no third kind.
func TestReasonEveryValue(t *testing.T) {
	for n := 0; n <= 255; n++ {
		r := failure.Reason(n)
		valid := n >= 1 && n <= len(reasonTable)
		if r.IsValid() != valid {
			t.Errorf("Reason(%d).IsValid() = %v", n, r.IsValid())
		}
		if valid {
			if r != reasonTable[n-1].r || r.String() != reasonTable[n-1].wire {
				t.Errorf("Reason(%d) = %v, want %s", n, r, reasonTable[n-1].wire)
			}
			continue
		}
		want := "failure.Reason(" + strconv.Itoa(n) + ")"
		if got := r.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if got := r.Description(); got != "" {
			t.Errorf("Reason(%d).Description() = %q, want empty", n, got)
		}
		for name, err := range map[string]error{
			"MarshalText": func() error { _, err := r.MarshalText(); return err }(),
			"Value":       func() error { _, err := r.Value(); return err }(),
			"json.Marshal": func() error {
				_, err := json.Marshal(struct{ R failure.Reason }{r})
				return err
			}(),
		} {
			checkUnknown(t, "Reason("+strconv.Itoa(n)+")."+name, err, want)
		}
		prefix := []byte("keep")
		b, err := r.AppendText(prefix)
		checkUnknown(t, "AppendText", err, want)
		if string(b) != "keep" {
			t.Errorf("Reason(%d).AppendText appended %q on error", n, b)
		}
	}
}

// checkUnknown asserts the D3 contract of an enum decoding error:
// errors.Is ErrUnknown, errors.As *UnknownError naming the type, the input
// and every accepted string in declaration order.
func checkUnknown(t *testing.T, what string, err error, input string) {
	t.Helper()
	if !errors.Is(err, failure.ErrUnknown) {
		t.Errorf("%s: error %v is not ErrUnknown", what, err)
		return
	}
	var ue *failure.UnknownError
	if !errors.As(err, &ue) {
		t.Errorf("%s: error %v is not a *failure.UnknownError", what, err)
		return
	}
	if ue.Type != "failure.Reason" || ue.Input != input || !slices.Equal(ue.Accepted, reasonWires) {
		t.Errorf("%s: got %+v, want Type failure.Reason, Input %s, Accepted %v", what, *ue, input, reasonWires)
	}
}

func TestParseReasonRejects(t *testing.T) {
	for _, s := range []string{
		"", "Prehistoric", "PREHISTORIC", "prehistoric ", " prehistoric", "sled-off", "sledoff",
		"SledOff", "failed", "unknown", "0", "1", "from_sled_agent\x00", `"sled_off"`,
	} {
		r, err := failure.ParseReason(s)
		if r != 0 {
			t.Errorf("ParseReason(%q) = %v on error, want the zero value", s, r)
		}
		checkUnknown(t, "ParseReason("+strconv.Quote(s)+")", err, strconv.Quote(s))
	}
	_, err := failure.ParseReason("sled-off")
	const want = `failure.Reason: unknown value "sled-off" ` +
		`(accepted: prehistoric, from_sled_agent, no_such_instance, sled_expunged, sled_off)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant      %s", err, want)
	}
}

// A decoding error leaves the destination as it was (D3: never a
// half-changed value).
func TestReasonDecodeErrorKeepsValue(t *testing.T) {
	for name, decode := range map[string]func(*failure.Reason) error{
		"UnmarshalText":        func(r *failure.Reason) error { return r.UnmarshalText([]byte("sled-off")) },
		"Scan(string)":         func(r *failure.Reason) error { return r.Scan("bogus") },
		"Scan([]byte)":         func(r *failure.Reason) error { return r.Scan([]byte("")) },
		"Scan(NULL)":           func(r *failure.Reason) error { return r.Scan(nil) },
		"Scan(int64)":          func(r *failure.Reason) error { return r.Scan(int64(1)) },
		"json.Unmarshal":       func(r *failure.Reason) error { return json.Unmarshal([]byte(`"bogus"`), r) },
		"json.Unmarshal(5)":    func(r *failure.Reason) error { return json.Unmarshal([]byte(`5`), r) },
		"json.Unmarshal(true)": func(r *failure.Reason) error { return json.Unmarshal([]byte(`true`), r) },
	} {
		r := failure.SledExpunged
		if err := decode(&r); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if r != failure.SledExpunged {
			t.Errorf("%s: value changed to %v on error", name, r)
		}
	}
}

func TestReasonScanErrors(t *testing.T) {
	var r failure.Reason
	checkUnknown(t, "Scan(nil)", r.Scan(nil), "NULL")
	checkUnknown(t, "Scan(int64)", r.Scan(int64(3)), "of type int64")
	checkUnknown(t, "Scan([]byte)", r.Scan([]byte("Sled_Off")), `"Sled_Off"`)
	if r != 0 {
		t.Errorf("r = %v after failed scans", r)
	}
	var ue *failure.UnknownError
	if err := json.Unmarshal([]byte(`"nope"`), &r); !errors.As(err, &ue) || ue.Input != `"nope"` {
		t.Errorf("json.Unmarshal(\"nope\") = %v, want an *UnknownError through encoding/json", err)
	}
}

// The failure_reason column is nullable (§5.5): NULL scans through
// sql.Null as not-Valid with an invalid V, never as a default reason.
func TestReasonSQLNull(t *testing.T) {
	n := sql.Null[failure.Reason]{V: failure.SledOff, Valid: true}
	if err := n.Scan(nil); err != nil {
		t.Fatalf("sql.Null.Scan(nil) = %v", err)
	}
	if n.Valid || n.V.IsValid() {
		t.Errorf("after NULL: %+v, want Valid=false and an invalid V", n)
	}
	if err := n.Scan("no_such_instance"); err != nil || !n.Valid || n.V != failure.NoSuchInstance {
		t.Errorf("sql.Null.Scan(no_such_instance) = %v, %+v", err, n)
	}
	if err := n.Scan("bogus"); !errors.Is(err, failure.ErrUnknown) {
		t.Errorf("sql.Null.Scan(bogus) = %v, want ErrUnknown", err)
	}
	if v, err := (sql.Null[failure.Reason]{}).Value(); err != nil || v != nil {
		t.Errorf("invalid sql.Null.Value() = %#v, %v, want NULL", v, err)
	}
}

// JSON null into a Reason is encoding/json's "no value": it leaves the zero
// (invalid) Reason, which every consumer rejects; use *Reason or a nullable
// type for an optional reason.
func TestReasonJSONNull(t *testing.T) {
	var v struct{ R failure.Reason }
	if err := json.Unmarshal([]byte(`{"R":null}`), &v); err != nil || v.R.IsValid() {
		t.Errorf("null = %v, %v", v.R, err)
	}
	var p struct{ R *failure.Reason }
	if err := json.Unmarshal([]byte(`{"R":"sled_off"}`), &p); err != nil || p.R == nil || *p.R != failure.SledOff {
		t.Errorf("*Reason = %v, %v", p.R, err)
	}
	out, err := json.Marshal(struct{ R *failure.Reason }{})
	if err != nil || string(out) != `{"R":null}` {
		t.Errorf("nil *Reason marshals to %s, %v", out, err)
	}
}

func FuzzReasonUnmarshalText(f *testing.F) {
	for _, s := range append(reasonWires, "", "Sled_Off", "sled_off ", "failure.Reason(0)", "\xff") {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := failure.FromSledAgent
		err := r.UnmarshalText(b)
		checkReasonDecoded(t, b, r, err)
	})
}

func FuzzReasonScan(f *testing.F) {
	for i, s := range append(reasonWires, "", "x", "SLED_OFF") {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, kind uint8, s string) {
		var src any
		switch kind % 4 {
		case 0:
			src = s
		case 1:
			src = []byte(s)
		case 2:
			src = nil
		case 3:
			src = int64(len(s))
		}
		r := failure.FromSledAgent
		err := r.Scan(src)
		if kind%4 >= 2 {
			if err == nil {
				t.Fatalf("Scan(%#v) accepted as %v", src, r)
			}
		}
		checkReasonDecoded(t, []byte(s), r, err)
	})
}

// checkReasonDecoded: an error is ErrUnknown and leaves FromSledAgent in
// place; an accepted input is exactly one wire string, and marshal →
// unmarshal → marshal gives it back byte for byte.
func checkReasonDecoded(t *testing.T, in []byte, r failure.Reason, err error) {
	t.Helper()
	if err != nil {
		var ue *failure.UnknownError
		if !errors.Is(err, failure.ErrUnknown) || !errors.As(err, &ue) || !slices.Equal(ue.Accepted, reasonWires) {
			t.Fatalf("%q: error %v does not keep the D3 contract", in, err)
		}
		if r != failure.FromSledAgent {
			t.Fatalf("%q: rejected but value changed to %v", in, r)
		}
		return
	}
	if !slices.Contains(reasonWires, string(in)) {
		t.Fatalf("%q accepted as %v but is not a wire string", in, r)
	}
	m1, err := r.MarshalText()
	if err != nil || !bytes.Equal(m1, in) {
		t.Fatalf("%q: MarshalText = %q, %v", in, m1, err)
	}
	var again failure.Reason
	if err := again.UnmarshalText(m1); err != nil || again != r {
		t.Fatalf("%q: re-decoding = %v, %v", in, again, err)
	}
	if m2, _ := again.MarshalText(); !bytes.Equal(m1, m2) {
		t.Fatalf("%q: marshal→unmarshal→marshal %q != %q", in, m1, m2)
	}
}

func BenchmarkReasonString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = failure.SledExpunged.String()
	}
}

func BenchmarkParseReason(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := failure.ParseReason("sled_off"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReasonAppendText(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf, _ = failure.NoSuchInstance.AppendText(buf[:0])
	}
}

func BenchmarkReasonScan(b *testing.B) {
	b.ReportAllocs()
	var src any = []byte("sled_off") // boxed once, as database/sql hands it over
	var r failure.Reason
	for b.Loop() {
		if err := r.Scan(src); err != nil {
			b.Fatal(err)
		}
	}
}

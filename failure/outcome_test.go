package failure_test

import (
	"database/sql"
	"database/sql/driver"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/failure"
)

// The wire strings, written out again from the spec so that a change to a
// table in the package is caught here.
var communicationNames = []string{"timeout", "connect"}

func TestCommunicationEnum(t *testing.T) {
	checkEnum(t, "failure.Communication", failure.AllCommunications(), communicationNames, failure.ParseCommunication)
	if failure.CommTimeout.String() != "timeout" || failure.CommConnect.String() != "connect" {
		t.Errorf("constants name the wrong strings: %v %v", failure.CommTimeout, failure.CommConnect)
	}
}

// TestClassifyStatuses walks one row per status class (D18, §11). Each row
// gives the classification of the status with any error code but
// NO_SUCH_INSTANCE, and with NO_SUCH_INSTANCE.
func TestClassifyStatuses(t *testing.T) {
	gone := failure.Classification{VMMGone: true, Reason: failure.NoSuchInstance, HTTPStatus: 503}
	rows := []struct {
		status         int
		other, withNSI failure.Classification
	}{
		{400, c(400), c(400)},
		{401, c(400), c(400)},
		{403, c(400), c(400)},
		{404, c(400), gone}, // §11 vmm_gone
		{409, c(400), c(400)},
		{410, c(400), gone}, // D18: Omicron's 410 miss fixed
		{429, c(400), c(400)},
		{499, c(400), c(400)},
		{500, c(500), c(500)},
		{501, c(500), c(500)},
		{502, c(500), c(500)},
		{503, c(503), c(503)}, // unavailable passes through, even with NO_SUCH_INSTANCE
		{504, c(500), c(500)},
		{599, c(500), c(500)},
	}
	otherCodes := []string{"", "INSTANCE_CHANNEL_FULL", "no_such_instance", "NO_SUCH_INSTANCE ", "Internal"}
	for _, row := range rows {
		for _, code := range append(otherCodes, failure.ErrorCodeNoSuchInstance) {
			want := row.other
			if code == failure.ErrorCodeNoSuchInstance {
				want = row.withNSI
			}
			got, err := failure.Classify(failure.Outcome{Status: row.status, ErrorCode: code})
			if err != nil || got != want {
				t.Errorf("Classify(%d, %q) = %+v, %v; want %+v", row.status, code, got, err, want)
			}
		}
	}
}

func c(status int) failure.Classification { return failure.Classification{HTTPStatus: status} }

func TestClassifyCommunication(t *testing.T) {
	rows := []struct {
		comm failure.Communication
		want int
	}{
		{failure.CommTimeout, 504}, // §11
		{failure.CommConnect, 502}, // §11
	}
	if len(rows) != len(failure.AllCommunications()) {
		t.Fatalf("table has %d rows for %d communication errors", len(rows), len(failure.AllCommunications()))
	}
	for _, row := range rows {
		got, err := failure.Classify(failure.Outcome{Communication: row.comm})
		if err != nil || got != c(row.want) {
			t.Errorf("Classify(%v) = %+v, %v; want HTTP %d, not gone", row.comm, got, err, row.want)
		}
	}
}

// TestClassifyEveryErrorStatus checks the whole accepted range against
// D18 restated: gone exactly for 404/410 + NO_SUCH_INSTANCE, and the
// external status is one of Omicron's.
func TestClassifyEveryErrorStatus(t *testing.T) {
	for status := 400; status <= 599; status++ {
		for _, code := range []string{"", failure.ErrorCodeNoSuchInstance} {
			got, err := failure.Classify(failure.Outcome{Status: status, ErrorCode: code})
			if err != nil {
				t.Fatalf("Classify(%d, %q): %v", status, code, err)
			}
			wantGone := (status == 404 || status == 410) && code != ""
			wantHTTP := 500
			switch {
			case wantGone, status == 503:
				wantHTTP = 503
			case status < 500:
				wantHTTP = 400
			}
			if got.VMMGone != wantGone || got.HTTPStatus != wantHTTP {
				t.Errorf("Classify(%d, %q) = %+v; want gone=%v HTTP %d", status, code, got, wantGone, wantHTTP)
			}
		}
	}
}

func TestClassifyRejects(t *testing.T) {
	rows := []struct {
		name  string
		o     failure.Outcome
		field string
		value string
	}{
		{"neither", failure.Outcome{}, "status", "0"},
		{"neither, code only", failure.Outcome{ErrorCode: "NO_SUCH_INSTANCE"}, "status", "0"},
		{"both", failure.Outcome{Status: 404, Communication: failure.CommTimeout}, "communication", "timeout"},
		{"both, invalid communication", failure.Outcome{Status: 500, Communication: 9}, "communication", "failure.Communication(9)"},
		{"success status", failure.Outcome{Status: 200}, "status", "200"},
		{"redirect", failure.Outcome{Status: 302}, "status", "302"},
		{"below 400", failure.Outcome{Status: 399}, "status", "399"},
		{"above 599", failure.Outcome{Status: 600}, "status", "600"},
		{"negative", failure.Outcome{Status: -404, ErrorCode: "NO_SUCH_INSTANCE"}, "status", "-404"},
		{"invalid communication", failure.Outcome{Communication: 3}, "communication", "failure.Communication(3)"},
		{"code without response", failure.Outcome{Communication: failure.CommConnect, ErrorCode: "NO_SUCH_INSTANCE"}, "error_code", `"NO_SUCH_INSTANCE"`},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			got, err := failure.Classify(row.o)
			if got != (failure.Classification{}) {
				t.Errorf("Classify = %+v with an error; want the zero Classification", got)
			}
			checkOutcomeError(t, err, row.field, row.value)
		})
	}
}

// checkOutcomeError checks that err is the typed error of D3 for field and
// value, and that it lists what is accepted.
func checkOutcomeError(t *testing.T, err error, field, value string) {
	t.Helper()
	if !errors.Is(err, failure.ErrInvalidOutcome) {
		t.Fatalf("error %v does not match ErrInvalidOutcome", err)
	}
	var oe *failure.OutcomeError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v is not an *OutcomeError", err)
	}
	if oe.Field != field || oe.Value != value || oe.Accepted == "" {
		t.Errorf("OutcomeError = %+v; want field %q, value %q and the accepted values", *oe, field, value)
	}
	if msg := err.Error(); !strings.Contains(msg, field) || !strings.Contains(msg, oe.Accepted) {
		t.Errorf("message %q does not name the field and the accepted values", msg)
	}
}

func TestClassifyAcceptedValuesAreListed(t *testing.T) {
	_, err := failure.Classify(failure.Outcome{Communication: 7})
	var oe *failure.OutcomeError
	if !errors.As(err, &oe) || oe.Accepted != "timeout, connect" {
		t.Errorf("invalid communication: %v; want accepted \"timeout, connect\"", err)
	}
	_, err = failure.Classify(failure.Outcome{Status: 200})
	if !errors.As(err, &oe) || !strings.Contains(oe.Accepted, "400..599") {
		t.Errorf("status 200: %v; want the accepted range 400..599", err)
	}
}

func TestClassificationMessage(t *testing.T) {
	gone, err := failure.Classify(failure.Outcome{Status: 410, ErrorCode: failure.ErrorCodeNoSuchInstance})
	if err != nil {
		t.Fatal(err)
	}
	const want = "The instance was running but is no longer reachable. It is being moved to the Failed state." // §11
	if gone.Message() != want || failure.MessageVMMGone != want {
		t.Errorf("gone message = %q; want %q", gone.Message(), want)
	}
	for _, o := range []failure.Outcome{{Status: 404}, {Status: 500}, {Communication: failure.CommTimeout}} {
		cl, err := failure.Classify(o)
		if err != nil || cl.Message() != "" {
			t.Errorf("Classify(%+v).Message() = %q, %v; want \"\" (the sled-agent's message passes through)", o, cl.Message(), err)
		}
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	outcomes := benchOutcomes()
	allocs := testing.AllocsPerRun(100, func() {
		for _, o := range outcomes {
			if _, err := failure.Classify(o); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Classify allocates %v times per run; want 0", allocs)
	}
}

func benchOutcomes() []failure.Outcome {
	return []failure.Outcome{
		{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance},
		{Status: 410, ErrorCode: failure.ErrorCodeNoSuchInstance},
		{Status: 404},
		{Status: 500},
		{Status: 503, ErrorCode: "INSTANCE_CHANNEL_FULL"},
		{Communication: failure.CommTimeout},
		{Communication: failure.CommConnect},
	}
}

func BenchmarkClassify(b *testing.B) {
	outcomes := benchOutcomes()
	b.ReportAllocs()
	var sink int
	for i := 0; b.Loop(); i++ {
		cl, _ := failure.Classify(outcomes[i%len(outcomes)])
		sink += cl.HTTPStatus
	}
	_ = sink
}

func FuzzCommunicationText(f *testing.F) { fuzzEnum[failure.Communication](f, communicationNames) }

// textEnum is what D9 asks of every enum value.
type textEnum interface {
	~uint8
	fmt.Stringer
	IsValid() bool
	encoding.TextAppender
	encoding.TextMarshaler
	driver.Valuer
}

// textEnumPtr is what D9 asks of a pointer to an enum: the decoders.
type textEnumPtr[E textEnum] interface {
	*E
	encoding.TextUnmarshaler
	sql.Scanner
}

// checkEnum walks every value of an enum through every D9 interface, and
// checks the zero value, an out-of-range value and unknown input (D2, D3).
// names are the wire strings in declaration order, as the spec gives them.
func checkEnum[E textEnum, P textEnumPtr[E]](t *testing.T, typ string, all []E, names []string, parse func(string) (E, error)) {
	t.Helper()
	if !slices.Equal(stringsOf(all), names) {
		t.Fatalf("%s: All = %v; want %v", typ, stringsOf(all), names)
	}
	for i, e := range all {
		name := names[i]
		if uint8(e) != uint8(i+1) || !e.IsValid() {
			t.Errorf("%s: value %d is %q; want declaration order from 1, valid", typ, uint8(e), name)
		}
		if m, err := e.MarshalText(); err != nil || string(m) != name {
			t.Errorf("%s: MarshalText(%s) = %q, %v", typ, name, m, err)
		}
		if m, err := e.AppendText([]byte("x:")); err != nil || string(m) != "x:"+name {
			t.Errorf("%s: AppendText(%s) = %q, %v", typ, name, m, err)
		}
		if v, err := e.Value(); err != nil || v != name {
			t.Errorf("%s: Value(%s) = %v, %v", typ, name, v, err)
		}
		if j, err := json.Marshal(e); err != nil || string(j) != `"`+name+`"` {
			t.Errorf("%s: json.Marshal(%s) = %s, %v", typ, name, j, err)
		}
		if p, err := parse(name); err != nil || p != e {
			t.Errorf("%s: Parse(%q) = %v, %v", typ, name, p, err)
		}
		for _, src := range []any{name, []byte(name)} {
			var s E
			if err := P(&s).Scan(src); err != nil || s != e {
				t.Errorf("%s: Scan(%T %q) = %v, %v", typ, src, name, s, err)
			}
		}
		var u E
		if err := P(&u).UnmarshalText([]byte(name)); err != nil || u != e {
			t.Errorf("%s: UnmarshalText(%q) = %v, %v", typ, name, u, err)
		}
		var j E
		if err := json.Unmarshal([]byte(`"`+name+`"`), &j); err != nil || j != e {
			t.Errorf("%s: json.Unmarshal(%q) = %v, %v", typ, name, j, err)
		}
		// Parsing is exact: another spelling of a wire string is unknown.
		for _, other := range []string{strings.ToUpper(name), strings.ToLower(name), " " + name, name + "\x00"} {
			if other == name {
				continue
			}
			if _, err := parse(other); !errors.Is(err, failure.ErrUnknown) {
				t.Errorf("%s: Parse(%q) = %v; want ErrUnknown", typ, other, err)
			}
		}
	}

	for _, bad := range []E{0, E(len(names) + 1), 255} {
		want := fmt.Sprintf("%s(%d)", typ, uint8(bad))
		if bad.IsValid() || bad.String() != want {
			t.Errorf("%s: value %d: IsValid %v, String %q; want invalid %q", typ, uint8(bad), bad.IsValid(), bad.String(), want)
		}
		if _, err := bad.MarshalText(); !errors.Is(err, failure.ErrUnknown) {
			t.Errorf("%s: MarshalText(%d) = %v; want ErrUnknown", typ, uint8(bad), err)
		}
		if b, err := bad.AppendText([]byte("x")); !errors.Is(err, failure.ErrUnknown) || string(b) != "x" {
			t.Errorf("%s: AppendText(%d) = %q, %v; want the input unchanged and ErrUnknown", typ, uint8(bad), b, err)
		}
		if _, err := bad.Value(); !errors.Is(err, failure.ErrUnknown) {
			t.Errorf("%s: Value(%d) = %v; want ErrUnknown", typ, uint8(bad), err)
		}
	}

	_, err := parse("bogus")
	var ue *failure.UnknownError
	if !errors.As(err, &ue) || ue.Type != typ || !slices.Equal(ue.Accepted, names) || !errors.Is(err, failure.ErrUnknown) {
		t.Errorf("%s: Parse(\"bogus\") = %v; want an UnknownError listing %v", typ, err, names)
	}
	kept := E(1)
	for _, src := range []any{nil, "bogus", []byte(""), int64(1), 1.5} {
		s := kept
		if err := P(&s).Scan(src); !errors.Is(err, failure.ErrUnknown) || s != kept {
			t.Errorf("%s: Scan(%#v) = %v leaving %v; want ErrUnknown and the value unchanged", typ, src, err, s)
		}
	}
	u := kept
	if err := P(&u).UnmarshalText([]byte("bogus")); !errors.Is(err, failure.ErrUnknown) || u != kept {
		t.Errorf("%s: UnmarshalText(\"bogus\") = %v leaving %v; want ErrUnknown and the value unchanged", typ, err, u)
	}
}

func stringsOf[E fmt.Stringer](all []E) []string {
	s := make([]string, len(all))
	for i, e := range all {
		s[i] = e.String()
	}
	return s
}

// fuzzEnum checks an enum's decoders on arbitrary bytes: they never panic,
// agree with each other, leave the receiver unchanged on error, and accept
// exactly the wire strings, so that marshal→unmarshal→marshal is
// byte-identical.
func fuzzEnum[E textEnum, P textEnumPtr[E]](f *testing.F, names []string) {
	for _, n := range names {
		f.Add([]byte(n))
		f.Add([]byte(strings.ToUpper(n)))
	}
	f.Add([]byte(""))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sentinel := E(200)
		text, scanBytes, scanString := sentinel, sentinel, sentinel
		errText := P(&text).UnmarshalText(b)
		errBytes := P(&scanBytes).Scan(b)
		errString := P(&scanString).Scan(string(b))
		if (errText == nil) != (errBytes == nil) || (errText == nil) != (errString == nil) ||
			text != scanBytes || text != scanString {
			t.Fatalf("decoders disagree on %q: UnmarshalText %v %v, Scan([]byte) %v %v, Scan(string) %v %v",
				b, text, errText, scanBytes, errBytes, scanString, errString)
		}
		if errText != nil {
			if text != sentinel || !errors.Is(errText, failure.ErrUnknown) {
				t.Fatalf("UnmarshalText(%q) = %v leaving %v; want ErrUnknown and the value unchanged", b, errText, text)
			}
			return
		}
		m1, err := text.MarshalText()
		if err != nil || !text.IsValid() || !slices.Contains(names, string(b)) {
			t.Fatalf("UnmarshalText accepted %q as %v (valid %v), MarshalText %v", b, text, text.IsValid(), err)
		}
		var again E
		if err := P(&again).UnmarshalText(m1); err != nil || again != text {
			t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", m1, again, err, text)
		}
		if m2, err := again.MarshalText(); err != nil || string(m2) != string(m1) {
			t.Fatalf("round trip of %q gave %q, %v", m1, m2, err)
		}
	})
}

package failure_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
)

var powerStateNames = []string{"A0", "A1", "A2", "unknown"}

func TestPowerStateEnum(t *testing.T) {
	checkEnum(t, "failure.PowerState", failure.AllPowerStates(), powerStateNames, failure.ParsePowerState)
}

func healthy() failure.Verdict                { return failure.Verdict{Healthy: true} }
func failed(r failure.Reason) failure.Verdict { return failure.Verdict{Failed: true, Reason: r} }
func incomplete(label string) failure.Verdict { return failure.Verdict{Incomplete: label} }
func response(status int, code string) *failure.Outcome {
	return &failure.Outcome{Status: status, ErrorCode: code}
}
func silent(c failure.Communication) *failure.Outcome { return &failure.Outcome{Communication: c} }

// TestCheckHealth walks the §18 table, row by row, with the rows that the
// precedence of the table decides (expunged wins; power is read only for a
// silent sled-agent).
func TestCheckHealth(t *testing.T) {
	const nsi = failure.ErrorCodeNoSuchInstance
	rows := []struct {
		name  string
		check failure.Check
		want  failure.Verdict
	}{
		// §18 row 1: expunged fails without contacting the sled, whatever
		// else the check holds.
		{"expunged", failure.Check{SledExpunged: true}, failed(failure.SledExpunged)},
		{"expunged beats gone", failure.Check{SledExpunged: true, Err: response(404, nsi)}, failed(failure.SledExpunged)},
		{"expunged beats sled off", failure.Check{SledExpunged: true, Err: silent(failure.CommTimeout), Power: failure.PowerA2}, failed(failure.SledExpunged)},
		{"expunged beats an error response", failure.Check{SledExpunged: true, Err: response(500, "")}, failed(failure.SledExpunged)},
		{"expunged ignores an unusable outcome", failure.Check{SledExpunged: true, Err: &failure.Outcome{}}, failed(failure.SledExpunged)},

		// §18 row 2: success.
		{"success", failure.Check{}, healthy()},
		{"success ignores power", failure.Check{Power: failure.PowerA2}, healthy()},

		// §18 row 3, D18: gone.
		{"404 gone", failure.Check{Err: response(404, nsi)}, failed(failure.NoSuchInstance)},
		{"410 gone", failure.Check{Err: response(410, nsi)}, failed(failure.NoSuchInstance)},

		// §18 row 4: any other error response is incomplete, labelled by
		// status; power is not consulted.
		{"404 without code", failure.Check{Err: response(404, "")}, incomplete("404")},
		{"410 without code", failure.Check{Err: response(410, "")}, incomplete("410")},
		{"400", failure.Check{Err: response(400, "")}, incomplete("400")},
		{"409", failure.Check{Err: response(409, "")}, incomplete("409")},
		{"429", failure.Check{Err: response(429, "")}, incomplete("429")},
		{"500", failure.Check{Err: response(500, "")}, incomplete("500")},
		{"503 channel full", failure.Check{Err: response(503, "INSTANCE_CHANNEL_FULL")}, incomplete("503")},
		{"503 with NO_SUCH_INSTANCE", failure.Check{Err: response(503, nsi)}, incomplete("503")},
		{"599", failure.Check{Err: response(599, "")}, incomplete("599")},
		{"error response, sled off", failure.Check{Err: response(500, ""), Power: failure.PowerA2}, incomplete("500")},
		{"error response, power unset", failure.Check{Err: response(502, "")}, incomplete("502")},
	}
	// §18 rows 5–7: a silent sled-agent, for every communication error and
	// every power state.
	for _, comm := range failure.AllCommunications() {
		for _, p := range []struct {
			power failure.PowerState
			want  failure.Verdict
		}{
			{failure.PowerA0, incomplete("unreachable")},      // on: never a failure (D18)
			{failure.PowerA1, failed(failure.SledOff)},        // off: proof of death
			{failure.PowerA2, failed(failure.SledOff)},        // off: proof of death
			{failure.PowerUnknown, incomplete("unreachable")}, // unknown: never a failure (D18)
		} {
			rows = append(rows, struct {
				name  string
				check failure.Check
				want  failure.Verdict
			}{comm.String() + " " + p.power.String(), failure.Check{Err: silent(comm), Power: p.power}, p.want})
		}
	}
	covered := map[failure.PowerState]bool{}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			got, err := failure.CheckHealth(row.check)
			if err != nil || got != row.want {
				t.Errorf("CheckHealth(%s) = %+v, %v; want %+v", describe(row.check), got, err, row.want)
			}
		})
		if row.check.Err != nil && row.check.Err.Communication != 0 {
			covered[row.check.Power] = true
		}
	}
	for _, p := range failure.AllPowerStates() {
		if !covered[p] {
			t.Errorf("no row for a silent sled-agent in power state %v", p)
		}
	}
}

func TestCheckHealthRejects(t *testing.T) {
	rows := []struct {
		name  string
		check failure.Check
		field string
		value string
	}{
		{"power unset", failure.Check{Err: silent(failure.CommTimeout)}, "power", "failure.PowerState(0)"},
		{"power out of range", failure.Check{Err: silent(failure.CommConnect), Power: 5}, "power", "failure.PowerState(5)"},
		{"unusable outcome", failure.Check{Err: &failure.Outcome{}}, "status", "0"},
		{"success status", failure.Check{Err: response(200, ""), Power: failure.PowerA0}, "status", "200"},
		{"invalid communication", failure.Check{Err: silent(4), Power: failure.PowerA1}, "communication", "failure.Communication(4)"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			got, err := failure.CheckHealth(row.check)
			if got != (failure.Verdict{}) {
				t.Errorf("CheckHealth = %+v with an error; want the zero Verdict", got)
			}
			checkOutcomeError(t, err, row.field, row.value)
		})
	}
	_, err := failure.CheckHealth(failure.Check{Err: silent(failure.CommTimeout)})
	var oe *failure.OutcomeError
	if !errors.As(err, &oe) || oe.Accepted != "A0, A1, A2, unknown" {
		t.Errorf("power unset: %v; want accepted \"A0, A1, A2, unknown\"", err)
	}
}

func TestVerdictLabel(t *testing.T) {
	rows := []struct {
		v    failure.Verdict
		want string
	}{
		{healthy(), "success"},
		{failed(failure.SledExpunged), "sled_expunged"},
		{failed(failure.NoSuchInstance), "no_such_instance"},
		{failed(failure.SledOff), "sled_off"},
		{incomplete("unreachable"), "unreachable"},
		{incomplete("503"), "503"},
		{incomplete(failure.IncompleteClientError), "client_error"},
	}
	for _, row := range rows {
		if got := row.v.Label(); got != row.want {
			t.Errorf("%+v.Label() = %q; want %q", row.v, got, row.want)
		}
	}
}

// outcomeGen draws outcomes of every shape, valid or not, biased towards
// the statuses, codes and values that matter to D18.
func outcomeGen() *rapid.Generator[failure.Outcome] {
	status := rapid.OneOf(
		rapid.SampledFrom([]int{404, 410}),
		rapid.SampledFrom([]int{400, 500, 503, 504, 599, 0, 200, 399, 600, -404}),
		rapid.IntRange(-10, 700),
		rapid.Int(),
	)
	code := rapid.OneOf(
		rapid.Just(failure.ErrorCodeNoSuchInstance),
		rapid.SampledFrom([]string{"", "no_such_instance", "NO_SUCH_INSTANCE ", "INSTANCE_CHANNEL_FULL"}),
		rapid.String(),
	)
	comm := rapid.OneOf(rapid.Uint8Range(0, 3), rapid.Uint8())
	return rapid.Custom(func(t *rapid.T) failure.Outcome {
		switch rapid.IntRange(0, 2).Draw(t, "shape") {
		case 0: // an error response
			return failure.Outcome{Status: status.Draw(t, "status"), ErrorCode: code.Draw(t, "code")}
		case 1: // no response
			return failure.Outcome{Communication: failure.Communication(comm.Draw(t, "comm"))}
		}
		return failure.Outcome{
			Status:        status.Draw(t, "status"),
			ErrorCode:     code.Draw(t, "code"),
			Communication: failure.Communication(comm.Draw(t, "comm")),
		}
	})
}

func checkGen() *rapid.Generator[failure.Check] {
	outcomes := outcomeGen()
	power := rapid.OneOf(rapid.Uint8Range(0, 5), rapid.Uint8())
	return rapid.Custom(func(t *rapid.T) failure.Check {
		c := failure.Check{
			SledExpunged: rapid.IntRange(0, 4).Draw(t, "expunged") == 0,
			Power:        failure.PowerState(power.Draw(t, "power")),
		}
		if rapid.IntRange(0, 4).Draw(t, "success") != 0 {
			o := outcomes.Draw(t, "err")
			c.Err = &o
		}
		return c
	})
}

// The rules of D18 restated independently of the package: what a
// well-formed outcome is, and what proves a VMM dead.
func wellFormed(o failure.Outcome) bool {
	response := o.Communication == 0 && o.Status >= 400 && o.Status <= 599
	silence := o.Status == 0 && o.ErrorCode == "" && (o.Communication == failure.CommTimeout || o.Communication == failure.CommConnect)
	return response || silence
}

func gone(o failure.Outcome) bool {
	return o.Communication == 0 && (o.Status == 404 || o.Status == 410) && o.ErrorCode == "NO_SUCH_INSTANCE"
}

func sledOff(p failure.PowerState) bool { return p == failure.PowerA1 || p == failure.PowerA2 }

// TestOnlyProofOfDeathFails is D18 as a property: over arbitrary outcomes
// and checks, a VMM is declared gone or failed exactly when there is proof
// of death (404/410 + NO_SUCH_INSTANCE, an expunged sled, or a silent sled
// that is off), and everything well formed is classified.
func TestOnlyProofOfDeathFails(t *testing.T) {
	t.Run("Classify", rapid.MakeCheck(func(t *rapid.T) {
		o := outcomeGen().Draw(t, "outcome")
		cl, err := failure.Classify(o)
		if err != nil {
			if wellFormed(o) {
				t.Fatalf("Classify(%+v) rejected a well-formed outcome: %v", o, err)
			}
			if cl != (failure.Classification{}) {
				t.Fatalf("Classify(%+v) = %+v with error %v; want the zero Classification", o, cl, err)
			}
			checkOutcomeErrorRapid(t, err)
			return
		}
		if !wellFormed(o) {
			t.Fatalf("Classify(%+v) = %+v; want an error for a malformed outcome", o, cl)
		}
		if cl.VMMGone != gone(o) {
			t.Fatalf("Classify(%+v) = %+v; VMMGone must hold exactly for proof of death", o, cl)
		}
		if cl.VMMGone != (cl.Reason == failure.NoSuchInstance) || cl.VMMGone == (cl.Reason == 0) || cl.VMMGone != (cl.Message() != "") {
			t.Fatalf("Classify(%+v) = %+v; reason and message must be set exactly when gone", o, cl)
		}
		if !slices.Contains([]int{400, 500, 502, 503, 504}, cl.HTTPStatus) {
			t.Fatalf("Classify(%+v) = %+v; not one of Omicron's statuses", o, cl)
		}
	}))
	t.Run("CheckHealth", rapid.MakeCheck(func(t *rapid.T) {
		c := checkGen().Draw(t, "check")
		v, err := failure.CheckHealth(c)
		// A field is consulted only where the §18 table reads it.
		ok := c.SledExpunged || c.Err == nil ||
			wellFormed(*c.Err) && (c.Err.Communication == 0 || c.Power.IsValid())
		if err != nil {
			if ok {
				t.Fatalf("CheckHealth(%s) rejected a usable check: %v", describe(c), err)
			}
			if v != (failure.Verdict{}) {
				t.Fatalf("CheckHealth(%s) = %+v with error %v; want the zero Verdict", describe(c), v, err)
			}
			checkOutcomeErrorRapid(t, err)
			return
		}
		if !ok {
			t.Fatalf("CheckHealth(%s) = %+v; want an error", describe(c), v)
		}
		proof := c.SledExpunged || c.Err != nil && (gone(*c.Err) || c.Err.Communication != 0 && sledOff(c.Power))
		if v.Failed != proof {
			t.Fatalf("CheckHealth(%s) = %+v; Failed must hold exactly for proof of death", describe(c), v)
		}
		if v.Healthy != (!c.SledExpunged && c.Err == nil) {
			t.Fatalf("CheckHealth(%s) = %+v; Healthy must hold exactly for a successful query", describe(c), v)
		}
		if n := btoi(v.Healthy) + btoi(v.Failed) + btoi(v.Incomplete != ""); n != 1 {
			t.Fatalf("CheckHealth(%s) = %+v; want exactly one of healthy, failed, incomplete", describe(c), v)
		}
		if v.Failed != v.Reason.IsValid() {
			t.Fatalf("CheckHealth(%s) = %+v; Reason must be set exactly when failed", describe(c), v)
		}
		if v.Incomplete != "" && v.Incomplete != "unreachable" && (c.Err.Communication != 0 || v.Incomplete != statusText(c.Err.Status)) {
			t.Fatalf("CheckHealth(%s) = %+v; wrong incomplete label", describe(c), v)
		}
	}))
}

func checkOutcomeErrorRapid(t *rapid.T, err error) {
	var oe *failure.OutcomeError
	if !errors.As(err, &oe) || !errors.Is(err, failure.ErrInvalidOutcome) || oe.Accepted == "" || !slices.Contains([]string{"status", "error_code", "communication", "power"}, oe.Field) {
		t.Fatalf("error %#v: want an *OutcomeError naming a field and the accepted values", err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func statusText(status int) string {
	return string([]byte{byte('0' + status/100), byte('0' + status/10%10), byte('0' + status%10)})
}

func TestCheckHealthDoesNotAllocate(t *testing.T) {
	checks := benchChecks()
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range checks {
			if _, err := failure.CheckHealth(c); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("CheckHealth allocates %v times per run; want 0", allocs)
	}
}

func benchChecks() []failure.Check {
	return []failure.Check{
		{SledExpunged: true},
		{},
		{Err: response(404, failure.ErrorCodeNoSuchInstance)},
		{Err: response(500, "")},
		{Err: silent(failure.CommTimeout), Power: failure.PowerA0},
		{Err: silent(failure.CommConnect), Power: failure.PowerA2},
	}
}

func BenchmarkCheckHealth(b *testing.B) {
	checks := benchChecks()
	b.ReportAllocs()
	var sink int
	for i := 0; b.Loop(); i++ {
		v, _ := failure.CheckHealth(checks[i%len(checks)])
		sink += len(v.Incomplete)
	}
	_ = sink
}

func FuzzPowerStateText(f *testing.F) { fuzzEnum[failure.PowerState](f, powerStateNames) }

// describe prints a check with its outcome rather than the outcome's
// address.
func describe(c failure.Check) string {
	if c.Err == nil {
		return fmt.Sprintf("{SledExpunged:%v Err:nil Power:%v}", c.SledExpunged, c.Power)
	}
	return fmt.Sprintf("{SledExpunged:%v Err:%+v Power:%v}", c.SledExpunged, *c.Err, c.Power)
}

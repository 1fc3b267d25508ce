package failure_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vmlife/vmlife/failure"
)

// Only a 404 or 410 with NO_SUCH_INSTANCE proves the VMM gone; everything
// else leaves it alone and only picks the external status (D18).
func ExampleClassify() {
	for _, o := range []failure.Outcome{
		{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance},
		{Status: 410, ErrorCode: failure.ErrorCodeNoSuchInstance},
		{Status: 404},
		{Status: 409},
		{Status: 503, ErrorCode: "INSTANCE_CHANNEL_FULL"},
		{Status: 500},
		{Communication: failure.CommTimeout},
		{Communication: failure.CommConnect},
	} {
		cl, err := failure.Classify(o)
		if err != nil {
			fmt.Println(err)
			continue
		}
		call := o.Communication.String()
		if o.Status != 0 {
			call = fmt.Sprint(o.Status, " ", o.ErrorCode)
		}
		fmt.Printf("%-26s → HTTP %d", call, cl.HTTPStatus)
		if cl.VMMGone {
			fmt.Print(", VMM gone: Failed(", cl.Reason, ")")
		}
		fmt.Println()
	}
	// Output:
	// 404 NO_SUCH_INSTANCE       → HTTP 503, VMM gone: Failed(no_such_instance)
	// 410 NO_SUCH_INSTANCE       → HTTP 503, VMM gone: Failed(no_such_instance)
	// 404                        → HTTP 400
	// 409                        → HTTP 400
	// 503 INSTANCE_CHANNEL_FULL  → HTTP 503
	// 500                        → HTTP 500
	// timeout                    → HTTP 504
	// connect                    → HTTP 502
}

// An outcome that is neither an error response nor a missing response is
// refused with an error naming the field and what it accepts (D3).
func ExampleClassify_invalid() {
	_, err := failure.Classify(failure.Outcome{Status: 200})
	var oe *failure.OutcomeError
	if errors.Is(err, failure.ErrInvalidOutcome) && errors.As(err, &oe) {
		fmt.Println(oe.Field, oe.Value, "accepted:", oe.Accepted)
	}
	fmt.Println(err)
	// Output:
	// status 200 accepted: an HTTP error status in 400..599
	// invalid sled-agent call outcome: status 200 (accepted: an HTTP error status in 400..599)
}

// The external API explains a gone VMM in its own words (§11).
func ExampleClassification_Message() {
	cl, _ := failure.Classify(failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance})
	fmt.Println(cl.HTTPStatus, cl.Message())
	// Output:
	// 503 The instance was running but is no longer reachable. It is being moved to the Failed state.
}

// The instance watcher's table (§18): an expunged sled, a gone VMM and a
// silent sled that is powered off fail the VMM; a silent sled that may be
// on is only unreachable.
func ExampleCheckHealth() {
	for _, c := range []failure.Check{
		{SledExpunged: true},
		{},
		{Err: &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}},
		{Err: &failure.Outcome{Status: 500}},
		{Err: &failure.Outcome{Communication: failure.CommTimeout}, Power: failure.PowerA0},
		{Err: &failure.Outcome{Communication: failure.CommTimeout}, Power: failure.PowerUnknown},
		{Err: &failure.Outcome{Communication: failure.CommConnect}, Power: failure.PowerA2},
	} {
		v, err := failure.CheckHealth(c)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("healthy=%-5v failed=%-5v label=%s\n", v.Healthy, v.Failed, v.Label())
	}
	// Output:
	// healthy=false failed=true  label=sled_expunged
	// healthy=true  failed=false label=success
	// healthy=false failed=true  label=no_such_instance
	// healthy=false failed=false label=500
	// healthy=false failed=false label=unreachable
	// healthy=false failed=false label=unreachable
	// healthy=false failed=true  label=sled_off
}

// A silent sled-agent needs the sled's power state to be judged.
func ExampleCheckHealth_invalid() {
	_, err := failure.CheckHealth(failure.Check{Err: &failure.Outcome{Communication: failure.CommTimeout}})
	fmt.Println(err)
	// Output:
	// invalid sled-agent call outcome: power failure.PowerState(0) (accepted: A0, A1, A2, unknown)
}

func ExampleParseCommunication() {
	c, err := failure.ParseCommunication("timeout")
	fmt.Println(c, err)
	_, err = failure.ParseCommunication("refused")
	fmt.Println(err)
	// Output:
	// timeout <nil>
	// failure.Communication: unknown value "refused" (accepted: timeout, connect)
}

func ExampleParsePowerState() {
	for _, s := range []string{"A0", "A2", "unknown", "a2"} {
		p, err := failure.ParsePowerState(s)
		fmt.Println(p, p.IsValid(), err)
	}
	// Output:
	// A0 true <nil>
	// A2 true <nil>
	// unknown true <nil>
	// failure.PowerState(0) false failure.PowerState: unknown value "a2" (accepted: A0, A1, A2, unknown)
}

// The transience table (D13): only an unsatisfiable constraint system is
// permanent, so only it waits for a user (D15).
func ExampleAllCauses() {
	for _, c := range failure.AllCauses() {
		fmt.Printf("%-27s transient=%-5v %s\n", c, c.Transient(), c.Description())
	}
	// Output:
	// insufficient_capacity       transient=true  no sled has enough capacity
	// affinity_unsatisfiable      transient=false its affinity rules cannot be satisfied
	// anti_affinity_unsatisfiable transient=false its anti-affinity rules cannot be satisfied
	// local_storage_unavailable   transient=true  no sled holding its local storage can host it
	// sled_agent_error            transient=true  the sled-agent returned an error
	// vmm_gone                    transient=true  its VMM disappeared from the sled while starting
	// internal                    transient=true  an internal error occurred
}

func ExampleParseCause() {
	c, err := failure.ParseCause("anti_affinity_unsatisfiable")
	fmt.Println(c, c.Transient(), err)
	_, err = failure.ParseCause("no_capacity")
	fmt.Println(errors.Is(err, failure.ErrUnknown))
	// Output:
	// anti_affinity_unsatisfiable false <nil>
	// true
}

func ExampleAllStartReasons() {
	fmt.Println(failure.AllStartReasons())
	r, err := failure.ParseStartReason("auto_restart")
	fmt.Println(r, err)
	// Output:
	// [user auto_start auto_restart]
	// auto_restart <nil>
}

// A nullable cause column scans into sql.Null[Cause]; NULL into a bare
// Cause is an error.
func ExampleCause_Scan() {
	var col sql.Null[failure.Cause]
	fmt.Println(col.Scan("vmm_gone"), col.Valid, col.V)
	fmt.Println(col.Scan(nil), col.Valid)
	var c failure.Cause
	fmt.Println(c.Scan(nil))
	// Output:
	// <nil> true vmm_gone
	// <nil> false
	// failure.Cause: unknown value NULL (accepted: insufficient_capacity, affinity_unsatisfiable, anti_affinity_unsatisfiable, local_storage_unavailable, sled_agent_error, vmm_gone, internal)
}

// Why a stopped instance that should be running is not (D13).
func ExampleNewStartFailure() {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	f := failure.NewStartFailure(failure.CauseInsufficientCapacity, failure.StartReasonAutoRestart, now)
	fmt.Println(f.Transient)
	fmt.Println(f.Message())
	f = failure.NewStartFailure(failure.CauseAffinityUnsatisfiable, failure.StartReasonUser, now)
	fmt.Println(f.Message())
	// Output:
	// true
	// automatic restart failed: no sled has enough capacity (transient; a retry may succeed)
	// start failed: its affinity rules cannot be satisfied (permanent; not retried until a user acts)
}

func ExampleStartFailure_MarshalJSON() {
	cet := time.FixedZone("CET", 3600)
	f := failure.NewStartFailure(failure.CauseLocalStorageUnavailable, failure.StartReasonAutoStart,
		time.Date(2026, 11, 21, 11, 0, 0, 0, cet))
	b, err := json.Marshal(f)
	fmt.Println(string(b), err)
	// Output:
	// {"cause":"local_storage_unavailable","transient":true,"reason":"auto_start","time":"2026-11-21T10:00:00Z"} <nil>
}

// Decoding is strict: every key once, nothing else, known strings only,
// and a failed decode leaves the value alone.
func ExampleStartFailure_UnmarshalJSON() {
	var f failure.StartFailure
	err := json.Unmarshal([]byte(`{"cause":"internal","transient":true,"reason":"user","time":"2026-11-21T10:00:00Z"}`), &f)
	fmt.Println(f.Cause, f.Reason, f.Time, err)

	err = json.Unmarshal([]byte(`{"cause":"internal","transient":"yes","reason":"user","time":"2026-11-21T10:00:00Z"}`), &f)
	var se *failure.StartFailureError
	fmt.Println(errors.As(err, &se), se.Field, se.Accepted)
	err = json.Unmarshal([]byte(`{"cause":"internal","transient":true,"reason":"user"}`), &f)
	fmt.Println(err)
	fmt.Println(f.Cause, f.Reason)
	// Output:
	// internal user 2026-11-21 10:00:00 +0000 UTC <nil>
	// true transient true, false
	// invalid start failure: "time": got nothing (the key is missing) (accepted: an RFC 3339 time in years 0001..9999, not the zero time)
	// internal user
}

func ExampleStartFailure_Validate() {
	f := failure.StartFailure{Cause: failure.CauseInternal, Reason: failure.StartReasonUser}
	fmt.Println(f.Validate())
	fmt.Println(errors.Is(f.Validate(), failure.ErrInvalidStartFailure))
	// Output:
	// invalid start failure: "time": got 0001-01-01 00:00:00 +0000 UTC (accepted: an RFC 3339 time in years 0001..9999, not the zero time)
	// true
}

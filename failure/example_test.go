package failure_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmlife/vmlife/failure"
)

// The five reasons of §4.3 with their wire strings and descriptions.
func ExampleAllReasons() {
	for _, r := range failure.AllReasons() {
		fmt.Printf("%-16s %s\n", r, r.Description())
	}
	// Output:
	// prehistoric      VMM failed prior to recorded history
	// from_sled_agent  failed VMM state received from sled-agent
	// no_such_instance VMM no longer present on sled
	// sled_expunged    the sled this VMM was running on has been expunged
	// sled_off         the sled this VMM was running on powered off
}

// An unknown string is an error that lists what is accepted (D3).
func ExampleParseReason() {
	r, err := failure.ParseReason("sled_off")
	fmt.Println(r, err)

	_, err = failure.ParseReason("sled-off")
	fmt.Println(errors.Is(err, failure.ErrUnknown))
	var ue *failure.UnknownError
	if errors.As(err, &ue) {
		fmt.Println(ue.Input, "is not one of", ue.Accepted)
	}
	// Output:
	// sled_off <nil>
	// true
	// "sled-off" is not one of [prehistoric from_sled_agent no_such_instance sled_expunged sled_off]
}

// The zero value names no reason; it prints as such and will not marshal (D2).
func ExampleReason_String() {
	var r failure.Reason
	fmt.Println(r.IsValid(), r)
	_, err := r.MarshalText()
	fmt.Println(err)
	// Output:
	// false failure.Reason(0)
	// failure.Reason: unknown value failure.Reason(0) (accepted: prehistoric, from_sled_agent, no_such_instance, sled_expunged, sled_off)
}

// In JSON a reason is its snake_case string (D9).
func ExampleReason_MarshalText() {
	out, _ := json.Marshal(map[string]failure.Reason{"failure_reason": failure.NoSuchInstance})
	fmt.Println(string(out))

	var r failure.Reason
	err := json.Unmarshal([]byte(`"sled_expunged"`), &r)
	fmt.Println(r, err)
	// Output:
	// {"failure_reason":"no_such_instance"}
	// sled_expunged <nil>
}

// vmm.failure_reason is NULL unless the VMM failed (§5.5): scan it through
// sql.Null, because Reason.Scan refuses NULL rather than invent a reason.
func ExampleReason_Scan() {
	var col sql.Null[failure.Reason]
	for _, src := range []any{[]byte("from_sled_agent"), nil} {
		err := col.Scan(src)
		fmt.Println(col.V, col.Valid, err)
	}

	var r failure.Reason
	fmt.Println(errors.Is(r.Scan(nil), failure.ErrUnknown))
	// Output:
	// from_sled_agent true <nil>
	// failure.Reason(0) false <nil>
	// true
}

package instancestate_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/wire"
)

// The snapshot document of docs/cli.md decodes strictly into a Snapshot and
// the time to decide it at; a bad field is a *wire.DecodeError naming its
// path and what it accepts.
func ExampleDocument_UnmarshalJSON() {
	var doc instancestate.Document
	err := json.Unmarshal([]byte(`{
		"now": "2026-11-21T10:00:00Z",
		"instance": {"id": "11111111-1111-4111-8111-111111111111", "state": "no_vmm", "state_generation": 3,
			"time_state_updated": "2026-11-21T09:00:00Z", "intended_state": "running", "updater_gen": 1}
	}`), &doc)
	e, _ := instancestate.EffectiveState(doc.Snapshot)
	fmt.Println(err, e, doc.Now.Format("15:04"))

	err = json.Unmarshal([]byte(`{"now": "2026-11-21T10:00:00Z", "instance": {"id": "11111111-1111-4111-8111-111111111111",
		"state": "no_vmm", "state_generation": 3, "time_state_updated": "2026-11-21T09:00:00Z",
		"intended_state": "runing", "updater_gen": 1}}`), &doc)
	var de *wire.DecodeError
	if errors.As(err, &de) {
		fmt.Println(de.Path, "|", de.Value, "|", de.Accepted)
	}
	// Output:
	// <nil> stopped 10:00
	// instance.intended_state | "runing" | running, stopped, guest_shutdown, destroyed
}

// A sled-agent's report ignores keys vmlife does not know (D20): a newer
// sled-agent is never refused for a field it added. Unknown values of known
// keys are still refused.
func ExampleReport_UnmarshalJSON() {
	var r instancestate.Report
	err := json.Unmarshal([]byte(`{"vmm_state": {"state": "running", "gen": 5, "time_updated": "2026-11-21T10:00:00Z",
		"cpu_platform": "amd_turin"}, "migration_in": null, "a_key_from_the_future": [1, 2]}`), &r)
	fmt.Println(err, r.VMM.State, r.VMM.Generation)

	err = json.Unmarshal([]byte(`{"vmm_state": {"state": "paused", "gen": 5, "time_updated": "2026-11-21T10:00:00Z"}}`), &r)
	fmt.Println(err)
	// Output:
	// <nil> running 5
	// vmm_state.state: unknown value "paused" (accepted: starting, running, stopping, stopped, rebooting, migrating, failed, destroyed)
}

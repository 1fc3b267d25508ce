package migration

import (
	"encoding/json"
	"time"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/internal/strictjson"
)

// Report is one side of a migration as the sled-agent running that side's
// VMM reports it (§3.2, the sled-agent's MigrationRuntimeState): which
// migration, that side's state, its generation and when it was observed.
// A sled-agent sends the source side as migration_out and the target side as
// migration_in of its SledVmmState; Record.ApplySource and
// Record.ApplyTarget write them into the migration record (§8.2).
//
// In JSON a Report is
// `{"migration_id":"…","state":"in_progress","gen":3,"time_updated":"…"}`.
type Report struct {
	MigrationID ID                    `json:"migration_id"`
	State       State                 `json:"state"`
	Generation  generation.Generation `json:"gen"`
	TimeUpdated time.Time             `json:"time_updated"`
}

// UnmarshalJSON decodes the sled-agent form strictly (D3): all four keys are
// required, none may repeat, no other key is accepted, and a null, an
// unknown state, a non-UUID id or an out-of-range generation is an error
// naming the key. On error r is unchanged.
func (r *Report) UnmarshalJSON(b []byte) error {
	var v Report
	err := strictjson.Object("migration.Report", b,
		strictjson.Field{Key: "migration_id", Dst: &v.MigrationID},
		strictjson.Field{Key: "state", Dst: &v.State},
		strictjson.Field{Key: "gen", Dst: &v.Generation},
		strictjson.Field{Key: "time_updated", Dst: &v.TimeUpdated})
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalJSON writes the sled-agent form; an invalid state is an error.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(plain(r))
}

// String returns a short description for logs: "<id> in_progress@3".
func (r Report) String() string {
	return r.MigrationID.String() + " " + r.State.String() + "@" + r.Generation.String()
}

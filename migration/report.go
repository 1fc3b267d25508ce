package migration

import (
	"time"

	"github.com/vmlife/vmlife/generation"
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

// String returns a short description for logs: "<id> in_progress@3".
func (r Report) String() string {
	return r.MigrationID.String() + " " + r.State.String() + "@" + r.Generation.String()
}

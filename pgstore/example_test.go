package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/vmmstate"
)

// A report handler on PostgreSQL: the store applies the sled-agent's
// report with the guards of §8.2 and says what it did. (It needs a
// database, so it is compiled, not run, by go test.)
func ExampleOpen() {
	ctx := context.Background()
	st, err := pgstore.Open(ctx, os.Getenv("VMLIFE_PG_DSN"))
	if errors.Is(err, pgstore.ErrMigrationNeeded) {
		log.Fatalf("run `vmlife migrate --store DSN` (or pgstore.Migrate) as the schema's owner first: %v", err)
	}
	if errors.Is(err, pgstore.ErrSchemaVersion) {
		log.Fatalf("this database belongs to another vmlife: %v", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	var vmm vmmstate.ID // from the sled-agent's request
	report := instancestate.Report{VMM: vmmstate.SledAgentRuntime{
		State: vmmstate.SledAgentRunning, Generation: generation.Of(3), TimeUpdated: time.Now().Truncate(time.Microsecond)}}
	res, err := st.SledReport(ctx, vmm, report)
	switch {
	case errors.Is(err, datastore.ErrNotFound):
		fmt.Println("no such VMM: answer 404")
	case errors.Is(err, pgstore.ErrOutcomeUnknown):
		fmt.Println("the answer was lost: send the same report again, which settles it (D29)")
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("no answer within the store's timeout: nothing was written; try again")
	case err != nil:
		log.Fatal(err)
	case !res.VMM.Applied:
		fmt.Println("not written:", res.VMM.Reason) // stale, unchanged, deleted
	case res.UpdateSagaNeeded:
		fmt.Println("written; start an instance-update saga (§12)")
	}
}

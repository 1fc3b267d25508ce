package sagas_test

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// A start saga that fails at registration unwinds, latest step first, and
// records why the start failed (D13).
func ExampleRun() {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	st := datastore.NewMemory()
	sled := vmmstate.SledIDFromUUID(uuid.MustParse("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"))
	w := memsled.NewWorld(st, func() time.Time { return now }, 4, sled)
	id := vmmstate.InstanceIDFromUUID(uuid.MustParse("11111111-1111-4111-8111-111111111111"))

	create := &sagas.Create{Instance: instancestate.New(id, true, instancestate.AutoRestart{}, now)}
	if _, err := sagas.Run(ctx, w.Env, create, sagas.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	start := &sagas.Start{Instance: id, Reason: failure.StartReasonUser}
	r, err := sagas.Run(ctx, w.Env, start, sagas.Options{FailAt: sagas.StepRegister})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Outcome)
	fmt.Println("ran:", r.Ran)
	fmt.Println("undone:", r.Undone)
	s, _ := st.InstanceFetchAll(ctx, id)
	fmt.Println(s.Instance.Runtime.State, s.Instance.StartFailure.Cause)
	// Output:
	// unwound
	// ran: [choose_vmm_id alloc_server create_vmm_record mark_as_starting ensure_registered]
	// undone: [mark_as_starting create_vmm_record alloc_server choose_vmm_id]
	// no_vmm internal
}

// An executor runs a saga a node at a time, so that a control plane can
// interleave many.
func ExampleExec() {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	st := datastore.NewMemory()
	w := memsled.NewWorld(st, func() time.Time { return now }, 0)
	id := vmmstate.InstanceIDFromUUID(uuid.MustParse("11111111-1111-4111-8111-111111111111"))

	x := sagas.NewExec(w.Env, &sagas.Create{Instance: instancestate.New(id, false, instancestate.AutoRestart{}, now)})
	for !x.Done() {
		fmt.Println("next:", x)
		x.Next(ctx)
	}
	fmt.Println(x.Outcome())
	// Output:
	// next: create create_instance_record
	// next: create finish_create
	// completed
}

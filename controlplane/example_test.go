package controlplane_test

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/memsled"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// A control plane over the in-memory store and sled-agents: a user
// creates an instance, its guest boots, its sled-agent loses it, and the
// control plane restarts it on its own.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := datastore.NewMemory()
	sled := vmmstate.SledIDFromUUID(uuid.MustParse("5a000000-0000-4000-8000-000000000001"))
	w := memsled.NewWorld(st, clock, 4, sled)
	cp, err := controlplane.New(controlplane.Config{
		ID: uuid.MustParse("c0000000-0000-4000-8000-000000000001"), Store: st, Log: st, Reservations: st,
		Agent: w.Agent, Sleds: w.Sleds, Watcher: w, Now: clock, NewID: w.Env.NewID,
	})
	if err != nil {
		panic(err)
	}
	show := func(what string, id instancestate.ID) {
		s, _ := st.InstanceFetchAll(ctx, id)
		state, _ := instancestate.EffectiveState(s)
		fmt.Printf("%-28s %v\n", what+":", state)
	}

	id := vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000001"))
	if _, err := cp.Create(ctx, instancestate.New(id, true, instancestate.AutoRestart{}, now)); err != nil {
		panic(err)
	}
	show("created", id)

	s, _ := st.InstanceFetchAll(ctx, id)
	report, _ := w.Agent.Boot(s.Active.ID) // the guest booted: its sled-agent says so
	if _, err := cp.Report(ctx, s.Active.ID, report); err != nil {
		panic(err)
	}
	show("booted", id)

	w.Agent.Vanish(s.Active.ID) // the sled-agent restarted and lost the VMM
	now = now.Add(time.Minute)
	passes, _ := cp.Tick(ctx) // the instance watcher finds it gone
	for _, p := range passes {
		if p.Task == controlplane.TaskInstanceWatcher {
			fmt.Println("watcher checked", p.Found, "VMM")
		}
	}
	row, _ := st.VMMFetch(ctx, s.Active.ID)
	fmt.Println("lost VMM:", row.VMM.Runtime.State)
	show("restarted", id)
	fmt.Println("restarts:", cp.Stats()[controlplane.TaskInstanceWatcher.String()].SagasStarted-1)
	// Output:
	// created:                     starting
	// booted:                      running
	// watcher checked 1 VMM
	// lost VMM: failed(no_such_instance)
	// restarted:                   starting
	// restarts: 1
}

// Every failure of a task or a reaction is counted by kind; a caller
// exports Stats to its metrics system.
func ExampleControlPlane_Stats() {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	st := datastore.NewMemory()
	w := memsled.NewWorld(st, func() time.Time { return now }, 1, vmmstate.SledIDFromUUID(uuid.MustParse("5a000000-0000-4000-8000-000000000001")))
	// Every registration fails: a start unwinds.
	w.Agent.Fail = func(c memsled.Call, _ vmmstate.ID) *failure.Outcome {
		if c == memsled.CallRegister {
			return &failure.Outcome{Status: 503}
		}
		return nil
	}
	cp, _ := controlplane.New(controlplane.Config{
		ID: uuid.MustParse("c0000000-0000-4000-8000-000000000001"), Store: st, Log: st,
		Agent: w.Agent, Sleds: w.Sleds, Now: func() time.Time { return now }, NewID: w.Env.NewID,
	})
	id := vmmstate.InstanceIDFromUUID(uuid.MustParse("1a000000-0000-4000-8000-000000000001"))
	out, _ := cp.Create(ctx, instancestate.New(id, false, instancestate.AutoRestart{}, now))
	fmt.Println("create:", out.Saga.Outcome)
	out, _ = cp.Request(ctx, id, instancestate.RequestStart)
	fmt.Println("start:", out.Saga.Outcome, out.Saga.Kind == sagas.KindStart)
	c := cp.Stats()[controlplane.ReactionRequest]
	fmt.Println("requests:", c.Passes, "sagas:", c.SagasStarted)
	// Output:
	// create: completed
	// start: unwound true
	// requests: 1 sagas: 1
}

// SendToSled is a request's call to a sled-agent with what it proves
// recorded: an answer as the VMM's report, a VMM the agent no longer holds
// as its death. A driver of its own (a simulator, a test) calls it as the
// control plane's Request does, and runs the update saga it asks for.
func ExampleSendToSled() {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := datastore.NewMemory()
	sled := vmmstate.SledIDFromUUID(uuid.MustParse("5a000000-0000-4000-8000-000000000001"))
	w := memsled.NewWorld(st, clock, 4, sled)
	cp, err := controlplane.New(controlplane.Config{
		ID: uuid.MustParse("c0000000-0000-4000-8000-000000000001"), Store: st, Log: st, Reservations: st,
		Agent: w.Agent, Sleds: w.Sleds, Watcher: w, Now: clock, NewID: w.Env.NewID,
	})
	if err != nil {
		panic(err)
	}
	active := func(n int) vmmstate.VMM {
		id := vmmstate.InstanceIDFromUUID(uuid.MustParse(fmt.Sprintf("1a000000-0000-4000-8000-00000000000%d", n)))
		if _, err := cp.Create(ctx, instancestate.New(id, true, instancestate.AutoRestart{}, now)); err != nil {
			panic(err)
		}
		s, _ := st.InstanceFetchAll(ctx, id)
		return s.Active
	}

	v := active(1)
	sent, err := controlplane.SendToSled(ctx, w.Agent, st, v, instancestate.SledRequestStopped, now)
	row, _ := st.VMMFetch(ctx, v.ID)
	fmt.Println("answered:", sent.Answered, err, "| VMM:", row.VMM.Runtime.State, "| update needed:", sent.UpdateNeeded())

	v = active(2)
	w.Agent.Vanish(v.ID) // its sled-agent restarted and lost the VMM
	sent, err = controlplane.SendToSled(ctx, w.Agent, st, v, instancestate.SledRequestStopped, now)
	row, _ = st.VMMFetch(ctx, v.ID)
	fmt.Println("gone:", sent.Call.VMMGone, err, "| VMM:", row.VMM.Runtime.State, "| update needed:", sent.UpdateNeeded())
	// Output:
	// answered: true <nil> | VMM: destroyed | update needed: true
	// gone: true <nil> | VMM: failed(no_such_instance) | update needed: true
}

// A driver runs a pass a piece at a time, interleaving it with whatever
// else it does: here the instance watcher lists two VMMs, and one of them
// is lost between the list and its check.
func ExampleControlPlane_BeginTask() {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := datastore.NewMemory()
	sled := vmmstate.SledIDFromUUID(uuid.MustParse("5a000000-0000-4000-8000-000000000001"))
	w := memsled.NewWorld(st, clock, 4, sled)
	cp, err := controlplane.New(controlplane.Config{
		ID: uuid.MustParse("c0000000-0000-4000-8000-000000000001"), Store: st, Log: st, Reservations: st,
		Agent: w.Agent, Sleds: w.Sleds, Watcher: w, Now: clock, NewID: w.Env.NewID,
	})
	if err != nil {
		panic(err)
	}
	var vmms []vmmstate.ID
	for n := 1; n <= 2; n++ {
		id := vmmstate.InstanceIDFromUUID(uuid.MustParse(fmt.Sprintf("1a000000-0000-4000-8000-00000000000%d", n)))
		if _, err := cp.Create(ctx, instancestate.New(id, true, instancestate.AutoRestart{}, now)); err != nil {
			panic(err)
		}
		s, _ := st.InstanceFetchAll(ctx, id)
		vmms = append(vmms, s.Active.ID)
	}

	run, err := cp.BeginTask(controlplane.TaskInstanceWatcher)
	if err != nil {
		panic(err)
	}
	run.Step(ctx) // the list
	pass, _ := run.Result()
	fmt.Println("listed:", pass.Found)
	w.Agent.Vanish(vmms[1]) // meanwhile, a sled-agent loses the second VMM
	for run.Step(ctx) {
	}
	for i, id := range vmms {
		row, _ := st.VMMFetch(ctx, id)
		fmt.Printf("VMM %d: %v\n", i+1, row.VMM.Runtime.State)
	}
	// Output:
	// listed: 2
	// VMM 1: starting
	// VMM 2: failed(no_such_instance)
}

// Package memsled provides in-memory sled-agents and sled room: what
// sagas run against when no real sled is at hand — `vmlife script`, the
// examples, tests. Agent is an in-memory sled-agent for every sled (a
// sagas.SledAgent), Sleds an in-memory table of sled room (a sagas.Sleds)
// that can record its reservations in a store, and World puts them
// together with a datastore as a sagas.Env. Agent can fail a call on
// demand; IDs makes deterministic ids.
//
// They model what the sagas need and no more: an Agent holds the VMMs
// registered with it and answers with their state; it does not run them
// (the simulator's sled-agents do, in package sim).
package memsled

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// Call names a sled-agent call, for Agent.Fail.
type Call string

// The calls of a sled-agent: those of sagas.SledAgent, the state request
// of a user's stop or reboot, and the instance watcher's check.
const (
	CallRegister     Call = "register"      // SledAgent.Register
	CallMigrate      Call = "migrate"       // SledAgent.Migrate
	CallUnregister   Call = "unregister"    // SledAgent.Unregister
	CallRequestState Call = "request_state" // Agent.RequestState
	CallCheck        Call = "check"         // Agent.Check
)

// Agent is an in-memory sled-agent for every sled. It is safe for
// concurrent use.
type Agent struct {
	// Now stamps the states the agent reports.
	Now func() time.Time
	// Fail, when set, is asked before each call; a non-nil outcome is the
	// call's answer (an *sagas.AgentError) and the call does nothing.
	Fail func(c Call, vmm vmmstate.ID) *failure.Outcome

	mu   sync.Mutex
	vmms map[vmmstate.ID]*held
}

type held struct {
	rt         vmmstate.SledAgentRuntime
	in         migration.Report
	hasIn      bool
	migratedIn bool // asked to migrate in
}

func (h *held) report() instancestate.Report {
	r := instancestate.Report{VMM: h.rt}
	if h.hasIn {
		in := h.in
		r.MigrationIn = &in
	}
	return r
}

// NewAgent returns an agent holding no VMM, stamping reports with now.
func NewAgent(now func() time.Time) *Agent {
	return &Agent{Now: now, vmms: make(map[vmmstate.ID]*held)}
}

func (a *Agent) failed(c Call, id vmmstate.ID) error {
	if a.Fail == nil {
		return nil
	}
	if o := a.Fail(c, id); o != nil {
		return &sagas.AgentError{Outcome: *o}
	}
	return nil
}

func noSuchInstance() error {
	return &sagas.AgentError{Outcome: failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}}
}

// Register implements sagas.SledAgent: a new VMM starts (or, as a
// migration target, waits migrating with migration_in pending) at the
// generation after the record's (§3.5).
func (a *Agent) Register(_ context.Context, v vmmstate.VMM, mig migration.ID) (instancestate.Report, error) {
	if err := a.failed(CallRegister, v.ID); err != nil {
		return instancestate.Report{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if h := a.vmms[v.ID]; h != nil {
		return h.report(), nil
	}
	g, err := v.Runtime.Generation.Next()
	if err != nil {
		return instancestate.Report{}, err
	}
	h := &held{rt: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentStarting, Generation: g, TimeUpdated: a.Now()}}
	if !mig.IsZero() {
		h.rt.State = vmmstate.SledAgentMigrating
		h.in, h.hasIn = migration.Registered(mig, a.Now()), true
	}
	a.vmms[v.ID] = h
	return h.report(), nil
}

// Migrate implements sagas.SledAgent: the target notes the request (the
// migration itself is not modelled).
func (a *Agent) Migrate(_ context.Context, target, _ vmmstate.VMM, _ migration.ID) error {
	if err := a.failed(CallMigrate, target.ID); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.vmms[target.ID]
	if h == nil {
		return noSuchInstance()
	}
	h.migratedIn = true
	return nil
}

// Unregister implements sagas.SledAgent: the VMM is destroyed — its
// migration side, if still in flight, fails (§3.5) — and forgotten.
func (a *Agent) Unregister(_ context.Context, v vmmstate.VMM) (instancestate.Report, error) {
	if err := a.failed(CallUnregister, v.ID); err != nil {
		return instancestate.Report{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.vmms[v.ID]
	if h == nil {
		return instancestate.Report{}, noSuchInstance()
	}
	g, err := h.rt.Generation.Next()
	if err != nil {
		return instancestate.Report{}, err
	}
	now := a.Now()
	h.rt = vmmstate.SledAgentRuntime{State: vmmstate.SledAgentDestroyed, Generation: g, TimeUpdated: now}
	if h.hasIn {
		if in, _, err := migration.Halt(h.in, now); err == nil {
			h.in = in
		}
	}
	delete(a.vmms, v.ID)
	return h.report(), nil
}

// RequestState asks for VMM v to be moved to r, as a user's stop or
// reboot does (§10.2), and answers its state once taken: a stop destroys
// the VMM and forgets it, as Unregister does (the agent does not model
// stopping and stopped on the way); a reboot, or running, leaves a VMM
// that runs running at the next generation, and one still starting
// running. A VMM the agent does not hold answers NO_SUCH_INSTANCE.
func (a *Agent) RequestState(ctx context.Context, v vmmstate.VMM, r instancestate.SledRequest) (instancestate.Report, error) {
	if err := a.failed(CallRequestState, v.ID); err != nil {
		return instancestate.Report{}, err
	}
	switch r {
	case instancestate.SledRequestStopped:
		a.mu.Lock()
		_, ok := a.vmms[v.ID]
		a.mu.Unlock()
		if !ok {
			return instancestate.Report{}, noSuchInstance()
		}
		return a.Unregister(ctx, v)
	case instancestate.SledRequestRunning, instancestate.SledRequestReboot:
		rep, ok := a.Boot(v.ID)
		if !ok {
			return instancestate.Report{}, noSuchInstance()
		}
		return rep, nil
	}
	return instancestate.Report{}, fmt.Errorf("memsled: RequestState: request %v (accepted: stopped, reboot, running)", r)
}

// Boot moves VMM id to running at its next generation — its guest has
// booted, or a migration into it finished — and returns the report the
// agent sends; ok is false when it holds no such VMM.
func (a *Agent) Boot(id vmmstate.ID) (r instancestate.Report, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.vmms[id]
	if h == nil {
		return r, false
	}
	g, err := h.rt.Generation.Next()
	if err != nil {
		return h.report(), true // at the last generation: it says what it says
	}
	h.rt = vmmstate.SledAgentRuntime{State: vmmstate.SledAgentRunning, Generation: g, TimeUpdated: a.Now()}
	if h.hasIn && !h.in.State.IsTerminal() {
		if in, _, err := migration.Fold(h.in, true, h.in.MigrationID, migration.Completed, a.Now()); err == nil {
			h.in = in
		}
	}
	return h.report(), true
}

// Vanish makes the agent forget VMM id without a word, as a sled-agent
// that restarted does: every later call about it answers NO_SUCH_INSTANCE
// — the proof of death the instance watcher finds (D18).
func (a *Agent) Vanish(id vmmstate.ID) {
	a.mu.Lock()
	delete(a.vmms, id)
	a.mu.Unlock()
}

// Check is the instance watcher's question about VMM v (§18): the agent's
// report and true when it holds v; otherwise false, and the failure.Check
// the answer makes — NO_SUCH_INSTANCE, or the outcome Fail set for
// CallCheck (a failure.Outcome with no status is a call that got no
// answer, from a sled that is on: PowerA0).
func (a *Agent) Check(_ context.Context, v vmmstate.VMM) (instancestate.Report, failure.Check, bool) {
	if a.Fail != nil {
		if o := a.Fail(CallCheck, v.ID); o != nil {
			c := failure.Check{Err: o}
			if o.Status == 0 {
				c.Power = failure.PowerA0
			}
			return instancestate.Report{}, c, false
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if h := a.vmms[v.ID]; h != nil {
		return h.report(), failure.Check{}, true
	}
	return instancestate.Report{}, failure.Check{Err: &failure.Outcome{Status: 404, ErrorCode: failure.ErrorCodeNoSuchInstance}}, false
}

// Holds reports whether the agent holds VMM id, and its state there.
func (a *Agent) Holds(id vmmstate.ID) (vmmstate.SledAgentState, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h := a.vmms[id]; h != nil {
		return h.rt.State, true
	}
	return 0, false
}

// MigratedIn reports whether target was asked to migrate in.
func (a *Agent) MigratedIn(target vmmstate.ID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.vmms[target]
	return h != nil && h.migratedIn
}

// Len returns how many VMMs the agent holds.
func (a *Agent) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.vmms)
}

// Sleds is an in-memory table of sled room: each sled a number of slots,
// each reservation one VMM. With a store attached (RecordIn), each
// reservation is also a record there (datastore.SledReservations), as
// Omicron's sled_resource_vmm is: inserted once the sled is chosen, before
// the room is taken, and deleted when it is released — so a process that
// dies holding room leaves a record the store can list
// (ReservationListLeaked) and a later Release deletes. It is safe for
// concurrent use.
type Sleds struct {
	mu    sync.Mutex
	order []vmmstate.SledID // Reserve's preference
	room  map[vmmstate.SledID]int
	held  map[vmmstate.ID]vmmstate.SledID
	// records and now, when set (RecordIn), keep each reservation in a
	// store, stamped with now.
	records datastore.SledReservations
	now     func() time.Time
}

// NewSleds returns a table of the given sleds, each with room for slots
// VMMs. Reserve places on the first with room, in the order given.
func NewSleds(slots int, sleds ...vmmstate.SledID) *Sleds {
	s := &Sleds{room: make(map[vmmstate.SledID]int), held: make(map[vmmstate.ID]vmmstate.SledID)}
	for _, id := range sleds {
		if _, dup := s.room[id]; !dup {
			s.order = append(s.order, id)
		}
		s.room[id] = max(slots, 0)
	}
	return s
}

// RecordIn makes s keep each reservation it makes as a record in r,
// created at the time now returns, and delete it on release; it returns
// s. Call it before the first reservation.
func (s *Sleds) RecordIn(r datastore.SledReservations, now func() time.Time) *Sleds {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records, s.now = r, now
	return s
}

// Add adds sled with room for slots VMMs, or sets the room of a sled
// already there to slots less what it holds, and makes it the sled Reserve
// tries first.
func (s *Sleds) Add(sled vmmstate.SledID, slots int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := 0
	for _, sl := range s.held {
		if sl == sled {
			held++
		}
	}
	s.room[sled] = max(slots-held, 0)
	s.order = append([]vmmstate.SledID{sled}, slices.DeleteFunc(s.order, func(x vmmstate.SledID) bool { return x == sled })...)
}

// Reserve implements sagas.Sleds: room for vmm on the first sled with
// some — in NewSleds's order, the sled Add added last first — or the sled
// vmm holds room on already; a *sagas.PlacementError when none has room.
func (s *Sleds) Reserve(ctx context.Context, instance instancestate.ID, vmm vmmstate.ID) (vmmstate.SledID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl, ok := s.held[vmm]; ok {
		return sl, nil
	}
	for _, sl := range s.order {
		if s.room[sl] > 0 {
			return s.take(ctx, instance, sl, vmm, s.order)
		}
	}
	return vmmstate.SledID{}, &sagas.PlacementError{Cause: failure.CauseInsufficientCapacity}
}

// ReserveOn implements sagas.Sleds: room for vmm on sled, or a
// *sagas.PlacementError when it has none.
func (s *Sleds) ReserveOn(ctx context.Context, instance instancestate.ID, sled vmmstate.SledID, vmm vmmstate.ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl, ok := s.held[vmm]; ok && sl == sled {
		return nil
	}
	if s.room[sled] <= 0 {
		return &sagas.PlacementError{Cause: failure.CauseInsufficientCapacity}
	}
	_, err := s.take(ctx, instance, sled, vmm, []vmmstate.SledID{sled})
	return err
}

// take reserves room for vmm on sled, under s.mu: the record first, when
// s keeps them, then the room. A record the store holds already for vmm —
// written by an earlier process, whose table died with it — is taken over
// when it is on one of the sleds in (its sled is the answer), and refused
// (the store's conflict) when not.
func (s *Sleds) take(ctx context.Context, instance instancestate.ID, sled vmmstate.SledID, vmm vmmstate.ID, in []vmmstate.SledID) (vmmstate.SledID, error) {
	if s.records != nil {
		err := s.records.ReservationInsert(ctx, datastore.Reservation{VMM: vmm, Instance: instance, Sled: sled, TimeCreated: s.now()})
		if errors.Is(err, datastore.ErrConflict) {
			held, found, lerr := s.recorded(ctx, instance, vmm, in)
			switch {
			case lerr != nil:
				return vmmstate.SledID{}, lerr
			case !found:
				return vmmstate.SledID{}, err
			}
			sled, err = held, nil
		}
		if err != nil {
			return vmmstate.SledID{}, err
		}
	}
	s.room[sled]--
	s.held[vmm] = sled
	return sled, nil
}

// recorded finds the sled, among in, on which the store records vmm's
// reservation for instance.
func (s *Sleds) recorded(ctx context.Context, instance instancestate.ID, vmm vmmstate.ID, in []vmmstate.SledID) (vmmstate.SledID, bool, error) {
	for _, sl := range in {
		rs, err := s.records.ReservationListBySled(ctx, sl)
		if err != nil {
			return vmmstate.SledID{}, false, err
		}
		for _, r := range rs {
			if r.VMM == vmm && r.Instance == instance {
				return sl, true, nil
			}
		}
	}
	return vmmstate.SledID{}, false, nil
}

// Release implements sagas.Sleds: the record, when s keeps them, is
// deleted whether or not this table holds the room (a reservation of a
// process that died is released so), then the room.
func (s *Sleds) Release(ctx context.Context, vmm vmmstate.ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.records != nil {
		if _, err := s.records.ReservationDelete(ctx, vmm); err != nil {
			return err
		}
	}
	if sl, ok := s.held[vmm]; ok {
		delete(s.held, vmm)
		s.room[sl]++
	}
	return nil
}

// Held returns the sled vmm holds room on, if any.
func (s *Sleds) Held(vmm vmmstate.ID) (vmmstate.SledID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl, ok := s.held[vmm]
	return sl, ok
}

// List returns the sleds, in Reserve's order of preference.
func (s *Sleds) List() []vmmstate.SledID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// Reserved returns the VMMs holding room, in the order of their ids.
func (s *Sleds) Reserved() []vmmstate.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]vmmstate.ID, 0, len(s.held))
	for id := range s.held {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b vmmstate.ID) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// IDs returns deterministic ids for Env.NewID: version-4 UUIDs whose last
// eight bytes count from 1, with kind in the first byte, so that a run's
// ids are the same every time and say where they came from.
func IDs(kind byte) func() uuid.UUID {
	var n uint64
	var mu sync.Mutex
	return func() uuid.UUID {
		mu.Lock()
		n++
		c := n
		mu.Unlock()
		var u uuid.UUID
		u[0] = kind
		binary.BigEndian.PutUint64(u[8:], c)
		u[6] = 0x40 | u[6]&0x0f
		u[8] = 0x80 | u[8]&0x3f
		return u
	}
}

// World is an Env over a store with an in-memory Agent and Sleds, and the
// instances it asked update sagas for. Its Env's UpdateNeeded appends to
// Update without a lock: run one saga at a time on a World.
type World struct {
	// Env is what a saga runs against: the store, Agent, Sleds, the clock
	// and ids from IDs('s').
	Env *sagas.Env
	// Agent is Env's sled-agent and Sleds its sleds' room, kept here so
	// that a caller can fail a call or look at what they hold.
	Agent *Agent
	Sleds *Sleds
	// Update holds the instances Env.UpdateNeeded was told about, in
	// order.
	Update []instancestate.ID
}

// NewWorld returns a World over st at the time now returns, with sleds
// of slots room each, and ids from IDs('s'). When st keeps reservations
// (datastore.SledReservations), the Sleds record theirs in it (RecordIn).
func NewWorld(st datastore.Store, now func() time.Time, slots int, sleds ...vmmstate.SledID) *World {
	w := &World{Agent: NewAgent(now), Sleds: NewSleds(slots, sleds...)}
	if r, ok := st.(datastore.SledReservations); ok {
		w.Sleds.RecordIn(r, now)
	}
	w.Env = &sagas.Env{Store: st, Agent: w.Agent, Sleds: w.Sleds, Now: now, NewID: IDs('s'),
		UpdateNeeded: func(id instancestate.ID) { w.Update = append(w.Update, id) }}
	return w
}

// WatchedSleds lists the sleds of w's Sleds, in their order of
// preference: with Check, w is what a control plane's instance watcher
// asks (controlplane.Watcher).
func (w *World) WatchedSleds(context.Context) ([]vmmstate.SledID, error) {
	return w.Sleds.List(), nil
}

// Check asks w's Agent about VMM v (Agent.Check).
func (w *World) Check(ctx context.Context, v vmmstate.VMM) (instancestate.Report, failure.Check, bool) {
	return w.Agent.Check(ctx, v)
}

package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/vmlife/vmlife/controlplane"
	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/sagas"
	"github.com/vmlife/vmlife/vmmstate"
)

// A world whose process is killed (kill -9, at any instant) is resumed
// from what outlives the process: the store (the records and the saga
// log) and a Keeper, which holds what the world keeps outside the store —
// the sleds with their sled-agents and the reports on their way, and the
// world's own clock, users' instances and counts. A real control plane's
// crash leaves its sled-agents running; so here every answer a
// sled-agent gives is kept before the caller sees it, and every saga's
// instance is kept before the saga begins. What a step did after the
// last keep and wrote nowhere else is lost with the process, as if it
// never happened: a Propolis observation no report carried yet, a report
// taken off the network (it is delivered again: a duplicate, which the
// store answers as one, D29).

// Keeper keeps a world's state outside its store, so that the world can
// be resumed after its process dies (Resume). `vmlife simulate --store`
// keeps it in tables of its own in the same database; MemKeeper keeps it
// in memory, for tests.
type Keeper interface {
	// Keep makes k durable in one transaction before it returns: k.World,
	// when not nil, replaces the world's document, and each of k.Sleds
	// replaces that sled's. Sleds k does not name keep theirs.
	Keep(ctx context.Context, k Kept) error
	// Load returns everything kept; a Kept with a nil World when nothing
	// was.
	Load(ctx context.Context) (Kept, error)
}

// Kept is what a Keeper holds: a JSON document for the world and one for
// each sled.
type Kept struct {
	World []byte
	Sleds map[vmmstate.SledID][]byte
}

// MemKeeper is a Keeper in memory. The zero value is ready to use, and it
// is safe for concurrent use.
type MemKeeper struct {
	mu    sync.Mutex
	world []byte
	sleds map[vmmstate.SledID][]byte
}

// Keep implements Keeper.
func (m *MemKeeper) Keep(_ context.Context, k Kept) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k.World != nil {
		m.world = bytes.Clone(k.World)
	}
	if m.sleds == nil {
		m.sleds = make(map[vmmstate.SledID][]byte)
	}
	for id, b := range k.Sleds {
		m.sleds[id] = bytes.Clone(b)
	}
	return nil
}

// Load implements Keeper.
func (m *MemKeeper) Load(context.Context) (Kept, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := Kept{World: bytes.Clone(m.world), Sleds: make(map[vmmstate.SledID][]byte, len(m.sleds))}
	for id, b := range m.sleds {
		k.Sleds[id] = bytes.Clone(b)
	}
	return k, nil
}

// ErrNothingToResume is Resume's error when the Keeper holds no world.
var ErrNothingToResume = errors.New("sim: nothing to resume: no simulation was kept")

// keptVersion numbers the documents' layout; Resume refuses another.
const keptVersion = 2

// ResumeGap is how far a resumed world's clock is moved past the one last
// kept: a restart takes time, and the clock of a step whose writes the
// store holds may not have been kept.
const ResumeGap = time.Minute

// worldDoc is the world's document.
type worldDoc struct {
	Version int       `json:"version"`
	Config  configDoc `json:"config"`
	Steps   int       `json:"steps"` // the run's length (Options.Steps)
	Step    int       `json:"step"`
	Now     time.Time `json:"now"`
	IDs     uint64    `json:"ids"`
	// Epoch counts the resumptions; it is part of every id made after
	// one, so that ids made after the last keep are never made again.
	Epoch      uint32            `json:"epoch"`
	Settling   bool              `json:"settling,omitempty"` // World.Settle is running
	Sleds      []vmmstate.SledID `json:"sleds"`              // in the world's order
	Instances  []instDoc         `json:"instances"`
	Net        []messageDoc      `json:"net,omitempty"`
	Stats      counters          `json:"stats"`
	Violations []Violation       `json:"violations,omitempty"`
}

type configDoc struct {
	Instances      int                  `json:"instances"`
	Sleds          int                  `json:"sleds"`
	SledCapacity   int                  `json:"sled_capacity"`
	Faults         Faults               `json:"faults"`
	Seed           uint64               `json:"seed"`
	FullCheckEvery int                  `json:"full_check_every"`
	Policy         instancestate.Policy `json:"policy"`
}

type instDoc struct {
	ID         vmmstate.InstanceID `json:"id"`
	Name       string              `json:"name"`
	Constraint constraintKind      `json:"constraint,omitempty"`
	Slot       int                 `json:"slot,omitempty"`
	// Pending: its create saga has not inserted Record yet.
	Pending bool                    `json:"pending,omitempty"`
	Record  *instancestate.Instance `json:"record,omitempty"`
}

type messageDoc struct {
	VMM    vmmstate.ID          `json:"vmm"`
	Report instancestate.Report `json:"report"`
	At     int                  `json:"at"`
}

type sledDoc struct {
	ID          vmmstate.SledID    `json:"id"`
	Name        string             `json:"name"`
	Slot        int                `json:"slot"`
	Capacity    int                `json:"capacity"`
	Power       failure.PowerState `json:"power"`
	Expunged    bool               `json:"expunged,omitempty"`
	Partitioned bool               `json:"partitioned,omitempty"`
	MGSUnknown  bool               `json:"mgs_unknown,omitempty"`
	Agent       []agentDoc         `json:"agent,omitempty"`
}

type agentDoc struct {
	ID       vmmstate.ID               `json:"id"`
	Instance vmmstate.InstanceID       `json:"instance"`
	Name     string                    `json:"name"`
	P        propolis                  `json:"propolis"`
	Runtime  vmmstate.SledAgentRuntime `json:"runtime"`
	In       *migration.Report         `json:"migration_in,omitempty"`
	Out      *migration.Report         `json:"migration_out,omitempty"`
	Goal     goal                      `json:"goal,omitempty"`
	Flight   *flightDoc                `json:"flight,omitempty"`
	Role     migration.Role            `json:"role,omitempty"`
	SidePh   int                       `json:"side_phase,omitempty"`
	Hung     int                       `json:"hung,omitempty"`
}

// flightDoc is a migration as its two sides see it; each side's document
// carries it, and Resume links the two to one flight. A side that is not
// on any sled (forgotten, or a source that could not send) is gone.
type flightDoc struct {
	ID      migration.ID    `json:"id"`
	Source  vmmstate.ID     `json:"source,omitzero"`
	Target  vmmstate.ID     `json:"target,omitzero"`
	Outcome migration.State `json:"outcome,omitempty"`
	Stalled bool            `json:"stalled,omitempty"`
}

func (w *World) worldDoc() worldDoc {
	c := w.cfg
	d := worldDoc{
		Version: keptVersion,
		Config: configDoc{Instances: c.Instances, Sleds: c.Sleds, SledCapacity: c.SledCapacity, Faults: c.Faults,
			Seed: c.Seed, FullCheckEvery: c.FullCheckEvery, Policy: c.Policy},
		Steps: w.target, Step: w.step, Now: w.now, IDs: w.ids, Epoch: w.epoch, Settling: w.settling,
		Stats:      w.stats,
		Violations: w.violations,
	}
	for _, sl := range w.sleds {
		d.Sleds = append(d.Sleds, sl.id)
	}
	add := func(in *instRow) {
		i := instDoc{ID: in.rec.ID, Name: in.name, Constraint: in.placement.kind, Slot: in.placement.slot,
			Pending: in.pending}
		if in.pending {
			rec := in.rec
			i.Record = &rec
		}
		d.Instances = append(d.Instances, i)
	}
	for _, in := range w.instances {
		add(in)
	}
	// An instance not yet inserted is kept while its create saga runs.
	for _, f := range w.sagas {
		if f.in.pending {
			add(f.in)
		}
	}
	if in := w.launching; in != nil && in.pending {
		add(in)
	}
	for _, in := range w.pendingKept {
		if in.pending {
			add(in)
		}
	}
	for _, m := range w.net {
		d.Net = append(d.Net, messageDoc{VMM: m.vmm, Report: m.rep, At: m.at})
	}
	return d
}

func sledDocOf(sl *sled) sledDoc {
	d := sledDoc{ID: sl.id, Name: sl.name, Slot: sl.slot, Capacity: sl.capacity, Power: sl.power,
		Expunged: sl.expunged, Partitioned: sl.partitioned, MGSUnknown: sl.mgsUnknown}
	for _, a := range sl.agent {
		ad := agentDoc{ID: a.id, Instance: a.inst, Name: a.name, P: a.p, Runtime: a.rt, Goal: a.goal,
			Role: a.role, SidePh: a.sidePh, Hung: a.hung}
		if a.hasIn {
			in := a.in
			ad.In = &in
		}
		if a.hasOut {
			out := a.out
			ad.Out = &out
		}
		if f := a.flight; f != nil {
			ad.Flight = &flightDoc{ID: f.id, Source: f.src.id, Target: f.dst.id, Outcome: f.outcome, Stalled: f.stalled}
		}
		d.Agent = append(d.Agent, ad)
	}
	return d
}

// keep hands the Keeper what changed since it last did: a no-op for a
// world without one. A Keeper that fails stops the world (Err): what it
// did next could not be resumed.
func (w *World) keep() {
	if w.keeper == nil || w.stop != nil || w.resuming {
		return
	}
	world, err := json.Marshal(w.worldDoc())
	if err != nil {
		w.abort(fmt.Errorf("sim: encoding the world: %w", err))
		return
	}
	var k Kept
	if !bytes.Equal(world, w.kept.World) {
		k.World = world
	}
	for _, sl := range w.sleds {
		b, err := json.Marshal(sledDocOf(sl))
		if err != nil {
			w.abort(fmt.Errorf("sim: encoding sled %s: %w", sl.name, err))
			return
		}
		if !bytes.Equal(b, w.kept.Sleds[sl.id]) {
			if k.Sleds == nil {
				k.Sleds = make(map[vmmstate.SledID][]byte)
			}
			k.Sleds[sl.id] = b
		}
	}
	if k.World == nil && k.Sleds == nil {
		return
	}
	if err := w.keeper.Keep(w.ctx, k); err != nil {
		w.abort(fmt.Errorf("sim: keeping the world: %w", err))
		return
	}
	if k.World != nil {
		w.kept.World = k.World
	}
	maps.Copy(w.kept.Sleds, k.Sleds)
}

// Err returns why the world stopped, after which it takes no further
// step: its Keeper failed, or its store did not answer (an error matching
// datastore.ErrUnavailable, after whatever retries the store makes). Such
// a store tells nothing about vmlife: it is no violation, and a world with
// a Keeper is resumed once the store is back. Nil while the world runs.
func (w *World) Err() error { return w.stop }

// Resume rebuilds a world whose process died from cfg.Store and
// cfg.Keeper, and recovers its sagas from the store's log (D26): the
// world continues where its records, its saga log and its kept sleds say
// it was. The configuration is the kept world's: of cfg, only Store,
// Keeper and Trace are read. A world resumed before the last keep of an
// earlier resumption is resumed again from that keep.
func Resume(cfg Config) (*World, error) {
	_, log := cfg.Store.(datastore.SagaLog)
	_, rsv := cfg.Store.(datastore.SledReservations)
	switch {
	case cfg.Store == nil || !log || !rsv:
		return nil, &ConfigError{Field: "store", Accept: "the store of the world to resume, which keeps a saga log and sled reservations (datastore.SagaLog, datastore.SledReservations)"}
	case cfg.Keeper == nil:
		return nil, &ConfigError{Field: "keeper", Accept: "the Keeper of the world to resume"}
	}
	ctx := context.Background()
	kept, err := cfg.Keeper.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("sim: loading the kept world: %w", err)
	}
	if kept.World == nil {
		return nil, ErrNothingToResume
	}
	var d worldDoc
	if err := json.Unmarshal(kept.World, &d); err != nil {
		return nil, fmt.Errorf("sim: the kept world: %w", err)
	}
	if d.Version != keptVersion {
		return nil, fmt.Errorf("sim: the kept world is of version %d; this vmlife resumes version %d", d.Version, keptVersion)
	}
	// The epoch, and the clock moved on, are kept before the world makes
	// an id or writes a time under them, so that a resumption that dies
	// early is never numbered twice and its clock never goes back.
	d.Epoch++
	d.Now = d.Now.Add(ResumeGap)
	if kept.World, err = json.Marshal(d); err != nil {
		return nil, fmt.Errorf("sim: encoding the world: %w", err)
	}
	if err := cfg.Keeper.Keep(ctx, Kept{World: kept.World}); err != nil {
		return nil, fmt.Errorf("sim: keeping the world: %w", err)
	}
	c := Config{
		Instances: d.Config.Instances, Sleds: d.Config.Sleds, SledCapacity: d.Config.SledCapacity,
		Faults: d.Config.Faults, Seed: d.Config.Seed, FullCheckEvery: d.Config.FullCheckEvery,
		Policy: d.Config.Policy, Trace: cfg.Trace, Store: cfg.Store, Keeper: cfg.Keeper,
	}
	w, err := newWorld(c, d.Steps)
	if err != nil {
		return nil, fmt.Errorf("sim: the kept world's configuration: %w", err)
	}
	w.resuming = true
	w.kept = kept
	w.step, w.now, w.ids, w.epoch, w.settling = d.Step, d.Now, d.IDs, d.Epoch, d.Settling
	w.stats = d.Stats
	for _, m := range []*map[string]int{&w.stats.Watcher, &w.stats.SledCalls, &w.stats.UpdateEnds} {
		if *m == nil {
			*m = make(map[string]int)
		}
	}
	w.violations = d.Violations
	for _, v := range w.violations {
		w.seen[v.Check+"\x00"+v.Subject] = true
	}
	if err := w.resumeSleds(d.Sleds, kept.Sleds); err != nil {
		return nil, err
	}
	for _, m := range d.Net {
		w.net = append(w.net, message{vmm: m.VMM, rep: m.Report, at: m.At})
	}
	var pending map[vmmstate.InstanceID]*instRow
	if err := w.guarded(func() {
		pending = w.resumeRecords(d.Instances)
	}); err != nil {
		return nil, err
	}
	w.resuming = false
	// Recovery's calls to the sled-agents draw their faults from a stream
	// of the resumption's own.
	w.c = NewRand(w.cfg.Seed ^ uint64(w.epoch)<<32)
	err = w.guarded(func() {
		w.resumeSagas(pending)
		w.pendingKept = nil
		// With every saga at rest, the new process finds what the dead
		// one left half done: its reaper, room it was releasing (a
		// reservation whose VMM is deleted or was never made); its
		// watcher, a VMM a sled-agent runs that no instance links — a
		// target a committed plan unlinked (D37) whose stop the dead
		// process may not have asked for, or not have got. The watcher
		// checks those at once (CheckVMM), not at its next pass. Only then
		// does the world take the sagas recovery's follow-ups began
		// (runDeferred): while one of them placed a VMM, the reaper would
		// leave the dead process's room alone.
		if p, ok := w.runTask(controlplane.TaskAbandonedVMMReaper); ok {
			w.stats.Reaped += p.Reaped
		}
		var unlinked []vmmstate.ID
		for _, sl := range w.sleds {
			for _, a := range sl.agent {
				r := w.vmms[a.id]
				if r == nil || a.p.halted() {
					continue
				}
				if in := w.live(r.vmm.InstanceID); in == nil || !links(in, a.id) {
					unlinked = append(unlinked, a.id)
				}
			}
		}
		for _, id := range unlinked {
			w.cp.CheckVMM(w.ctx, id) // an error is judged as the control plane logged it (cpErrors)
		}
		w.readBack()
		w.runDeferred()
		w.sledsChanged()
		w.checkAll()
		w.keep()
	})
	w.c = nil
	if err != nil {
		return nil, err
	}
	return w, nil
}

// resumeSleds rebuilds the sleds and their sled-agents from their
// documents, linking the two sides of each migration in flight, and their
// reservations from the store.
func (w *World) resumeSleds(order []vmmstate.SledID, docs map[vmmstate.SledID][]byte) error {
	type side struct {
		a *agentVMM
		f flightDoc
	}
	var sides []side
	byID := make(map[vmmstate.ID]*agentVMM)
	for _, id := range order {
		b, ok := docs[id]
		if !ok {
			return fmt.Errorf("sim: the kept world names sled %v, which was not kept", id)
		}
		var d sledDoc
		if err := json.Unmarshal(b, &d); err != nil {
			return fmt.Errorf("sim: kept sled %v: %w", id, err)
		}
		sl := &sled{id: d.ID, name: d.Name, slot: d.Slot, capacity: d.Capacity, power: d.Power,
			expunged: d.Expunged, partitioned: d.Partitioned, mgsUnknown: d.MGSUnknown}
		for _, ad := range d.Agent {
			a := &agentVMM{id: ad.ID, inst: ad.Instance, name: ad.Name, sled: sl, p: ad.P, rt: ad.Runtime,
				goal: ad.Goal, role: ad.Role, sidePh: ad.SidePh, hung: ad.Hung}
			if ad.In != nil {
				a.in, a.hasIn = *ad.In, true
			}
			if ad.Out != nil {
				a.out, a.hasOut = *ad.Out, true
			}
			if ad.Flight != nil {
				sides = append(sides, side{a, *ad.Flight})
			}
			sl.agent = append(sl.agent, a)
			w.agents = append(w.agents, a)
			byID[a.id] = a
		}
		w.sleds = append(w.sleds, sl)
		w.sledAt[sl.id] = sl
		held, err := w.rsvList(sl.id)
		if err != nil {
			return err
		}
		for _, vmm := range held {
			sl.reserve(vmm)
			w.heldOn[vmm] = sl
		}
	}
	flights := make(map[migration.ID]*flight)
	end := func(id vmmstate.ID) *agentVMM {
		if a := byID[id]; a != nil {
			return a
		}
		return &agentVMM{id: id, gone: true}
	}
	for _, s := range sides {
		f := flights[s.f.ID]
		if f == nil {
			f = &flight{id: s.f.ID, src: end(s.f.Source), dst: end(s.f.Target), outcome: s.f.Outcome, stalled: s.f.Stalled}
			flights[f.id] = f
		}
		s.a.flight = f
	}
	return nil
}

// rsvList lists a sled's reservations as the store keeps them (Resume
// accepts only a store that keeps them).
func (w *World) rsvList(id vmmstate.SledID) ([]vmmstate.ID, error) {
	rs, err := w.rsv.ReservationListBySled(w.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sim: reservations of sled %v: %w", id, err)
	}
	out := make([]vmmstate.ID, len(rs))
	for i, r := range rs {
		out[i] = r.VMM
	}
	return out, nil
}

// resumeRecords reads the kept world's instances, their migrations, and
// the VMMs of its sleds from the store. It returns the instances whose
// create saga had not inserted them, by id: their saga's recovery may.
func (w *World) resumeRecords(docs []instDoc) map[vmmstate.InstanceID]*instRow {
	pending := make(map[vmmstate.InstanceID]*instRow)
	for _, d := range docs {
		in := &instRow{name: d.Name, placement: placement{kind: d.Constraint, slot: d.Slot}}
		s, err := w.st.InstanceFetchAll(w.ctx, d.ID)
		switch {
		case errors.Is(err, datastore.ErrNotFound) && d.Pending && d.Record != nil:
			in.rec, in.pending = *d.Record, true
			pending[d.ID] = in
			w.pendingKept = append(w.pendingKept, in)
			continue
		case errors.Is(err, datastore.ErrNotFound):
			continue // deleted after the last keep
		case err != nil:
			w.unexpected("instance_fetch_all", d.Name, err)
			continue
		}
		in.rec = s.Instance
		in.lastGen, in.lastUpdaterGen = in.rec.Runtime.Generation, in.rec.UpdaterGen
		w.instances = append(w.instances, in)
		w.instByID[in.rec.ID] = in
		w.touch(in)
		ms, err := w.st.InstanceListMigrations(w.ctx, d.ID)
		if err != nil {
			w.unexpected("instance_list_migrations", d.Name, err)
		}
		for _, id := range ms {
			w.syncMigration(id)
		}
	}
	// The VMM rows the world holds: every one not deleted is on a sled
	// the watcher lists, linked by an instance, holding a reservation,
	// held by a sled-agent, or abandoned for the reaper.
	var ids []vmmstate.ID
	for _, sl := range w.sleds {
		on, err := w.st.VMMListBySled(w.ctx, sl.id)
		if err != nil {
			w.unexpected("vmm_list_by_sled", sl.name, err)
		}
		ids = append(ids, on...)
		for _, a := range sl.agent {
			ids = append(ids, a.id)
		}
	}
	abandoned, err := w.st.VMMListAbandoned(w.ctx)
	if err != nil {
		w.unexpected("vmm_list_abandoned", "resume", err)
	}
	ids = append(ids, abandoned...)
	for _, in := range w.instances {
		ids = append(ids, in.rec.Runtime.ActiveVMM, in.rec.Runtime.TargetVMM)
	}
	for id := range w.heldOn {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b vmmstate.ID) int {
		x, y := a.UUID(), b.UUID()
		return bytes.Compare(x[:], y[:])
	})
	for _, id := range slices.Compact(ids) {
		if w.vmms[id] == nil {
			w.syncVMM(id)
		}
	}
	for _, r := range w.vmmOrder {
		w.mayForget(r)
	}
	// What a sled-agent holds that the database no longer runs is
	// forgotten, as the reaper would have; and so are the migrations that
	// ended, which the store keeps with their instance and the kept world
	// had forgotten.
	for _, sl := range w.sleds {
		for _, a := range sl.agent {
			if w.vmms[a.id] == nil {
				w.forgetQ = append(w.forgetQ, forgetting{sl, a.id})
			}
		}
	}
	w.migQ = append(w.migQ, w.migOrder...)
	w.forgetMigrations()
	return pending
}

// resumeSagas recovers the sagas the dead process left unfinished, as a
// control plane's crash does (crashControlPlane), and reads back what
// each left.
func (w *World) resumeSagas(pending map[vmmstate.InstanceID]*instRow) {
	ds := w.recoverSagas()
	for _, d := range ds {
		if w.unrecovered(d, "resume") {
			continue
		}
		id := sagaInstance(d.State)
		in := w.instByID[id]
		if in == nil {
			in = pending[id]
		}
		if in == nil {
			w.recoveredUnknown(d)
			continue
		}
		// The saga was in flight when the process died: counted as the
		// world counts one it launched, and ended as one that ran.
		if n := in.inFlight(d.Kind); n != nil {
			*n++
		}
		w.recoveredSaga(d, in)
	}
}

// sagaInstance returns the instance a saga is for.
func sagaInstance(s sagas.Saga) vmmstate.InstanceID {
	switch s := s.(type) {
	case *sagas.Create:
		return s.Instance.ID
	case *sagas.Start:
		return s.Instance
	case *sagas.Migrate:
		return s.Instance
	case *sagas.Update:
		return s.Instance
	case *sagas.Delete:
		return s.Instance
	}
	return vmmstate.InstanceID{}
}

// inFlight returns the count of an instance's sagas of kind k in flight;
// nil for a kind not counted.
func (in *instRow) inFlight(k sagas.Kind) *int {
	switch k {
	case sagas.KindStart:
		return &in.starts
	case sagas.KindMigrate:
		return &in.migrates
	case sagas.KindUpdate:
		return &in.updates
	case sagas.KindDelete:
		return &in.deletes
	}
	return nil
}

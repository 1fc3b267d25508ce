// Package sim is a deterministic simulation of a small VM control plane
// that decides only through vmlife: `vmlife simulate` runs it, and a
// rapid model-based test drives it step by step.
//
// A World holds a database of instance, VMM and migration records, sleds
// with limited capacity, sled-agents running VMMs, a network carrying
// their reports, users, sagas and background tasks, all at a simulated
// time that starts at Epoch and advances by Tick per step (D1: nothing
// reads the clock). The database is a datastore.Store (Config.Store: the
// in-memory one unless given; `vmlife simulate --store` gives pgstore's):
// every record is written through its guarded operations and every
// snapshot read from it, and what the world holds of a record is checked
// against the store after every step. The world only holds state and
// delivers messages; it drives package controlplane's ControlPlane, which
// makes every decision and every write (D31), and supplies what a control
// plane runs against: the workload, the sled-agents and the management
// network (controlplane.SledAgent, Watcher), the sleds' room, the faults
// and the clock.
//
//   - users' start, stop, reboot, migrate and delete requests are carried
//     out by ControlPlane.Request and Migrate — decided by
//     instancestate.Decide and DecideMigrate, the intent written only when
//     a request is accepted (D16) — and the world checks the control
//     plane's decision against the library's on the same records;
//   - the create, start, migrate, update and delete sagas are package
//     sagas' own (§13–§16), run a node at a time and interleaved with
//     everything else; the world supplies their sled-agent client
//     (sledAgents), the sleds' reservations under each instance's
//     placement constraint (sledRoom: insufficient_capacity and the
//     constraint causes of D13), and the faults, and holds no saga step of
//     its own. When the store keeps a saga log (datastore.SagaLog, as both
//     of vmlife's do) every saga is begun on a durable executor
//     (sagas.SEC.Begin, identity SEC) and each node is logged as it runs
//     (D26); when it keeps reservations, each sled reservation is a record
//     too. The control plane hands the world every saga it begins
//     (controlplane.SagaRunner); after each node the world reads back what
//     the node wrote, and when a saga ends it counts how and passes it
//     back (ControlPlane.Rested), which begins what the saga says comes
//     next (an instance created to run gets a start, an update a
//     successor or a restart, §13.4, §16; an unlinked target its stop,
//     D37);
//   - reports pushed over the network are taken by ControlPlane.Report;
//     whatever the control plane writes through a sled-agent's answer —
//     a report, a proof of death — the world reads back;
//   - sled-agents follow §3.5: every observation bumps the VMM
//     generation, migration sides are folded with migration.Fold and
//     failed with migration.Halt, and reports are applied by the store's
//     sled_report, to whichever rows they name;
//   - the background tasks are the control plane's passes: its instance
//     watcher a VMM a step (ControlPlane.BeginTask, TaskRun.Step: the
//     pass lists every sled's VMMs, then checks one at each watcher
//     action, failure.CheckHealth's verdict acted on, D18), so that sagas
//     and sled-agents move between two checks; its instance updater,
//     reincarnation (D15), instance reconciler (D19) and abandoned-VMM
//     reaper (§18) a pass an action (the reaper's less often as the fleet
//     grows), their work listed by the store's fleet queries, indexed in
//     memory, and its owed stops (D34, D37), listed in its memory. Beside
//     the passes, an operator's look at one instance the world picks
//     (ControlPlane.Reconcile, D19) reaches every action Next can name: a
//     start, a restart, an update, a stop, a look at a VMM past its
//     deadline, D32, the abort of a stalled migration, D34 — the last two
//     on Config.Policy, which no fleet query knows.
//     Every snapshot carries Config.Policy, the liveness policy.
//
// Faults (see Fault) delay, duplicate, reorder and drop reports, power
// sleds off, cut sled-agents off, expunge sleds, crash VMMs, fail starts
// transiently and permanently, fail saga steps (Exec.Fail; never a
// delete's, whose intent the user already wrote), lose the
// mark-as-starting undo's race (Exec.Skip), run saga nodes twice
// (Exec.Again, checked to change nothing), hang VMMs in transient states
// past every deadline, stall live migrations, and kill the control
// plane's process: every saga in flight and the control plane's memory
// (its owed stops, its watcher's observations) are dropped, and a new
// control plane under the same identity recovers the sagas from the log
// (its TaskSagaRecovery pass, which begins what each saga it brought to
// rest asks for next) — the world reads back what each left, as after a
// node, before it takes the sagas those follow-ups begin.
//
// After every step the world checks every invariant: each instance's
// snapshot on its own and across the step, that an instance meant to run
// says why it does not, and the world's own rules — no VMM linked by two
// instances, no guest running in two VMMs, no sled over-committed, no
// generation decreasing, no lock without its saga. Step returns the
// violations first seen in it. Settle then stops the users and the faults
// and runs the sagas in flight to rest; Unsettled names every instance that
// did not converge to its intent and does not say why (D13, D19), and the
// Summary's SagasUnfinished, LocksHeld and ReservationsLeaked must be 0.
//
// Some paths cannot arise, by design rather than for want of a fault: no
// instance is ever `repairing` (Omicron defines the external state and
// never derives it, §2.1, §20 item 12, and neither does vmlife), so the
// summary's repairing count is always 0.
//
// Settle needs more quiet steps in a larger world — every instance's
// sagas, reports and cooldowns must run out — so SettleSteps scales the
// budget with the number of instances.
//
// Randomness comes only from the Chooser passed to Step: NewRand(seed)
// for the command, rapid's draws for the model-based test. The same
// choices give the same world, and the same seed the same Summary, byte
// for byte.
//
// Rules are cited by id: §… names a section of the reference behaviour this
// package follows (docs/reference.md in the repository), D… a decision where
// vmlife differs from it or goes further (docs/decisions.md).
package sim

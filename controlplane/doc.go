// Package controlplane is the one home (D31) of how a control plane built
// on vmlife reacts and what it does in the background: a user's request, a
// sled-agent's report and a proof of death, each decided by the library,
// recorded with one guarded write and carried out by a durable saga; and
// the background tasks Omicron spreads over Nexus — the instance updater,
// reincarnation, the abandoned-VMM reaper, the instance watcher, saga
// recovery and adoption, and the not-progressing detector, with the
// retry of the stops it owes and a reconciler of the intents a dead
// process left unmet (D19) — each a pass over a datastore.Store and a saga
// log, with the clock passed in.
//
// A ControlPlane holds none of the records: everything it knows it reads
// from the store, and everything it does it writes there first, so any
// number of control planes may share one store, and one that dies leaves
// nothing the next cannot finish (D26): its sagas are in the log, and its
// executor's lease hands them over when it stops renewing it (D27).
//
// # Reactions
//
// Request, Migrate and Create answer a user: the decision
// (instancestate.Decide), the intent it writes (D16), and the saga it
// names, run to rest before the call returns, as Nexus's API handlers wait
// for their sagas. Report and VMMGone take what the sled-agents say: the
// report or the death is recorded (sagas.RecordReport, sagas.RecordDeath)
// and, when the records ask for it, an instance-update saga is run. What a
// saga asks for next — another update, a restart (§13.4) — is run before
// the reaction returns, up to a bound; the rest is left to the instance
// updater, which finds it anyway (D19).
//
// A driver that runs the sagas itself — a simulator interleaving their
// nodes with the sled-agents' reports, a harness crashing them at chosen
// points — sets Config.Runner: every saga a reaction or a pass begins is
// handed to its SagaRunner instead of run in the call, and the driver
// passes each back to Rested once it has come to rest, for what it asks
// for next. The decisions and the writes stay the control plane's.
//
// # Background tasks
//
// Each Task is one pass: RunTask runs one now, and Tick runs those whose
// interval has passed or that were activated, as Omicron's background task
// driver does — a pass that leaves work behind activates its task again.
// Run ticks on the wall clock until its context is cancelled; a simulator
// calls Tick on its own clock instead. A driver that interleaves a pass
// with other work runs it a piece at a time — its query, then one record
// each — with BeginTask and TaskRun.Step.
//
// # What an operator sees
//
// Every pass and reaction is logged on Config.Logger (nil: silent) and
// counted: Stats returns the counters — passes, sagas started, recovered,
// adopted, abandoned, errors by kind — as a value a caller exports to
// whatever metrics system it runs. Cancelling a context is shutdown, never
// failure (D28): a saga it interrupts is left in the log for recovery, and
// is counted as halted, not as an error.
//
// Rules are cited by id: §… names a section of the reference behaviour
// (docs/reference.md in the repository), D… a decision where vmlife differs
// from it or goes further (docs/decisions.md).
package controlplane

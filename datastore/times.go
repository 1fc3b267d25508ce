package datastore

import (
	"errors"
	"time"

	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Precision is the finest time a store keeps: PostgreSQL's TIMESTAMPTZ and
// INTERVAL hold whole microseconds, and every store answers alike.
const Precision = time.Microsecond

// StoreTime is a time as every Store keeps it: truncated (not rounded) to
// Precision, in UTC, without a monotonic reading. The zero time stays
// zero (a NULL column). A store applies it to every time it is given, so
// a caller may pass time.Now() and reads back StoreTime(time.Now()).
func StoreTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(Precision).UTC()
}

// storeDuration is a duration as a store keeps it (an INTERVAL):
// truncated to Precision.
func storeDuration(d time.Duration) time.Duration { return d.Truncate(Precision) }

// StoreInstance returns in with every time and duration as a store keeps
// it (StoreTime).
func StoreInstance(in instancestate.Instance) instancestate.Instance {
	in.Runtime = storeRuntime(in.Runtime)
	in.AutoRestart.Cooldown = storeDuration(in.AutoRestart.Cooldown)
	in.StartFailure.Time = StoreTime(in.StartFailure.Time)
	in.VMMLost.Time = StoreTime(in.VMMLost.Time)
	return in
}

func storeRuntime(rt instancestate.Runtime) instancestate.Runtime {
	rt.TimeUpdated = StoreTime(rt.TimeUpdated)
	rt.TimeLastAutoRestarted = StoreTime(rt.TimeLastAutoRestarted)
	return rt
}

// StoreVMM returns v with its time as a store keeps it (StoreTime).
func StoreVMM(v vmmstate.VMM) vmmstate.VMM {
	v.Runtime.TimeUpdated = StoreTime(v.Runtime.TimeUpdated)
	return v
}

// StoreMigration returns m with every time as a store keeps it
// (StoreTime).
func StoreMigration(m migration.Record) migration.Record {
	m.TimeCreated = StoreTime(m.TimeCreated)
	m.Source.TimeUpdated = StoreTime(m.Source.TimeUpdated)
	m.Target.TimeUpdated = StoreTime(m.Target.TimeUpdated)
	return m
}

// StorePlan returns p with its times as a store keeps them (StoreTime).
func StorePlan(p instancestate.Plan) instancestate.Plan {
	p.Runtime = storeRuntime(p.Runtime)
	p.Lost.Time = StoreTime(p.Lost.Time)
	return p
}

// StoreReport returns r with its times as a store keeps them (StoreTime);
// the migration sides are copied, never changed in place.
func StoreReport(r instancestate.Report) instancestate.Report {
	r.VMM.TimeUpdated = StoreTime(r.VMM.TimeUpdated)
	for _, side := range [...]**migration.Report{&r.MigrationIn, &r.MigrationOut} {
		if *side != nil {
			c := **side
			c.TimeUpdated = StoreTime(c.TimeUpdated)
			*side = &c
		}
	}
	return r
}

// errNoTimeCreated refuses a migration without its creation time: a store
// keeps it (a NOT NULL column), so every store refuses it alike.
var errNoTimeCreated = errors.New("time_created: null (accepted: the time the migration was created, RFC 3339)")

package storetest

import (
	"errors"
	"fmt"
	"sync"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// racers is how many goroutines race each guarded write.
const racers = 12

// guardedWrite is one guarded write of §8–§9 to race. setup builds fresh
// rows and returns the writes to race over them (each answering whether
// it applied; a refusal the guard is meant to give is not an error) and a
// projection of the rows they touch, free of ids the winner chose.
type guardedWrite struct {
	name  string
	setup func(f *fixture) (writes []func() (bool, error), end func() string)
}

// guardedWrites are the writes testRacingGuardedWrites races: every
// guarded write of the interface that a second, concurrent caller can
// repeat. (The lock and the generation-ordered VMM writes have cases of
// their own: testRacingLocks, testRacingVMMWrites.)
var guardedWrites = []guardedWrite{
	{"§8.1/InstanceUpdateRuntime", func(f *fixture) ([]func() (bool, error), func() string) {
		in := f.noVMM(f.instance())
		rt := in.Runtime
		rt.Generation, rt.TimeUpdated = gen(3), at(5)
		return same(func() (bool, error) {
			res, err := f.st.InstanceUpdateRuntime(f.ctx, in.ID, rt, instancestate.IntentUnchanged)
			return res.Applied, err
		}), f.instanceEnd(in.ID)
	}},
	{"§8.1/InstanceSetMigrationIDs", func(f *fixture) ([]func() (bool, error), func() string) {
		in, src := f.running()
		writes := make([]func() (bool, error), racers)
		for i := range writes {
			// Each racer brings its own target and migration: one wins,
			// the others find another migration linked (§8.1).
			dst := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
			m := f.migration(in.ID, src.ID, dst.ID)
			writes[i] = func() (bool, error) {
				_, err := f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: dst.ID, Now: at(5)})
				return refusedAs(err, datastore.KindConflict)
			}
		}
		return writes, f.instanceEnd(in.ID)
	}},
	{"§8.1/InstanceUnsetMigrationIDs", func(f *fixture) ([]func() (bool, error), func() string) {
		in, src := f.running()
		dst := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
		m := f.migration(in.ID, src.ID, dst.ID)
		must(f.st.InstanceSetMigrationIDs(f.ctx, in.ID, datastore.SetMigrationIDsArgs{Source: src.ID, Migration: m.ID, Target: dst.ID, Now: at(5)}))
		return same(func() (bool, error) {
			res, err := f.st.InstanceUnsetMigrationIDs(f.ctx, in.ID, datastore.UnsetMigrationIDsArgs{Migration: m.ID, Target: dst.ID, Now: at(6)})
			return res.Applied, err
		}), f.instanceEnd(in.ID)
	}},
	{"§8.1/InstanceDelete", func(f *fixture) ([]func() (bool, error), func() string) {
		in := f.noVMM(f.instance())
		return same(func() (bool, error) {
				res, err := f.st.InstanceDelete(f.ctx, in.ID, at(5))
				return res.Applied, err
			}), func() string {
				_, err := f.st.InstanceFetchAll(f.ctx, in.ID)
				var e *datastore.Error
				if errors.As(err, &e) {
					return "refused: " + e.Kind.String()
				}
				return fmt.Sprint(err)
			}
	}},
	{"§14/InstanceMarkAsStarting", func(f *fixture) ([]func() (bool, error), func() string) {
		in := f.noVMM(f.instance())
		f.expect("intend running", true, 0)(f.st.InstanceSetIntendedState(f.ctx, in.ID, instancestate.IntendRunning))
		writes := make([]func() (bool, error), racers)
		for i := range writes {
			// Each racer is a start saga with a VMM of its own: one links
			// it, the others find another VMM active (§14).
			v := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
			writes[i] = func() (bool, error) {
				_, err := f.st.InstanceMarkAsStarting(f.ctx, in.ID, datastore.MarkAsStartingArgs{VMM: v.ID, Reason: failure.StartReasonUser, Now: at(5)})
				return refusedAs(err, datastore.KindConflict)
			}
		}
		return writes, f.instanceEnd(in.ID)
	}},
	{"D13/InstanceRecordStartFailure", func(f *fixture) ([]func() (bool, error), func() string) {
		in := f.noVMM(f.instance())
		sf := failure.NewStartFailure(failure.CauseInternal, failure.StartReasonUser, at(5))
		return same(func() (bool, error) {
			res, err := f.st.InstanceRecordStartFailure(f.ctx, in.ID, sf)
			return res.Applied, err
		}), f.instanceEnd(in.ID)
	}},
	{"§8.2/VMMMarkFailed", func(f *fixture) ([]func() (bool, error), func() string) {
		_, v := f.running()
		return same(func() (bool, error) {
			res, err := f.st.VMMMarkFailed(f.ctx, v.ID, failure.SledOff, at(5))
			return res.Applied, err
		}), f.vmmEnd(v.ID)
	}},
	{"§8.2/VMMMarkSagaUnwound", func(f *fixture) ([]func() (bool, error), func() string) {
		in := f.noVMM(f.instance())
		v := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
		return same(func() (bool, error) {
			res, err := f.st.VMMMarkSagaUnwound(f.ctx, v.ID, at(5))
			return res.Applied, err
		}), f.vmmEnd(v.ID)
	}},
	{"§8.2/VMMMarkDeleted", func(f *fixture) ([]func() (bool, error), func() string) {
		in := f.noVMM(f.instance())
		v := f.vmm(in.ID, f.sled(), vmmstate.Destroyed, 3)
		return same(func() (bool, error) {
			res, err := f.st.VMMMarkDeleted(f.ctx, v.ID, at(5))
			return res.Applied, err
		}), f.vmmEnd(v.ID)
	}},
	{"§8.2/SledReport", func(f *fixture) ([]func() (bool, error), func() string) {
		in, v := f.running()
		dst := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
		m := f.migration(in.ID, v.ID, dst.ID)
		r := report(vmmstate.SledAgentStopping, 4, at(5))
		r.MigrationOut = sideReport(m.ID, migration.Completed, 2, at(5))
		vmmEnd, migEnd := f.vmmEnd(v.ID), f.migrationEnd(m.ID)
		return same(func() (bool, error) {
			res, err := f.st.SledReport(f.ctx, v.ID, r)
			if res.VMM.Applied != res.MigrationOut.Applied {
				return false, fmt.Errorf("one transaction wrote half a report: %+v", res)
			}
			return res.VMM.Applied, err
		}), func() string { return vmmEnd() + " " + migEnd() }
	}},
	{"§8.3/MigrationMarkFailed", func(f *fixture) ([]func() (bool, error), func() string) {
		in, v := f.running()
		dst := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
		m := f.migration(in.ID, v.ID, dst.ID)
		return same(func() (bool, error) {
			res, err := f.st.MigrationMarkFailed(f.ctx, m.ID, at(5))
			return res.Applied, err
		}), f.migrationEnd(m.ID)
	}},
	{"§8.3/MigrationMarkDeleted", func(f *fixture) ([]func() (bool, error), func() string) {
		in, v := f.running()
		dst := f.vmm(in.ID, f.sled(), vmmstate.Creating, 1)
		m := f.migration(in.ID, v.ID, dst.ID)
		return same(func() (bool, error) {
			res, err := f.st.MigrationMarkDeleted(f.ctx, m.ID, at(5))
			return res.Applied, err
		}), f.migrationEnd(m.ID)
	}},
}

// same is racers copies of one write.
func same(w func() (bool, error)) []func() (bool, error) {
	ws := make([]func() (bool, error), racers)
	for i := range ws {
		ws[i] = w
	}
	return ws
}

// refusedAs turns the refusal of kind, which a write's guard is meant to
// give a loser, into "not applied"; any other error stays an error.
func refusedAs(err error, kind datastore.ErrorKind) (bool, error) {
	var e *datastore.Error
	if errors.As(err, &e) && e.Kind == kind {
		return false, nil
	}
	return err == nil, err
}

func (f *fixture) instanceEnd(id instancestate.ID) func() string {
	return func() string {
		rt := f.fetch(id).Instance.Runtime
		return fmt.Sprintf("%v@%v migrating=%v target=%v", rt.State, rt.Generation, !rt.MigrationID.IsZero(), !rt.TargetVMM.IsZero())
	}
}

func (f *fixture) vmmEnd(id vmmstate.ID) func() string {
	return func() string {
		row := must(f.st.VMMFetch(f.ctx, id))
		return fmt.Sprintf("%v deleted=%v", row.VMM.Runtime, !row.TimeDeleted.IsZero())
	}
}

func (f *fixture) migrationEnd(id migration.ID) func() string {
	return func() string {
		row := must(f.st.MigrationFetch(f.ctx, id))
		src, dst := row.Migration.Source, row.Migration.Target
		return fmt.Sprintf("source %v@%v target %v@%v deleted=%v", src.State, src.Generation, dst.State, dst.Generation, !row.TimeDeleted.IsZero())
	}
}

// testRacingGuardedWrites races every guarded write: racers goroutines
// make it at once over one set of rows, and the same writes run one after
// another over a second, identical set. Both must answer the same number
// of "applied" — exactly one, for every write here that changes a row —
// and leave the same rows: the guards serialize racing writers exactly as
// a sequential replay would.
func testRacingGuardedWrites(f *fixture) {
	for _, w := range guardedWrites {
		raced, racedEnd := w.setup(f)
		replayed, replayedEnd := w.setup(f)

		var wg sync.WaitGroup
		var mu sync.Mutex
		racedApplied := 0
		var errs []error
		for _, write := range raced {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := write()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if ok {
					racedApplied++
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			f.fatal("%s raced: %v", w.name, errors.Join(errs...))
		}

		replayedApplied := 0
		for _, write := range replayed {
			ok, err := write()
			if err != nil {
				f.fatal("%s replayed: %v", w.name, err)
			}
			if ok {
				replayedApplied++
			}
		}
		if racedApplied != replayedApplied || racedApplied != 1 {
			f.fatal("%s: %d of %d raced writes applied, %d replayed; want exactly 1 each", w.name, racedApplied, racers, replayedApplied)
		}
		if got, want := racedEnd(), replayedEnd(); got != want {
			f.fatal("%s: raced rows %s; a sequential replay leaves %s", w.name, got, want)
		}
	}
}

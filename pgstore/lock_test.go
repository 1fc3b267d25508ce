package pgstore_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/vmmstate"
)

// TestInheritLockAnswersAsMemory: the handover of the updater lock from a
// saga to the saga it starts (§9, §13.2), one statement on PostgreSQL,
// answers as Memory does at every step and leaves the same instance
// behind: handed over at the next generation, again as a no-op, refused to
// a stale parent, kept by a parent that names itself, handed over from no
// one (the transaction path), refused to the nil child and on a deleted or
// missing instance. The statement's guard is the rule's: where it writes
// nothing, Memory on the row as it was says why.
func TestInheritLockAnswersAsMemory(t *testing.T) {
	ctx := context.Background()
	pg, mem := fresh(t), datastore.NewMemory()
	up := func() instancestate.UpdaterID { return instancestate.UpdaterIDFromUUID(uuid.New()) }
	held, free, gone := vmmstate.InstanceIDFromUUID(uuid.New()), vmmstate.InstanceIDFromUUID(uuid.New()), vmmstate.InstanceIDFromUUID(uuid.New())
	missing := vmmstate.InstanceIDFromUUID(uuid.New())
	parent, child, self := up(), up(), up()
	var parentLock, selfLock, goneLock instancestate.Lock
	setup := []func(datastore.Store) error{
		func(st datastore.Store) error {
			for _, id := range []instancestate.ID{held, free, gone} {
				in := instancestate.New(id, false, instancestate.AutoRestart{}, t0)
				in.Runtime.State = instancestate.NexusNoVMM // stopped: deletable
				if _, err := st.InstanceInsert(ctx, in); err != nil {
					return err
				}
			}
			var err error
			if parentLock, err = st.InstanceUpdaterLock(ctx, held, parent); err != nil {
				return err
			}
			if goneLock, err = st.InstanceUpdaterLock(ctx, gone, parent); err != nil {
				return err
			}
			_, err = st.InstanceDelete(ctx, gone, t0)
			return err
		},
	}
	for _, st := range []datastore.Store{mem, pg} {
		for _, f := range setup {
			if err := f(st); err != nil {
				t.Fatal(err)
			}
		}
	}
	steps := []struct {
		name string
		id   instancestate.ID
		do   func(datastore.Store) (instancestate.Lock, error)
	}{
		{"handed over", held, func(st datastore.Store) (instancestate.Lock, error) {
			return st.InstanceUpdaterInheritLock(ctx, held, parentLock, child)
		}},
		{"again", held, func(st datastore.Store) (instancestate.Lock, error) {
			return st.InstanceUpdaterInheritLock(ctx, held, parentLock, child)
		}},
		{"a stale parent", held, func(st datastore.Store) (instancestate.Lock, error) {
			return st.InstanceUpdaterInheritLock(ctx, held, parentLock, up())
		}},
		{"the free lock taken", free, func(st datastore.Store) (l instancestate.Lock, err error) {
			selfLock, err = st.InstanceUpdaterLock(ctx, free, self)
			return selfLock, err
		}},
		{"a parent naming itself", free, func(st datastore.Store) (instancestate.Lock, error) {
			return st.InstanceUpdaterInheritLock(ctx, free, selfLock, self)
		}},
		{"unlocked", free, func(st datastore.Store) (instancestate.Lock, error) {
			_, err := st.InstanceUpdaterUnlock(ctx, free, selfLock)
			return instancestate.Lock{}, err
		}},
		{"from no one", free, func(st datastore.Store) (instancestate.Lock, error) {
			snap, err := st.InstanceFetchAll(ctx, free)
			if err != nil {
				return instancestate.Lock{}, err
			}
			return st.InstanceUpdaterInheritLock(ctx, free, instancestate.Lock{Gen: snap.Instance.UpdaterGen}, child)
		}},
		{"to the nil child", held, func(st datastore.Store) (instancestate.Lock, error) {
			return st.InstanceUpdaterInheritLock(ctx, held, instancestate.Lock{Updater: child, Gen: parentLock.Gen}, instancestate.UpdaterID{})
		}},
		{"a deleted instance", gone, func(st datastore.Store) (instancestate.Lock, error) {
			return st.InstanceUpdaterInheritLock(ctx, gone, goneLock, child)
		}},
		{"no such instance", missing, func(st datastore.Store) (instancestate.Lock, error) {
			return st.InstanceUpdaterInheritLock(ctx, missing, parentLock, child)
		}},
	}
	for _, s := range steps {
		want, wantErr := s.do(mem)
		got, gotErr := s.do(pg)
		if !sameError(gotErr, wantErr) || got != want {
			t.Errorf("%s: PostgreSQL answers %+v, %v; Memory %+v, %v", s.name, got, gotErr, want, wantErr)
		} else {
			t.Logf("%s: %+v, %v", s.name, got, gotErr)
		}
		memSnap, memErr := mem.InstanceFetchAll(ctx, s.id)
		pgSnap, pgErr := pg.InstanceFetchAll(ctx, s.id)
		if !sameError(pgErr, memErr) || !reflect.DeepEqual(pgSnap, memSnap) {
			t.Errorf("%s: PostgreSQL leaves %+v, %v; Memory %+v, %v", s.name, pgSnap.Instance, pgErr, memSnap.Instance, memErr)
		}
	}
}

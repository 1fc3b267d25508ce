package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Store is datastore.Store and datastore.SagaLog on PostgreSQL. It is safe
// for concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	own       bool          // Close closes the pool
	fleetPage int           // instances a fleet query reads at a time; 0: the const fleetPage
	timeout   time.Duration // bounds each call (OperationTimeout); <= 0: none
	retryFor  time.Duration // a call the server did not answer is retried this long (RetryUnavailable); <= 0: never
}

var _ datastore.Store = (*Store)(nil)

// Open connects to the database dsn names (a libpq URL or key=value
// string, as pgx reads it), checks that it answers and that its schema is
// at SchemaVersion. It never changes the schema, so a role that may only
// read and write rows can open the store: a database with no vmlife schema
// or an older one is an ErrMigrationNeeded *SchemaError (run Migrate, or
// `vmlife migrate --store DSN`, first), one whose schema this package does
// not know an ErrSchemaVersion one. A malformed DSN or an unreachable
// server is an error too, and nothing is written. Each call of the store
// is bounded by DefaultOperationTimeout unless an OperationTimeout option
// says otherwise.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s, err := newStore(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// New uses pool, a connection pool the caller configured and closes, and
// checks its database's schema as Open does.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	return newStore(ctx, pool, opts)
}

func newStore(ctx context.Context, pool *pgxpool.Pool, opts []Option) (*Store, error) {
	s := &Store{pool: pool, timeout: DefaultOperationTimeout}
	for _, o := range opts {
		o(s)
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	if err := pool.Ping(ctx); err != nil {
		return nil, connectError(err)
	}
	if err := checkSchema(ctx, pool); err != nil {
		return nil, err
	}
	return s, nil
}

// connectError says what connecting found: a server that answered with an
// error (no such database, no such role, a refused password) did answer,
// and its answer is said; anything else is a server that does not answer.
func connectError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("pgstore: the server answered and refused the connection: %w", pgErr)
	}
	return fmt.Errorf("pgstore: the server does not answer: %w", err)
}

// Close closes the pool Open made; it leaves a pool given to New open. It
// waits for the pool's connections to close: after a call cut off by its
// deadline, pgx gives that connection up to 15 s to end (it asks the
// server to cancel the query and waits for it to hang up), so on a server
// that stopped answering Close can take that long. A caller that must not
// wait closes it in a goroutine of its own, as `vmlife script` does.
func (s *Store) Close() {
	if s.own {
		s.pool.Close()
	}
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func instanceKeys(id instancestate.ID) keys { return keys{instance: id.UUID()} }

// withLinks is k reading the rows the instance links too: the operations
// that decide on the instance's snapshot.
func withLinks(k keys) keys {
	k.links = true
	return k
}
func vmmKeys(id vmmstate.ID) keys        { return keys{vmms: []pgUUID{uuidOf(id.UUID())}} }
func migrationKeys(id migration.ID) keys { return keys{migrations: []pgUUID{uuidOf(id.UUID())}} }

// InstanceInsert implements datastore.Store.
func (s *Store) InstanceInsert(ctx context.Context, in instancestate.Instance) (instancestate.Instance, error) {
	return call(s, ctx, "instance_insert", func(ctx context.Context) (instancestate.Instance, error) {
		return run(s, ctx, instanceKeys(in.ID), false, func(t *datastore.Tables) (instancestate.Instance, error) {
			return t.InstanceInsert(ctx, in)
		})
	})
}

// VMMInsert implements datastore.Store.
func (s *Store) VMMInsert(ctx context.Context, v vmmstate.VMM) (vmmstate.VMM, error) {
	return call(s, ctx, "vmm_insert", func(ctx context.Context) (vmmstate.VMM, error) {
		return run(s, ctx, vmmKeys(v.ID), false, func(t *datastore.Tables) (vmmstate.VMM, error) {
			return t.VMMInsert(ctx, v)
		})
	})
}

// MigrationInsert implements datastore.Store.
func (s *Store) MigrationInsert(ctx context.Context, rec migration.Record) (migration.Record, error) {
	return call(s, ctx, "migration_insert", func(ctx context.Context) (migration.Record, error) {
		return run(s, ctx, migrationKeys(rec.ID), false, func(t *datastore.Tables) (migration.Record, error) {
			return t.MigrationInsert(ctx, rec)
		})
	})
}

// InstanceFetchAll implements datastore.Store.
func (s *Store) InstanceFetchAll(ctx context.Context, id instancestate.ID) (instancestate.Snapshot, error) {
	return call(s, ctx, "instance_fetch_all", func(ctx context.Context) (instancestate.Snapshot, error) {
		return run(s, ctx, withLinks(instanceKeys(id)), true, func(t *datastore.Tables) (instancestate.Snapshot, error) {
			return t.InstanceFetchAll(ctx, id)
		})
	})
}

// VMMFetch implements datastore.Store.
func (s *Store) VMMFetch(ctx context.Context, id vmmstate.ID) (datastore.VMMRow, error) {
	return call(s, ctx, "vmm_fetch", func(ctx context.Context) (datastore.VMMRow, error) {
		return run(s, ctx, vmmKeys(id), true, func(t *datastore.Tables) (datastore.VMMRow, error) {
			return t.VMMFetch(ctx, id)
		})
	})
}

// MigrationFetch implements datastore.Store.
func (s *Store) MigrationFetch(ctx context.Context, id migration.ID) (datastore.MigrationRow, error) {
	return call(s, ctx, "migration_fetch", func(ctx context.Context) (datastore.MigrationRow, error) {
		return run(s, ctx, migrationKeys(id), true, func(t *datastore.Tables) (datastore.MigrationRow, error) {
			return t.MigrationFetch(ctx, id)
		})
	})
}

// InstanceUpdateRuntime implements datastore.Store.
func (s *Store) InstanceUpdateRuntime(ctx context.Context, id instancestate.ID, rt instancestate.Runtime, intent instancestate.IntendedState) (datastore.Result, error) {
	return call(s, ctx, "instance_update_runtime", func(ctx context.Context) (datastore.Result, error) {
		// The records the runtime links are read (and locked) too: a runtime
		// that newly links one the instance could not read is refused.
		k := instanceKeys(id)
		k.vmms = []pgUUID{uuidOf(rt.ActiveVMM.UUID()), uuidOf(rt.TargetVMM.UUID())}
		k.migrations = []pgUUID{uuidOf(rt.MigrationID.UUID())}
		return run(s, ctx, k, false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.InstanceUpdateRuntime(ctx, id, rt, intent)
		})
	})
}

// InstanceSetIntendedState implements datastore.Store.
func (s *Store) InstanceSetIntendedState(ctx context.Context, id instancestate.ID, intent instancestate.IntendedState) (datastore.Result, error) {
	return call(s, ctx, "instance_set_intended_state", func(ctx context.Context) (datastore.Result, error) {
		return run(s, ctx, instanceKeys(id), false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.InstanceSetIntendedState(ctx, id, intent)
		})
	})
}

// InstanceSetMigrationIDs implements datastore.Store.
func (s *Store) InstanceSetMigrationIDs(ctx context.Context, id instancestate.ID, p datastore.SetMigrationIDsArgs) (instancestate.Instance, error) {
	return call(s, ctx, "instance_set_migration_ids", func(ctx context.Context) (instancestate.Instance, error) {
		return run(s, ctx, withLinks(instanceKeys(id)), false, func(t *datastore.Tables) (instancestate.Instance, error) {
			return t.InstanceSetMigrationIDs(ctx, id, p)
		})
	})
}

// InstanceUnsetMigrationIDs implements datastore.Store.
func (s *Store) InstanceUnsetMigrationIDs(ctx context.Context, id instancestate.ID, p datastore.UnsetMigrationIDsArgs) (datastore.Result, error) {
	return call(s, ctx, "instance_unset_migration_ids", func(ctx context.Context) (datastore.Result, error) {
		return run(s, ctx, instanceKeys(id), false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.InstanceUnsetMigrationIDs(ctx, id, p)
		})
	})
}

// InstanceMarkAsStarting implements datastore.Store.
func (s *Store) InstanceMarkAsStarting(ctx context.Context, id instancestate.ID, p datastore.MarkAsStartingArgs) (instancestate.Instance, error) {
	return call(s, ctx, "instance_mark_as_starting", func(ctx context.Context) (instancestate.Instance, error) {
		k := withLinks(instanceKeys(id))
		k.vmms = []pgUUID{uuidOf(p.VMM.UUID())}
		return run(s, ctx, k, false, func(t *datastore.Tables) (instancestate.Instance, error) {
			return t.InstanceMarkAsStarting(ctx, id, p)
		})
	})
}

// InstanceRecordStartFailure implements datastore.Store.
func (s *Store) InstanceRecordStartFailure(ctx context.Context, id instancestate.ID, f failure.StartFailure) (datastore.Result, error) {
	return call(s, ctx, "instance_record_start_failure", func(ctx context.Context) (datastore.Result, error) {
		return run(s, ctx, instanceKeys(id), false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.InstanceRecordStartFailure(ctx, id, f)
		})
	})
}

// InstanceDelete implements datastore.Store.
func (s *Store) InstanceDelete(ctx context.Context, id instancestate.ID, now time.Time) (datastore.Result, error) {
	return call(s, ctx, "instance_delete", func(ctx context.Context) (datastore.Result, error) {
		k := withLinks(instanceKeys(id))
		k.allMigrations = true
		return run(s, ctx, k, false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.InstanceDelete(ctx, id, now)
		})
	})
}

// VMMUpdateRuntime implements datastore.Store.
func (s *Store) VMMUpdateRuntime(ctx context.Context, id vmmstate.ID, rt vmmstate.Runtime) (datastore.Result, error) {
	return call(s, ctx, "vmm_update_runtime", func(ctx context.Context) (datastore.Result, error) {
		return run(s, ctx, vmmKeys(id), false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.VMMUpdateRuntime(ctx, id, rt)
		})
	})
}

// VMMMarkFailed implements datastore.Store.
func (s *Store) VMMMarkFailed(ctx context.Context, id vmmstate.ID, reason failure.Reason, now time.Time) (datastore.Result, error) {
	return call(s, ctx, "vmm_mark_failed", func(ctx context.Context) (datastore.Result, error) {
		return run(s, ctx, vmmKeys(id), false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.VMMMarkFailed(ctx, id, reason, now)
		})
	})
}

// VMMMarkSagaUnwound implements datastore.Store.
func (s *Store) VMMMarkSagaUnwound(ctx context.Context, id vmmstate.ID, now time.Time) (datastore.Result, error) {
	return call(s, ctx, "vmm_mark_saga_unwound", func(ctx context.Context) (datastore.Result, error) {
		return run(s, ctx, vmmKeys(id), false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.VMMMarkSagaUnwound(ctx, id, now)
		})
	})
}

// MigrationMarkFailed implements datastore.Store.
func (s *Store) MigrationMarkFailed(ctx context.Context, id migration.ID, now time.Time) (datastore.Result, error) {
	return call(s, ctx, "migration_mark_failed", func(ctx context.Context) (datastore.Result, error) {
		return run(s, ctx, migrationKeys(id), false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.MigrationMarkFailed(ctx, id, now)
		})
	})
}

// MigrationMarkDeleted implements datastore.Store.
func (s *Store) MigrationMarkDeleted(ctx context.Context, id migration.ID, now time.Time) (datastore.Result, error) {
	return call(s, ctx, "migration_mark_deleted", func(ctx context.Context) (datastore.Result, error) {
		// The instance that owns the migration is read and locked with it: a
		// migration it links is not deleted (datastore.ReasonLinked). Its id
		// never changes, so it is found before the transaction.
		k := migrationKeys(id)
		var owner pgUUID
		err := s.pool.QueryRow(ctx, `SELECT instance_id FROM migration WHERE id = $1`, uuidOf(id.UUID())).Scan(&owner)
		switch {
		case err == nil:
			k.instance = owner.Bytes
		case !errors.Is(err, pgx.ErrNoRows):
			return datastore.Result{}, err
		}
		return run(s, ctx, k, false, func(t *datastore.Tables) (datastore.Result, error) {
			return t.MigrationMarkDeleted(ctx, id, now)
		})
	})
}

// InstanceListMigrations implements datastore.Store.
func (s *Store) InstanceListMigrations(ctx context.Context, id instancestate.ID) ([]migration.ID, error) {
	return call(s, ctx, "instance_list_migrations", func(ctx context.Context) ([]migration.ID, error) {
		k := instanceKeys(id)
		k.allMigrations = true
		return run(s, ctx, k, true, func(t *datastore.Tables) ([]migration.ID, error) {
			return t.InstanceListMigrations(ctx, id)
		})
	})
}

// SledReport implements datastore.Store: one transaction over the VMM row
// and the migration rows the report names.
func (s *Store) SledReport(ctx context.Context, vmm vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	return call(s, ctx, "sled_report", func(ctx context.Context) (datastore.SledReportResult, error) {
		r := datastore.StoreReport(r)
		k := vmmKeys(vmm)
		for _, side := range [...]*migration.Report{r.MigrationOut, r.MigrationIn} {
			if side != nil {
				k.migrations = append(k.migrations, uuidOf(side.MigrationID.UUID()))
			}
		}
		if len(k.migrations) == 0 {
			return s.reportVMMOnly(ctx, vmm, r)
		}
		return run(s, ctx, k, false, func(t *datastore.Tables) (datastore.SledReportResult, error) {
			return t.SledReport(ctx, vmm, r)
		})
	})
}

// ErrInUse is matched (errors.Is) by the error of ClaimRun when another
// run holds the database.
var ErrInUse = errors.New("another run is using the database")

// ClaimRun holds the database for one run of a tool whose records must not
// meet another run's — `vmlife script` and `vmlife simulate` number their
// ids afresh at every run (D29). Until release is called, another ClaimRun
// on the same database, from this process or any other, fails at once
// with ErrInUse. The hold is a row lock (the schema's first version row,
// FOR UPDATE NOWAIT) in a transaction kept open on a connection of its
// own, so it also ends when the process does. It writes nothing.
func (s *Store) ClaimRun(ctx context.Context) (release func(), err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	tx, err := c.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, `SELECT version FROM vmlife_schema WHERE version = 1 FOR UPDATE NOWAIT`)
	}
	end := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if tx != nil {
			_ = tx.Rollback(ctx)
		}
		c.Release()
	}
	if err != nil {
		end()
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available
			return nil, fmt.Errorf("pgstore: %w", ErrInUse)
		}
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return end, nil
}

//go:build !vmlife_nodb

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/pgstore"
	"github.com/vmlife/vmlife/sim"
	"github.com/vmlife/vmlife/vmmstate"
)

// `vmlife simulate --store` keeps the simulated world's own state — its
// sleds and sled-agents, the reports on their way, its clock and counts
// (sim.Keeper) — in two tables of its own beside the store's, so that
// `simulate --store DSN --resume` continues a run whose process was
// killed. They are the command's, not the store's: pgstore's migrations
// do not create them, and a database that never ran a simulation has
// none. Their SQL stays in the subset CockroachDB runs too.
const simSchema = `
CREATE TABLE IF NOT EXISTS sim_world (
	id INT8 PRIMARY KEY CHECK (id = 1),
	doc JSONB NOT NULL,
	time_kept TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS sim_sled (
	id UUID PRIMARY KEY,
	doc JSONB NOT NULL
)`

// keepRetryFor is how long a keep waits out a server that cannot be
// reached (restarting, or a dropped connection) before the run stops.
const keepRetryFor = 60 * time.Second

// pgKeeper is sim.Keeper in the simulation's database.
type pgKeeper struct{ pool *pgxpool.Pool }

// openKeeper returns the Keeper of the simulation st holds, creating its
// tables when they are missing; fresh empties them for a new run.
func openKeeper(st datastore.Store, fresh bool) (sim.Keeper, error) {
	ps, ok := st.(*pgstore.Store)
	if !ok {
		return nil, fmt.Errorf("simulate: the store is a %T, not PostgreSQL's", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	k := &pgKeeper{pool: ps.Pool()}
	err := k.retry(ctx, func(ctx context.Context) error {
		if _, err := k.pool.Exec(ctx, simSchema); err != nil {
			return err
		}
		if fresh {
			_, err := k.pool.Exec(ctx, `DELETE FROM sim_sled; DELETE FROM sim_world`)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("simulate: the simulation's tables: %w", err)
	}
	return k, nil
}

// Keep implements sim.Keeper: the changed documents in one transaction.
func (k *pgKeeper) Keep(ctx context.Context, kept sim.Kept) error {
	return k.retry(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, k.pool, func(tx pgx.Tx) error {
			var b pgx.Batch
			if kept.World != nil {
				b.Queue(`INSERT INTO sim_world (id, doc, time_kept) VALUES (1, $1, now())
					ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, time_kept = excluded.time_kept`, string(kept.World))
			}
			// In one order, so that two keeps never take the rows' locks
			// in two.
			ids := slices.SortedFunc(maps.Keys(kept.Sleds), func(a, b vmmstate.SledID) int {
				x, y := a.UUID(), b.UUID()
				return bytes.Compare(x[:], y[:])
			})
			for _, id := range ids {
				b.Queue(`INSERT INTO sim_sled (id, doc) VALUES ($1, $2)
					ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, id.UUID(), string(kept.Sleds[id]))
			}
			return tx.SendBatch(ctx, &b).Close()
		})
	})
}

// Load implements sim.Keeper.
func (k *pgKeeper) Load(ctx context.Context) (sim.Kept, error) {
	var kept sim.Kept
	err := k.retry(ctx, func(ctx context.Context) error {
		kept = sim.Kept{Sleds: make(map[vmmstate.SledID][]byte)}
		var world string
		switch err := k.pool.QueryRow(ctx, `SELECT doc::TEXT FROM sim_world WHERE id = 1`).Scan(&world); {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			kept.World = []byte(world)
		}
		rows, err := k.pool.Query(ctx, `SELECT id, doc::TEXT FROM sim_sled`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id [16]byte
			var doc string
			if err := rows.Scan(&id, &doc); err != nil {
				return err
			}
			kept.Sleds[vmmstate.SledIDFromUUID(uuid.UUID(id))] = []byte(doc)
		}
		return rows.Err()
	})
	return kept, err
}

// retry runs f as waitOut does, for keepRetryFor, each attempt bounded
// as the store bounds its calls (pgstore.DefaultOperationTimeout): a hung
// server is an attempt that ends, not a wait without end.
func (k *pgKeeper) retry(ctx context.Context, f func(context.Context) error) error {
	return waitOut(ctx, keepRetryFor, func() error {
		ctx, cancel := context.WithTimeout(ctx, pgstore.DefaultOperationTimeout)
		defer cancel()
		err := f(ctx)
		if err != nil && ctx.Err() != nil {
			return &pgstore.NoAnswerError{Op: "sim_keep", TimedOut: true, Timeout: pgstore.DefaultOperationTimeout, Err: err}
		}
		return err
	})
}

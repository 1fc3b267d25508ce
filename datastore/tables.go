package datastore

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Tables is a copy of rows of the three tables, deleted or not: what
// Memory.Load takes and Memory.Tables returns.
//
// They are how a store that keeps its rows elsewhere applies the guards
// without writing them again: it reads the rows an operation touches
// (locking them), loads them into a fresh Memory, runs the operation there,
// and writes back the rows that changed, all in one transaction. The
// PostgreSQL store does this, so every guard has one home, Memory's
// operations, and both stores answer alike by construction.
type Tables struct {
	Instances  []InstanceRow
	VMMs       []VMMRow
	Migrations []MigrationRow
}

// Load puts rows into m as they are, replacing a row of the same id. Every
// record is checked as an insert checks it (D17, D21) before any is
// loaded: a record that breaks a row rule is an ErrInvalidRequest *Error
// naming it, and m is left as it was.
func (m *Memory) Load(ctx context.Context, t Tables) error {
	const op = "load"
	for _, r := range t.Instances {
		if err := r.Instance.Validate(); err != nil {
			return refusal(op, fmt.Errorf("instance %v: %w", r.Instance.ID, err))
		}
	}
	for _, r := range t.VMMs {
		if err := r.VMM.Validate(); err != nil {
			return refusal(op, fmt.Errorf("VMM %v: %w", r.VMM.ID, err))
		}
	}
	for _, r := range t.Migrations {
		if err := r.Migration.Validate(); err != nil {
			return refusal(op, fmt.Errorf("migration %v: %w", r.Migration.ID, err))
		}
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	for _, r := range t.Instances {
		m.instances[r.Instance.ID] = &r
	}
	for _, r := range t.VMMs {
		m.vmms[r.VMM.ID] = &r
	}
	for _, r := range t.Migrations {
		m.migrations[r.Migration.ID] = &r
	}
	return nil
}

// Tables returns a copy of every row of m, each table sorted by id.
func (m *Memory) Tables(ctx context.Context) (Tables, error) {
	if err := m.lock(ctx); err != nil {
		return Tables{}, err
	}
	defer m.mu.Unlock()
	t := Tables{
		Instances:  make([]InstanceRow, 0, len(m.instances)),
		VMMs:       make([]VMMRow, 0, len(m.vmms)),
		Migrations: make([]MigrationRow, 0, len(m.migrations)),
	}
	for _, r := range m.instances {
		t.Instances = append(t.Instances, *r)
	}
	for _, r := range m.vmms {
		t.VMMs = append(t.VMMs, *r)
	}
	for _, r := range m.migrations {
		t.Migrations = append(t.Migrations, *r)
	}
	byID(t.Instances, func(r InstanceRow) uuid.UUID { return r.Instance.ID.UUID() })
	byID(t.VMMs, func(r VMMRow) uuid.UUID { return r.VMM.ID.UUID() })
	byID(t.Migrations, func(r MigrationRow) uuid.UUID { return r.Migration.ID.UUID() })
	return t, nil
}

// byID sorts rows by their ids' bytes, the order of a UUID column.
func byID[R any](rows []R, id func(R) uuid.UUID) {
	slices.SortFunc(rows, func(a, b R) int {
		ua, ub := id(a), id(b)
		return bytes.Compare(ua[:], ub[:])
	})
}

package pgstore

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The columns of each table, in the order scan and values use them.
const (
	instanceColumns = `id, time_deleted, state, time_state_updated, state_generation,
		active_propolis_id, target_propolis_id, migration_id, updater_id, updater_gen,
		intended_state, auto_restart_policy, auto_restart_cooldown, time_last_auto_restarted,
		start_failure_cause, start_failure_transient, start_failure_reason, time_start_failed,
		vmm_lost_cause, time_vmm_lost, restart_failures`
	vmmColumns = `id, time_deleted, instance_id, sled_id, time_state_updated, state_generation,
		state, failure_reason`
	migrationColumns = `id, instance_id, time_created, time_deleted,
		source_state, source_propolis_id, source_gen, time_source_updated,
		target_state, target_propolis_id, target_gen, time_target_updated`
)

// A column value a stored row cannot have is reported as this error: the
// table, the row, the column and what it held. The CHECK constraints keep
// such rows out; meeting one means the table was written around vmlife.
type columnError struct {
	table, column string
	err           error
}

func (e *columnError) Error() string {
	return fmt.Sprintf("pgstore: table %s, column %s: %v", e.table, e.column, e.err)
}

func (e *columnError) Unwrap() error { return e.err }

// uuidOf is a UUID parameter: NULL for the nil id.
func uuidOf(u [16]byte) pgtype.UUID { return pgtype.UUID{Bytes: u, Valid: u != [16]byte{}} }

// timeOf is a TIMESTAMPTZ parameter: NULL for the zero time.
func timeOf(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()} }

// timeFrom reads a TIMESTAMPTZ: the zero time for NULL, else UTC.
func timeFrom(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// textOf is an enum parameter: NULL where the value is unset.
func textOf(s fmt.Stringer, set bool) pgtype.Text {
	if !set {
		return pgtype.Text{}
	}
	return pgtype.Text{String: s.String(), Valid: true}
}

// enumFrom reads a nullable enum column with the library's own parser.
func enumFrom[E any](table, column string, t pgtype.Text, parse func(string) (E, error)) (E, error) {
	var zero E
	if !t.Valid {
		return zero, nil
	}
	e, err := parse(t.String)
	if err != nil {
		return zero, &columnError{table, column, err}
	}
	return e, nil
}

func genFrom(table, column string, n int64) (generation.Generation, error) {
	g, err := generation.FromInt64(n)
	if err != nil {
		return generation.Generation{}, &columnError{table, column, err}
	}
	return g, nil
}

// intervalOf is the cooldown parameter: NULL when not configured.
func intervalOf(d time.Duration) pgtype.Interval {
	return pgtype.Interval{Microseconds: d.Microseconds(), Valid: d != 0}
}

func durationFrom(iv pgtype.Interval) (time.Duration, error) {
	switch {
	case !iv.Valid:
		return 0, nil
	case iv.Months != 0:
		return 0, &columnError{"instance", "auto_restart_cooldown", fmt.Errorf("%d months: a cooldown is days and microseconds", iv.Months)}
	}
	return time.Duration(iv.Days)*24*time.Hour + time.Duration(iv.Microseconds)*time.Microsecond, nil
}

// instanceValues are the parameters of a whole instance row, in
// instanceColumns order.
func instanceValues(r datastore.InstanceRow) []any {
	in, rt := r.Instance, r.Instance.Runtime
	sf, lost := in.StartFailure, in.VMMLost
	var transient pgtype.Bool
	if in.HasStartFailure() {
		transient = pgtype.Bool{Bool: sf.Transient, Valid: true}
	}
	return []any{
		uuidOf(in.ID.UUID()), timeOf(r.TimeDeleted), rt.State.String(), timeOf(rt.TimeUpdated), rt.Generation.Int64(),
		uuidOf(rt.ActiveVMM.UUID()), uuidOf(rt.TargetVMM.UUID()), uuidOf(rt.MigrationID.UUID()), uuidOf(in.UpdaterID.UUID()), in.UpdaterGen.Int64(),
		in.IntendedState.String(), textOf(in.AutoRestart.Policy, in.AutoRestart.Policy != 0), intervalOf(in.AutoRestart.Cooldown), timeOf(rt.TimeLastAutoRestarted),
		textOf(sf.Cause, in.HasStartFailure()), transient, textOf(sf.Reason, in.HasStartFailure()), timeOf(sf.Time),
		textOf(lost.Cause, lost.IsSet()), timeOf(lost.Time), int64(in.RestartFailures),
	}
}

// scanInstance reads one row of instanceColumns.
func scanInstance(row pgx.Row) (datastore.InstanceRow, error) {
	var in instanceScan
	if err := row.Scan(in.dest()...); err != nil {
		return datastore.InstanceRow{}, err
	}
	return in.row()
}

// instanceScan holds one row of instanceColumns as scanned.
type instanceScan struct {
	id, active, target, mig, updater                   pgtype.UUID
	deleted, updated, lastRestart, startFailed, lostAt pgtype.Timestamptz
	state, intent                                      string
	policy, sfCause, sfReason, lostCause               pgtype.Text
	gen, updaterGen, restartFailures                   int64
	cooldown                                           pgtype.Interval
	transient                                          pgtype.Bool
}

// dest is the scan destinations, in instanceColumns order.
func (c *instanceScan) dest() []any {
	return []any{&c.id, &c.deleted, &c.state, &c.updated, &c.gen,
		&c.active, &c.target, &c.mig, &c.updater, &c.updaterGen,
		&c.intent, &c.policy, &c.cooldown, &c.lastRestart,
		&c.sfCause, &c.transient, &c.sfReason, &c.startFailed,
		&c.lostCause, &c.lostAt, &c.restartFailures}
}

// row reads the scanned columns strictly.
func (c *instanceScan) row() (datastore.InstanceRow, error) {
	var in instancestate.Instance
	var err error
	in.ID = vmmstate.InstanceIDFromUUID(c.id.Bytes)
	if in.Runtime.State, err = instancestate.ParseNexusState(c.state); err != nil {
		return datastore.InstanceRow{}, &columnError{"instance", "state", err}
	}
	if in.Runtime.Generation, err = genFrom("instance", "state_generation", c.gen); err != nil {
		return datastore.InstanceRow{}, err
	}
	in.Runtime.TimeUpdated = timeFrom(c.updated)
	in.Runtime.ActiveVMM = idFrom(c.active, vmmstate.IDFromUUID)
	in.Runtime.TargetVMM = idFrom(c.target, vmmstate.IDFromUUID)
	in.Runtime.MigrationID = idFrom(c.mig, migration.IDFromUUID)
	in.Runtime.TimeLastAutoRestarted = timeFrom(c.lastRestart)
	in.UpdaterID = idFrom(c.updater, instancestate.UpdaterIDFromUUID)
	if in.UpdaterGen, err = genFrom("instance", "updater_gen", c.updaterGen); err != nil {
		return datastore.InstanceRow{}, err
	}
	if in.IntendedState, err = instancestate.ParseIntendedState(c.intent); err != nil {
		return datastore.InstanceRow{}, &columnError{"instance", "intended_state", err}
	}
	if in.AutoRestart.Policy, err = enumFrom("instance", "auto_restart_policy", c.policy, instancestate.ParseAutoRestartPolicy); err != nil {
		return datastore.InstanceRow{}, err
	}
	if in.AutoRestart.Cooldown, err = durationFrom(c.cooldown); err != nil {
		return datastore.InstanceRow{}, err
	}
	if c.sfCause.Valid {
		sf := failure.StartFailure{Transient: c.transient.Bool, Time: timeFrom(c.startFailed)}
		if sf.Cause, err = enumFrom("instance", "start_failure_cause", c.sfCause, failure.ParseCause); err != nil {
			return datastore.InstanceRow{}, err
		}
		if sf.Reason, err = enumFrom("instance", "start_failure_reason", c.sfReason, failure.ParseStartReason); err != nil {
			return datastore.InstanceRow{}, err
		}
		in.StartFailure = sf
	}
	if in.VMMLost.Cause, err = enumFrom("instance", "vmm_lost_cause", c.lostCause, instancestate.ParseLostCause); err != nil {
		return datastore.InstanceRow{}, err
	}
	in.VMMLost.Time = timeFrom(c.lostAt)
	if c.restartFailures < 0 || c.restartFailures > instancestate.MaxRestartFailures {
		return datastore.InstanceRow{}, &columnError{"instance", "restart_failures", fmt.Errorf("%d is out of range 0..%d", c.restartFailures, instancestate.MaxRestartFailures)}
	}
	in.RestartFailures = int(c.restartFailures) // D33
	return datastore.InstanceRow{Instance: in, TimeDeleted: timeFrom(c.deleted)}, nil
}

// idFrom reads a nullable UUID column as a typed id: the nil id for NULL.
func idFrom[ID any](u pgtype.UUID, from func(uuid.UUID) ID) ID {
	if !u.Valid {
		var zero ID
		return zero
	}
	return from(u.Bytes)
}

// vmmValues are the parameters of a whole VMM row, in vmmColumns order.
func vmmValues(r datastore.VMMRow) []any {
	v := r.VMM
	row := v.Runtime.Row()
	return []any{
		uuidOf(v.ID.UUID()), timeOf(r.TimeDeleted), uuidOf(v.InstanceID.UUID()), uuidOf(v.SledID.UUID()),
		timeOf(row.TimeStateUpdated), row.StateGeneration.Int64(),
		row.State.String(), textOf(row.FailureReason.V, row.FailureReason.Valid),
	}
}

// scanVMM reads one row of vmmColumns.
func scanVMM(row pgx.Row) (datastore.VMMRow, error) {
	var v vmmScan
	if err := row.Scan(v.dest()...); err != nil {
		return datastore.VMMRow{}, err
	}
	return v.row()
}

// vmmScan holds one row of vmmColumns as scanned.
type vmmScan struct {
	id, instance, sled pgtype.UUID
	deleted, updated   pgtype.Timestamptz
	gen                int64
	state              string
	reason             pgtype.Text
}

// dest is the scan destinations, in vmmColumns order.
func (v *vmmScan) dest() []any {
	return []any{&v.id, &v.deleted, &v.instance, &v.sled, &v.updated, &v.gen, &v.state, &v.reason}
}

// row reads the scanned columns strictly (D8).
func (v *vmmScan) row() (datastore.VMMRow, error) {
	var r vmmstate.Row
	var err error
	if r.State, err = vmmstate.ParseKind(v.state); err != nil {
		return datastore.VMMRow{}, &columnError{"vmm", "state", err}
	}
	if r.FailureReason.V, err = enumFrom("vmm", "failure_reason", v.reason, failure.ParseReason); err != nil {
		return datastore.VMMRow{}, err
	}
	r.FailureReason.Valid = v.reason.Valid
	if r.StateGeneration, err = genFrom("vmm", "state_generation", v.gen); err != nil {
		return datastore.VMMRow{}, err
	}
	r.TimeStateUpdated = timeFrom(v.updated)
	rt, err := r.Runtime()
	if err != nil {
		return datastore.VMMRow{}, &columnError{"vmm", "state", err}
	}
	return datastore.VMMRow{
		VMM: vmmstate.VMM{
			ID:         vmmstate.IDFromUUID(v.id.Bytes),
			InstanceID: vmmstate.InstanceIDFromUUID(v.instance.Bytes),
			SledID:     vmmstate.SledIDFromUUID(v.sled.Bytes),
			Runtime:    rt,
		},
		TimeDeleted: timeFrom(v.deleted),
	}, nil
}

// migrationValues are the parameters of a whole migration row, in
// migrationColumns order.
func migrationValues(r datastore.MigrationRow) []any {
	m := r.Migration
	return []any{
		uuidOf(m.ID.UUID()), uuidOf(m.InstanceID.UUID()), timeOf(m.TimeCreated), timeOf(r.TimeDeleted),
		m.Source.State.String(), uuidOf(m.Source.VMM.UUID()), m.Source.Generation.Int64(), timeOf(m.Source.TimeUpdated),
		m.Target.State.String(), uuidOf(m.Target.VMM.UUID()), m.Target.Generation.Int64(), timeOf(m.Target.TimeUpdated),
	}
}

// scanMigration reads one row of migrationColumns.
func scanMigration(row pgx.Row) (datastore.MigrationRow, error) {
	var (
		id, instance, srcVMM, dstVMM             pgtype.UUID
		created, deleted, srcUpdated, dstUpdated pgtype.Timestamptz
		srcState, dstState                       string
		srcGen, dstGen                           int64
	)
	if err := row.Scan(&id, &instance, &created, &deleted,
		&srcState, &srcVMM, &srcGen, &srcUpdated,
		&dstState, &dstVMM, &dstGen, &dstUpdated); err != nil {
		return datastore.MigrationRow{}, err
	}
	side := func(role string, state string, vmm pgtype.UUID, gen int64, updated pgtype.Timestamptz) (migration.Side, error) {
		st, err := migration.ParseState(state)
		if err != nil {
			return migration.Side{}, &columnError{"migration", role + "_state", err}
		}
		g, err := genFrom("migration", role+"_gen", gen)
		if err != nil {
			return migration.Side{}, err
		}
		return migration.Side{VMM: vmmstate.IDFromUUID(vmm.Bytes), State: st, Generation: g, TimeUpdated: timeFrom(updated)}, nil
	}
	src, err := side("source", srcState, srcVMM, srcGen, srcUpdated)
	if err != nil {
		return datastore.MigrationRow{}, err
	}
	dst, err := side("target", dstState, dstVMM, dstGen, dstUpdated)
	if err != nil {
		return datastore.MigrationRow{}, err
	}
	return datastore.MigrationRow{
		Migration: migration.Record{
			ID:          migration.IDFromUUID(id.Bytes),
			InstanceID:  vmmstate.InstanceIDFromUUID(instance.Bytes),
			Source:      src,
			Target:      dst,
			TimeCreated: timeFrom(created),
		},
		TimeDeleted: timeFrom(deleted),
	}, nil
}

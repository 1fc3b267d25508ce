-- vmlife schema version 1: the three tables of an instance's lifecycle.
--
-- Types, tables and columns follow Omicron's (docs/pgstore.md lists where
-- they differ and why). Every row rule vmlife keeps (D17, D21) is also a
-- CHECK here, so a row the library would refuse cannot be stored by any
-- writer. Only the subset of SQL CockroachDB also runs is used: INT8, UUID,
-- TIMESTAMPTZ, INTERVAL, enum types, partial indexes; no extension.

CREATE TYPE vmm_state AS ENUM (
    'creating', 'starting', 'running', 'stopping', 'stopped',
    'rebooting', 'migrating', 'failed', 'destroyed', 'saga_unwound'
);

-- vmlife's addition: why a failed VMM failed (D4).
CREATE TYPE vmm_failure_reason AS ENUM (
    'prehistoric', 'from_sled_agent', 'no_such_instance', 'sled_expunged', 'sled_off'
);

CREATE TYPE instance_state_v2 AS ENUM (
    'creating', 'no_vmm', 'vmm', 'failed', 'destroyed'
);

CREATE TYPE instance_intended_state AS ENUM (
    'running', 'stopped', 'guest_shutdown', 'destroyed'
);

CREATE TYPE instance_auto_restart AS ENUM ('never', 'best_effort');

CREATE TYPE migration_state AS ENUM ('pending', 'in_progress', 'failed', 'completed');

-- vmlife's additions: why the last start failed (D13) and why the update
-- plan left an instance meant to run without a VMM (D22).
CREATE TYPE instance_start_failure_cause AS ENUM (
    'insufficient_capacity', 'affinity_unsatisfiable', 'anti_affinity_unsatisfiable',
    'local_storage_unavailable', 'sled_agent_error', 'vmm_gone', 'internal'
);
CREATE TYPE instance_start_reason AS ENUM ('user', 'auto_start', 'auto_restart');
CREATE TYPE instance_vmm_lost_cause AS ENUM ('start_unwound', 'mid_migration');

CREATE TABLE instance (
    id                       UUID PRIMARY KEY,
    time_deleted             TIMESTAMPTZ,
    state                    instance_state_v2 NOT NULL,
    time_state_updated       TIMESTAMPTZ NOT NULL,
    state_generation         INT8 NOT NULL,
    active_propolis_id       UUID,
    target_propolis_id       UUID,
    migration_id             UUID,
    updater_id               UUID,
    updater_gen              INT8 NOT NULL,
    intended_state           instance_intended_state NOT NULL,
    auto_restart_policy      instance_auto_restart,
    auto_restart_cooldown    INTERVAL,
    time_last_auto_restarted TIMESTAMPTZ,
    start_failure_cause      instance_start_failure_cause,
    start_failure_transient  BOOL,
    start_failure_reason     instance_start_reason,
    time_start_failed        TIMESTAMPTZ,
    vmm_lost_cause           instance_vmm_lost_cause,
    time_vmm_lost            TIMESTAMPTZ,

    -- §5.2: state vmm exactly when there is an active VMM.
    CONSTRAINT vmm_iff_active_propolis CHECK ((state = 'vmm') = (active_propolis_id IS NOT NULL)),
    -- D17: a migration target only with its migration.
    CONSTRAINT target_needs_migration CHECK (target_propolis_id IS NULL OR migration_id IS NOT NULL),
    -- D21: Omicron writes a migration id beside no VMM, never while creating.
    CONSTRAINT no_migration_while_creating CHECK (migration_id IS NULL OR state <> 'creating'),
    CONSTRAINT generations_not_negative CHECK (state_generation >= 0 AND updater_gen >= 0),
    CONSTRAINT cooldown_positive CHECK (auto_restart_cooldown IS NULL OR auto_restart_cooldown > INTERVAL '0'),
    -- D13: a start failure is whole or absent.
    CONSTRAINT start_failure_whole CHECK (
        (start_failure_cause IS NULL) = (start_failure_reason IS NULL)
        AND (start_failure_cause IS NULL) = (start_failure_transient IS NULL)
        AND (start_failure_cause IS NULL) = (time_start_failed IS NULL)),
    CONSTRAINT vmm_lost_has_cause CHECK (time_vmm_lost IS NULL OR vmm_lost_cause IS NOT NULL)
);

-- The fleet queries read live instances only (§8.1).
CREATE INDEX instance_live ON instance (id) WHERE time_deleted IS NULL;

CREATE TABLE vmm (
    id                 UUID PRIMARY KEY,
    time_deleted       TIMESTAMPTZ,
    instance_id        UUID NOT NULL,
    sled_id            UUID NOT NULL,
    time_state_updated TIMESTAMPTZ NOT NULL,
    state_generation   INT8 NOT NULL,
    state              vmm_state NOT NULL,
    failure_reason     vmm_failure_reason,

    -- D4: a failed VMM says why, and no other VMM has a reason.
    CONSTRAINT failure_reason_iff_failed CHECK ((state = 'failed') = (failure_reason IS NOT NULL)),
    CONSTRAINT generation_not_negative CHECK (state_generation >= 0)
);

-- §8.1 vmm_list_by_sled.
CREATE INDEX vmm_by_sled ON vmm (sled_id, id) WHERE time_deleted IS NULL;

CREATE TABLE migration (
    id                  UUID PRIMARY KEY,
    instance_id         UUID NOT NULL,
    time_created        TIMESTAMPTZ NOT NULL,
    time_deleted        TIMESTAMPTZ,
    source_state        migration_state NOT NULL,
    source_propolis_id  UUID NOT NULL,
    source_gen          INT8 NOT NULL,
    time_source_updated TIMESTAMPTZ,
    target_state        migration_state NOT NULL,
    target_propolis_id  UUID NOT NULL,
    target_gen          INT8 NOT NULL,
    time_target_updated TIMESTAMPTZ,

    -- §5.4: a VMM does not migrate to itself.
    CONSTRAINT source_is_not_target CHECK (source_propolis_id <> target_propolis_id),
    CONSTRAINT generations_not_negative CHECK (source_gen >= 0 AND target_gen >= 0)
);

-- §21.3 migration query by instance.
CREATE INDEX migration_by_instance ON migration (instance_id, id) WHERE time_deleted IS NULL;

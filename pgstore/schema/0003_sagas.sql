-- vmlife schema version 3: the durable saga log (D26, D27).
--
-- Omicron's saga and saga_node_event tables, with its names, columns and
-- enum values, and vmlife's additions as their own columns: the executor
-- version that created a saga, how often it was recovered, why it was
-- abandoned, and the order its events were written in. A third table
-- holds the executors' leases (D27). Every row rule the library keeps is
-- also a CHECK. Portable to CockroachDB as the tables before: INT8, UUID,
-- TIMESTAMPTZ, TEXT, BYTEA, enum types, partial indexes; no serial column.

CREATE TYPE saga_state AS ENUM ('running', 'unwinding', 'done', 'abandoned');

-- Omicron abandons a saga 'unrecoverable' or 'orphaned' (and by an
-- operator, 'omdb'); vmlife's executor also gives up on a saga recovered
-- too many times.
CREATE TYPE saga_abandon_reason AS ENUM ('unrecoverable', 'orphaned', 'too_many_attempts');

-- Omicron keeps event_type as STRING(31) with this enum commented out
-- beside it; vmlife uses the enum.
CREATE TYPE saga_node_event_type AS ENUM (
    'started', 'succeeded', 'failed', 'undo_started', 'undo_finished', 'undo_failed'
);

CREATE TABLE saga (
    id                UUID PRIMARY KEY,
    creator           UUID NOT NULL,
    time_created      TIMESTAMPTZ NOT NULL,
    name              VARCHAR(128) NOT NULL,
    -- The saga's parameters in the executor's encoding (JSON), kept byte
    -- for byte: a retried create compares them.
    saga_dag          TEXT NOT NULL,
    saga_state        saga_state NOT NULL,
    current_sec       UUID NOT NULL,
    adopt_generation  INT8 NOT NULL,
    adopt_time        TIMESTAMPTZ NOT NULL,
    abandon_time      TIMESTAMPTZ,
    abandon_reason    saga_abandon_reason,
    abandon_comment   TEXT,
    -- vmlife's additions.
    version           INT8 NOT NULL,
    recovery_attempts INT8 NOT NULL DEFAULT 0,

    CONSTRAINT saga_has_name CHECK (name <> ''),
    CONSTRAINT adopt_generation_positive CHECK (adopt_generation >= 1),
    CONSTRAINT recovery_attempts_not_negative CHECK (recovery_attempts >= 0),
    -- Abandoned exactly when why and when are recorded (never silently).
    CONSTRAINT abandon_iff_abandoned CHECK (
        (saga_state = 'abandoned') = (abandon_reason IS NOT NULL)
        AND (saga_state = 'abandoned') = (abandon_time IS NOT NULL)
        AND (saga_state = 'abandoned') = (abandon_comment IS NOT NULL))
);

-- Omicron's: an executor's unfinished sagas, by id.
CREATE UNIQUE INDEX lookup_saga_by_sec ON saga (current_sec, id) WHERE saga_state != 'done';

CREATE TABLE saga_node_event (
    saga_id    UUID NOT NULL,
    -- The node's name: vmlife names a saga's steps (Omicron numbers them).
    node_id    TEXT NOT NULL,
    event_type saga_node_event_type NOT NULL,
    -- An action's output or an error, in the executor's encoding, kept
    -- byte for byte.
    data       BYTEA,
    event_time TIMESTAMPTZ NOT NULL,
    creator    UUID NOT NULL,
    -- vmlife's addition: the order the saga's events were written in,
    -- from 1, the saga's largest plus one (gaps allowed), computed by the
    -- insert itself while the saga's row is locked.
    seq        INT8 NOT NULL,

    PRIMARY KEY (saga_id, node_id, event_type),
    CONSTRAINT event_has_node CHECK (node_id <> ''),
    CONSTRAINT seq_positive CHECK (seq >= 1)
);

-- A saga's log in the order written; unique, so that two writers can never
-- give one place to two events.
CREATE UNIQUE INDEX saga_node_event_by_seq ON saga_node_event (saga_id, seq);

-- vmlife's: each executor's lease (D27). An executor with no row holds no
-- lease, and its sagas may be adopted.
CREATE TABLE saga_sec_lease (
    sec_id  UUID PRIMARY KEY,
    expires TIMESTAMPTZ NOT NULL
);

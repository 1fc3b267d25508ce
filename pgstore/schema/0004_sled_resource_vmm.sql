-- vmlife schema version 4: sled reservations are records.
--
-- Omicron's sled_resource_vmm: the room one VMM holds on a sled, keyed by
-- the VMM's id, inserted by the start and migrate sagas before the VMM
-- itself and released by their undo or with the VMM. vmlife counts room in
-- VMMs, so Omicron's hardware_threads, rss_ram and reservoir_ram are left
-- out; instance_id, nullable in Omicron for rows older than the column, is
-- NOT NULL here; time_created is vmlife's addition. No foreign key to vmm:
-- a reservation is made before its VMM, and one whose VMM is absent or
-- deleted is what the leaked list finds. Portable as the tables before.

CREATE TABLE sled_resource_vmm (
    id           UUID PRIMARY KEY,
    sled_id      UUID NOT NULL,
    instance_id  UUID NOT NULL,
    time_created TIMESTAMPTZ NOT NULL
);

-- Omicron's: the reservations on a sled, by VMM id.
CREATE UNIQUE INDEX lookup_vmm_resource_by_sled ON sled_resource_vmm (sled_id, id);

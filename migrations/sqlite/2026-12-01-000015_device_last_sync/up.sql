-- When each device last synced (ms since the epoch; no row: never), kept to
-- the minute: a sync writes it only when the stored time is a minute old,
-- so a phone syncing every few seconds costs no write each time.
--
-- A table of its own with no foreign key, not a column of `devices`: on
-- Citus, `devices` is a coordinator table tied by foreign keys to the
-- reference table `org_nodes`, and writing it locks that reference table on
-- every node. Written on every sync, that lock deadlocked with a worker
-- leaving the cluster (citus_remove_node). This table stays an ordinary
-- table on the coordinator, outside Citus's metadata.
CREATE TABLE device_syncs (
    device_id TEXT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL
);

-- When each device last synced (ms since the epoch; null: never), kept to
-- the minute: a sync writes it only when the stored time is a minute old,
-- so a phone syncing every few seconds costs no write each time. `devices`
-- is an accounts table (on Citus: kept on the coordinator).
ALTER TABLE devices ADD COLUMN last_sync_at BIGINT;

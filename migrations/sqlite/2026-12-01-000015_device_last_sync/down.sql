ALTER TABLE devices DROP COLUMN last_sync_at;

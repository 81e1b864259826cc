-- Case handling: when the case reached its level (deadlines count from
-- there), whether it is overdue, and a flag for a status move outside its flow.
ALTER TABLE records ADD COLUMN level_since BIGINT NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN overdue BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE records ADD COLUMN flag TEXT;
UPDATE records SET level_since = created_at;
CREATE INDEX records_open_deadline ON records (deadline, level) WHERE closed_at IS NULL AND deleted = FALSE;
CREATE INDEX records_grid_level ON records (grid, level);

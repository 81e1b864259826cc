-- Reports (docs/REPORTS.md). Patrol rounds keep, at merge time, how many
-- checkpoints were planned, how many of those were visited, how many
-- check-ins there were, and when the round was due to start (its day).
-- Existing rounds fill these at their next change.
ALTER TABLE records ADD COLUMN planned INTEGER;
ALTER TABLE records ADD COLUMN visited INTEGER;
ALTER TABLE records ADD COLUMN checkins INTEGER;
ALTER TABLE records ADD COLUMN starts_at BIGINT;
-- The summary reads only this index (no table rows): one pass in grid order.
CREATE INDEX records_report ON records (grid, collection, level, status, category, deleted, created_at, closed_at, deadline, level_since, conflicts);
CREATE INDEX records_rounds ON records (starts_at, grid) WHERE starts_at IS NOT NULL;
-- Activity: the changes received in a period.
CREATE INDEX changes_received ON changes (received_at);

-- Patrol rounds: distinct checkpoints checked in at that were not in the
-- round's plan (docs/REPORTS.md). Filled at each round's next change.
ALTER TABLE records ADD COLUMN unplanned INTEGER;

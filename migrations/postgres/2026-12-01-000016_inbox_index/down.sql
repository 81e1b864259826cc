DROP INDEX records_assignee;
CREATE INDEX records_assignee ON records (assignee) WHERE assignee IS NOT NULL;
DROP INDEX records_grid_conflicts;
CREATE INDEX records_grid_conflicts ON records (grid) WHERE conflicts > 0;
DROP INDEX records_inbox;
CREATE INDEX records_open_deadline ON records (deadline, level) WHERE closed_at IS NULL AND deleted = FALSE;

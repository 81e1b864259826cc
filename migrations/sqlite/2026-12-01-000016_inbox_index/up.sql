-- The inbox that every pull answers reads the open cases of the person's
-- grids at their level, by deadline (overdue, due soon, escalated), the
-- open cases assigned to them, and the records of their grids with
-- conflicts, each of some collections. Before this migration the planner
-- walked every record of the grid in `id` order, or every record of a
-- collection in the district (a mediator's disputes assigned to them).
--
-- `records_open_deadline (deadline, level)` had the same condition and
-- leading column as `records_open_due`, which serves what it served. It is
-- dropped: one index fewer to keep on every record write.
--
-- The queries write these conditions out as literals (`deleted = FALSE`,
-- `conflicts > 0`), not as bound parameters: SQLite uses a partial index
-- only when the query's condition matches the index's text.
DROP INDEX records_open_deadline;
CREATE INDEX records_inbox ON records (grid, collection, level, deadline) WHERE closed_at IS NULL AND deleted = FALSE;
DROP INDEX records_grid_conflicts;
CREATE INDEX records_grid_conflicts ON records (grid, collection) WHERE conflicts > 0;
DROP INDEX records_assignee;
CREATE INDEX records_assignee ON records (assignee, collection) WHERE assignee IS NOT NULL;

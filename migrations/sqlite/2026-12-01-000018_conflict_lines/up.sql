-- Every pull answers the person's inbox, and its conflict list reads every
-- record in conflict in the person's grids, sorted by deadline, for the
-- first 51. With only (grid, collection) in the index, each of them was
-- read from the table to be sorted (a district after a wave of concurrent
-- edits: 500 records, half a millisecond a pull). The columns it sorts by
-- and shows are now in the index, which holds only records in conflict.
DROP INDEX records_grid_conflicts;
CREATE INDEX records_grid_conflicts ON records (grid, collection, deleted, deadline, id, label, status, level, assignee) WHERE conflicts > 0;

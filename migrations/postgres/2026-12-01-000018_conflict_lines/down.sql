DROP INDEX records_grid_conflicts;
CREATE INDEX records_grid_conflicts ON records (grid, collection) WHERE conflicts > 0;

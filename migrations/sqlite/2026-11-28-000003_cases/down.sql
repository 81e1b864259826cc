DROP INDEX records_grid_level;
DROP INDEX records_open_deadline;
ALTER TABLE records DROP COLUMN flag;
ALTER TABLE records DROP COLUMN overdue;
ALTER TABLE records DROP COLUMN level_since;

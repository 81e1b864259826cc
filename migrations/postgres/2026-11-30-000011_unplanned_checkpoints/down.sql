ALTER TABLE records DROP COLUMN unplanned;

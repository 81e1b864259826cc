ALTER TABLE records DROP COLUMN level_deadline;
ALTER TABLE records DROP COLUMN statutory_deadline;

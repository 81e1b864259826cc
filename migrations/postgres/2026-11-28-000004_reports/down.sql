DROP INDEX changes_received;
DROP INDEX records_rounds;
DROP INDEX records_report;
ALTER TABLE records DROP COLUMN starts_at;
ALTER TABLE records DROP COLUMN checkins;
ALTER TABLE records DROP COLUMN visited;
ALTER TABLE records DROP COLUMN planned;

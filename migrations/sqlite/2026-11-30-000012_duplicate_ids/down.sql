DROP TABLE duplicate_decisions;
DROP INDEX records_id_key;
ALTER TABLE records DROP COLUMN id_key;

DROP INDEX records_open_due;
DROP INDEX records_escalated;
DROP INDEX records_closed;
DROP INDEX records_created;
DROP TABLE report_stock;
CREATE INDEX records_report ON records (grid, collection, level, status, category, deleted, created_at, closed_at, deadline, level_since, conflicts);

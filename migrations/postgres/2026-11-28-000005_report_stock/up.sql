-- Reports, second step (docs/REPORTS.md): the summary reads a kept stock
-- instead of counting a million rows (000004's one-pass index is dropped).
DROP INDEX records_report;

-- The stock of records (not deleted) per grid, collection, level, status,
-- category, open or not, overdue or not, conflicted or not, kept by every
-- merge and sweep: the summary reads it instead of counting a million rows.
-- A missing status or category is ''.
CREATE TABLE report_stock (
    grid TEXT NOT NULL,
    collection TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    open BOOLEAN NOT NULL,
    overdue BOOLEAN NOT NULL,
    conflicted BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (grid, collection, level, status, category, open, overdue, conflicted)
);
INSERT INTO report_stock
SELECT grid, collection, level, COALESCE(status, ''), COALESCE(category, ''),
       closed_at IS NULL, overdue, conflicts > 0, COUNT(*)
FROM records WHERE deleted = FALSE
GROUP BY grid, collection, level, COALESCE(status, ''), COALESCE(category, ''),
         closed_at IS NULL, overdue, conflicts > 0;

-- The flows of a period read narrow ranges of these (covering: no table rows).
CREATE INDEX records_created ON records (created_at, grid, collection, level, status, category, deleted);
CREATE INDEX records_closed ON records (closed_at, grid, collection, level, status, category, deleted) WHERE closed_at IS NOT NULL;
CREATE INDEX records_escalated ON records (level_since, grid, collection, level, status, category, created_at, deleted) WHERE level <> 'grid';
CREATE INDEX records_open_due ON records (deadline, grid, collection, level, status, category) WHERE closed_at IS NULL AND deleted = FALSE;

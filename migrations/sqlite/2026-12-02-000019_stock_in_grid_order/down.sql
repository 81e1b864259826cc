CREATE TABLE report_stock_by_rowid (
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
INSERT INTO report_stock_by_rowid
SELECT grid, collection, level, status, category, open, overdue, conflicted, n FROM report_stock;
DROP TABLE report_stock;
ALTER TABLE report_stock_by_rowid RENAME TO report_stock;

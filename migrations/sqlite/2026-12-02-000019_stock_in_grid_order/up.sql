-- The report stock, kept in its key's order (SQLite only; PostgreSQL keeps
-- it as it was). As a rowid table, a grid's stock rows lay wherever they
-- were first made, across the whole table, beside a separate index of the
-- key: a group commit that moved the stock of a few grids rewrote about
-- sixteen pages of it (PERFORMANCE.md, "Where the storm's pages go"). WITHOUT
-- ROWID, the rows are the key's b-tree: a grid's stock sits in a page or two.
CREATE TABLE report_stock_in_grid_order (
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
) WITHOUT ROWID;
INSERT INTO report_stock_in_grid_order
SELECT grid, collection, level, status, category, open, overdue, conflicted, n FROM report_stock;
DROP TABLE report_stock;
ALTER TABLE report_stock_in_grid_order RENAME TO report_stock;

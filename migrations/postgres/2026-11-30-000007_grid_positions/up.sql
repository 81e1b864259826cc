-- Positions per grid: every grid has its own log sequence, so batches for
-- different grids never wait for one another's number. A change's `seq` is
-- its place in its grid's log; `grid_heads` holds the newest per grid,
-- written in the same transaction as the changes. A record's `last_seq` is
-- likewise a position in its grid's log. Existing sequence numbers stay as
-- they are (each grid's were already increasing).
CREATE TABLE grid_heads (
    grid TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL
);
INSERT INTO grid_heads (grid, seq) SELECT grid, MAX(seq) FROM changes GROUP BY grid;

ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD PRIMARY KEY (grid, seq);
DROP INDEX changes_grid_seq;

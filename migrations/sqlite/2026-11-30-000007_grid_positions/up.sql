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

CREATE TABLE changes_by_grid (
    seq BIGINT NOT NULL,
    record_id TEXT NOT NULL,
    grid TEXT NOT NULL,
    actor BIGINT NOT NULL,
    actor_seq BIGINT NOT NULL,
    batch_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    collection TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (grid, seq)
);
INSERT INTO changes_by_grid (seq, record_id, grid, actor, actor_seq, batch_id, received_at, body, collection)
    SELECT seq, record_id, grid, actor, actor_seq, batch_id, received_at, body, collection FROM changes;
DROP TABLE changes;
ALTER TABLE changes_by_grid RENAME TO changes;
CREATE UNIQUE INDEX changes_actor_seq ON changes (actor, actor_seq);
CREATE INDEX changes_record_seq ON changes (record_id, seq);
CREATE INDEX changes_received ON changes (received_at);

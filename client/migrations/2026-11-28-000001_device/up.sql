-- The device's durable state: one row, written in the same transaction as
-- the outbox and records it describes.
CREATE TABLE device (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    server TEXT NOT NULL,
    username TEXT NOT NULL,
    device_id TEXT NOT NULL,
    actor BIGINT NOT NULL,
    -- The next sequence number: never reused, so never lowered.
    next_seq BIGINT NOT NULL,
    -- The server sequence pulled up to.
    cursor BIGINT NOT NULL DEFAULT 0,
    -- JSON of the resume token while a transfer of states is under way.
    resume TEXT,
    -- JSON array of the grids pulled; NULL: every grid of the user's node.
    grids TEXT,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    last_sync_at BIGINT
);

-- Merged record states in the core's stored form.
CREATE TABLE records (
    id TEXT PRIMARY KEY NOT NULL,
    collection TEXT NOT NULL,
    grid TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX records_grid ON records (grid, collection);

-- Changes made here and not yet acknowledged by the server, by sequence.
CREATE TABLE outbox (
    seq BIGINT PRIMARY KEY NOT NULL,
    record TEXT NOT NULL,
    change TEXT NOT NULL,
    made_at BIGINT NOT NULL
);

-- Changes the server refused, kept with its reason for the user to see.
CREATE TABLE refused (
    seq BIGINT PRIMARY KEY NOT NULL,
    record TEXT NOT NULL,
    change TEXT NOT NULL,
    code TEXT NOT NULL,
    field TEXT,
    message TEXT NOT NULL,
    refused_at BIGINT NOT NULL
);

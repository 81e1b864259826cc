-- The central store. Records keep their CRDT state (the stored form of
-- gridsync-core) plus plain columns derived from it at merge time, so that
-- lists and reports are queries over indexes. Times are Unix milliseconds.

CREATE TABLE records (
    id TEXT PRIMARY KEY NOT NULL,
    collection TEXT NOT NULL,
    grid TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT,
    level TEXT NOT NULL DEFAULT 'grid',
    category TEXT,
    assignee TEXT,
    deadline BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    conflicts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    last_seq BIGINT NOT NULL
);
CREATE INDEX records_grid_last_seq ON records (grid, last_seq);
CREATE INDEX records_grid_collection_status ON records (grid, collection, status);
CREATE INDEX records_collection_status_level ON records (collection, status, level);
CREATE INDEX records_grid_conflicts ON records (grid) WHERE conflicts > 0;
CREATE INDEX records_deadline ON records (deadline) WHERE deadline IS NOT NULL;

-- Every merged change. seq is the server sequence: the sync cursor. It is
-- assigned by the server in commit order (writers are serialized), never reused.
CREATE TABLE changes (
    seq BIGINT PRIMARY KEY NOT NULL,
    record_id TEXT NOT NULL,
    grid TEXT NOT NULL,
    actor BIGINT NOT NULL,
    actor_seq BIGINT NOT NULL,
    batch_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX changes_actor_seq ON changes (actor, actor_seq);
CREATE INDEX changes_grid_seq ON changes (grid, seq);
CREATE INDEX changes_record_seq ON changes (record_id, seq);

-- The highest sequence number applied per actor.
CREATE TABLE actors (
    actor BIGINT PRIMARY KEY NOT NULL,
    max_seq BIGINT NOT NULL,
    last_sync_at BIGINT NOT NULL
);

-- Changes that were refused, with the reason: nothing a device sent is lost.
CREATE TABLE quarantine (
    id BIGINT PRIMARY KEY NOT NULL,
    actor BIGINT,
    actor_seq BIGINT,
    record_id TEXT,
    grid TEXT,
    batch_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX quarantine_grid ON quarantine (grid, id);
CREATE INDEX quarantine_actor ON quarantine (actor, actor_seq);

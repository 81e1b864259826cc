-- Every grid-scoped table is keyed by its grid first, as on PostgreSQL and
-- Citus (where the grid is the distribution column), so every backend
-- answers alike:
--   records       (grid, id)        a record lives in one grid for good
--   changes       (grid, seq), unique (grid, actor, actor_seq)
--   actor_heads   (grid, actor)     an actor's newest sequence in a grid
--   quarantine    grid '' when the refused change named no grid
--   attachment_refs (grid, sha256, record_id)
-- `actors` goes: a context names only dots of the record it changes, and so
-- of its grid, and the heads per grid bound it (PROTOCOL.md, "Bounds").
CREATE TABLE records_by_grid (
    id TEXT NOT NULL,
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
    last_seq BIGINT NOT NULL,
    level_since BIGINT NOT NULL DEFAULT 0,
    overdue BOOLEAN NOT NULL DEFAULT FALSE,
    flag TEXT,
    planned INTEGER,
    visited INTEGER,
    checkins INTEGER,
    starts_at BIGINT,
    PRIMARY KEY (grid, id)
);
INSERT INTO records_by_grid (id, collection, grid, state, status, level, category, assignee,
    deadline, deleted, conflicts, created_at, updated_at, closed_at, last_seq, level_since,
    overdue, flag, planned, visited, checkins, starts_at)
  SELECT id, collection, grid, state, status, level, category, assignee,
    deadline, deleted, conflicts, created_at, updated_at, closed_at, last_seq, level_since,
    overdue, flag, planned, visited, checkins, starts_at FROM records;
DROP TABLE records;
ALTER TABLE records_by_grid RENAME TO records;
CREATE INDEX records_id ON records (id);
CREATE INDEX records_grid_last_seq ON records (grid, last_seq);
CREATE INDEX records_grid_collection_status ON records (grid, collection, status);
CREATE INDEX records_collection_status_level ON records (collection, status, level);
CREATE INDEX records_grid_conflicts ON records (grid) WHERE conflicts > 0;
CREATE INDEX records_deadline ON records (deadline) WHERE deadline IS NOT NULL;
CREATE INDEX records_open_deadline ON records (deadline, level) WHERE closed_at IS NULL AND deleted = FALSE;
CREATE INDEX records_grid_level ON records (grid, level);
CREATE INDEX records_rounds ON records (starts_at, grid) WHERE starts_at IS NOT NULL;
CREATE INDEX records_created ON records (created_at, grid, collection, level, status, category, deleted);
CREATE INDEX records_closed ON records (closed_at, grid, collection, level, status, category, deleted) WHERE closed_at IS NOT NULL;
CREATE INDEX records_escalated ON records (level_since, grid, collection, level, status, category, created_at, deleted) WHERE level <> 'grid';
CREATE INDEX records_open_due ON records (deadline, grid, collection, level, status, category) WHERE closed_at IS NULL AND deleted = FALSE;

DROP INDEX changes_actor_seq;
CREATE UNIQUE INDEX changes_actor_seq ON changes (grid, actor, actor_seq);
DROP INDEX changes_record_seq;
CREATE INDEX changes_record_seq ON changes (grid, record_id, seq);

CREATE TABLE actor_heads (
    grid TEXT NOT NULL,
    actor BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (grid, actor)
);
INSERT INTO actor_heads (grid, actor, seq)
    SELECT grid, actor, MAX(actor_seq) FROM changes GROUP BY grid, actor;
DROP TABLE actors;

UPDATE quarantine SET grid = '' WHERE grid IS NULL;

CREATE TABLE attachment_refs_by_grid (
    sha256 TEXT NOT NULL,
    record_id TEXT NOT NULL,
    grid TEXT NOT NULL,
    collection TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (grid, sha256, record_id)
);
INSERT INTO attachment_refs_by_grid SELECT sha256, record_id, grid, collection, media_type, size FROM attachment_refs;
DROP TABLE attachment_refs;
ALTER TABLE attachment_refs_by_grid RENAME TO attachment_refs;
CREATE INDEX attachment_refs_record ON attachment_refs (grid, record_id);
CREATE INDEX attachment_refs_sha256 ON attachment_refs (sha256);

-- Every grid-scoped table is keyed by its grid first. On Citus the grid is
-- the distribution column, and a primary or unique key must contain it; on
-- plain PostgreSQL and SQLite the same keys hold, so every backend answers
-- alike. What a grid's write reads and writes is found by its grid:
--   records       (grid, id)        a record lives in one grid for good
--   changes       (grid, seq), unique (grid, actor, actor_seq)
--   actor_heads   (grid, actor)     an actor's newest sequence in a grid
--   quarantine    (grid, id)        '' when the refused change named no grid
--   attachment_refs (grid, sha256, record_id)
-- `actors` (one row per actor, written by every sync) goes: a context
-- names only dots of the record it changes, and so of its grid, and the
-- heads per grid bound it (PROTOCOL.md, "Bounds").
ALTER TABLE records DROP CONSTRAINT records_pkey;
ALTER TABLE records ADD PRIMARY KEY (grid, id);
CREATE INDEX records_id ON records (id);

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
ALTER TABLE quarantine ALTER COLUMN grid SET DEFAULT '';
ALTER TABLE quarantine ALTER COLUMN grid SET NOT NULL;
ALTER TABLE quarantine DROP CONSTRAINT quarantine_pkey;
ALTER TABLE quarantine ADD PRIMARY KEY (grid, id);
CREATE INDEX quarantine_id ON quarantine (id);
-- Numbers from a sequence: no writer waits for another to count.
CREATE SEQUENCE quarantine_ids;
SELECT setval('quarantine_ids', COALESCE((SELECT MAX(id) FROM quarantine), 0) + 1, false);

ALTER TABLE attachment_refs DROP CONSTRAINT attachment_refs_pkey;
ALTER TABLE attachment_refs ADD PRIMARY KEY (grid, sha256, record_id);
DROP INDEX attachment_refs_record;
CREATE INDEX attachment_refs_record ON attachment_refs (grid, record_id);
CREATE INDEX attachment_refs_sha256 ON attachment_refs (sha256);

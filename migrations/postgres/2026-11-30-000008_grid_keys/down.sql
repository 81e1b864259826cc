DROP INDEX attachment_refs_sha256;
DROP INDEX attachment_refs_record;
ALTER TABLE attachment_refs DROP CONSTRAINT attachment_refs_pkey;
ALTER TABLE attachment_refs ADD PRIMARY KEY (sha256, record_id);
CREATE INDEX attachment_refs_record ON attachment_refs (record_id);

DROP SEQUENCE quarantine_ids;
DROP INDEX quarantine_id;
ALTER TABLE quarantine DROP CONSTRAINT quarantine_pkey;
ALTER TABLE quarantine ADD PRIMARY KEY (id);
ALTER TABLE quarantine ALTER COLUMN grid DROP NOT NULL;
ALTER TABLE quarantine ALTER COLUMN grid DROP DEFAULT;

CREATE TABLE actors (
    actor BIGINT PRIMARY KEY NOT NULL,
    max_seq BIGINT NOT NULL,
    last_sync_at BIGINT NOT NULL
);
INSERT INTO actors (actor, max_seq, last_sync_at)
    SELECT actor, MAX(seq), 0 FROM actor_heads GROUP BY actor;
DROP TABLE actor_heads;

DROP INDEX changes_record_seq;
CREATE INDEX changes_record_seq ON changes (record_id, seq);
DROP INDEX changes_actor_seq;
CREATE UNIQUE INDEX changes_actor_seq ON changes (actor, actor_seq);

DROP INDEX records_id;
ALTER TABLE records DROP CONSTRAINT records_pkey;
ALTER TABLE records ADD PRIMARY KEY (id);

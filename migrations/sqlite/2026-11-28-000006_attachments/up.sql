-- Attachments (docs/PROTOCOL.md, "Attachments"): the bytes live in the
-- attachment store under their SHA-256; these tables say what is kept, who
-- may read it (the records that refer to it) and which uploads are under way.

-- An attachment whose bytes were received whole and verified.
CREATE TABLE attachments (
    sha256 TEXT PRIMARY KEY NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    stored_at BIGINT NOT NULL,
    -- The user and device whose upload completed it first.
    user_id BIGINT NOT NULL,
    device TEXT NOT NULL
);

-- Which records refer to which attachment, kept by every merge: a caller may
-- read an attachment when one of these records is in their reach. Only ever
-- added to (a reference once made stays, like the log entries that make it).
CREATE TABLE attachment_refs (
    sha256 TEXT NOT NULL,
    record_id TEXT NOT NULL,
    grid TEXT NOT NULL,
    collection TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (sha256, record_id)
);
CREATE INDEX attachment_refs_record ON attachment_refs (record_id);

-- An upload under way: one per device and attachment, resumed at `received`.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    sha256 TEXT NOT NULL,
    device TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    received BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (device, sha256)
);

-- Bytes each device sent per day (China time), for the daily limit.
CREATE TABLE upload_days (
    device TEXT NOT NULL,
    day TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (device, day)
);

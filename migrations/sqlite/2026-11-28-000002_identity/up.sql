-- Identity and access: the org tree, users, devices, refresh tokens, audit.

-- district → park/area → community → grid. Codes are stable; names and
-- parents may change (a grid moved to another community keeps its records,
-- which refer to the grid by code).
CREATE TABLE org_nodes (
    code TEXT PRIMARY KEY NOT NULL,
    parent TEXT REFERENCES org_nodes (code),
    level TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX org_nodes_parent ON org_nodes (parent);

CREATE TABLE users (
    id BIGINT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    node TEXT NOT NULL REFERENCES org_nodes (code),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One app install. Its actor id is never reused, not even after revocation.
CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    actor BIGINT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX devices_user ON devices (user_id);

-- Refresh tokens, stored as SHA-256 hashes. A token used twice revokes its family.
CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY NOT NULL,
    family TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    device_id TEXT REFERENCES devices (id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- Reads of key persons, exports, and quarantine decisions: who, what, when, from where.
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    user_id BIGINT,
    username TEXT NOT NULL,
    device_id TEXT,
    address TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- A supervisor's decision on a quarantined change.
ALTER TABLE quarantine ADD COLUMN resolution TEXT;
ALTER TABLE quarantine ADD COLUMN resolved_by BIGINT;
ALTER TABLE quarantine ADD COLUMN resolved_at BIGINT;

-- Pulls deliver only the collections a role reads.
ALTER TABLE changes ADD COLUMN collection TEXT NOT NULL DEFAULT '';
UPDATE changes SET collection = (SELECT r.collection FROM records r WHERE r.id = changes.record_id);

-- Attachments this device's own changes refer to, to upload once the change
-- that refers to each is acknowledged. The bytes are files in the device
-- folder's attachments/, named by their SHA-256.
CREATE TABLE uploads (
    sha256 TEXT PRIMARY KEY NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- The change that first referred to it: it is uploaded once that change
    -- has left the outbox.
    seq BIGINT NOT NULL,
    -- waiting | uploaded | refused
    state TEXT NOT NULL,
    -- Bytes the server acknowledged, as last heard.
    sent BIGINT NOT NULL DEFAULT 0,
    -- Why it is not uploaded yet, as the server said (code: message).
    reason TEXT,
    updated_at BIGINT NOT NULL
);

-- The inbox the last completed pull brought (JSON), to show offline.
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    body TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

-- A resident's ID number, when it is a whole and valid one, kept beside the
-- record so that residents registered twice (two grids, two workers) can be
-- found: docs/WORKFLOWS.md, "Duplicate residents". Filled at each resident's
-- next change. A supervisor's decision that a shared number is no mistake
-- (a dismissal) is kept by the number.
ALTER TABLE records ADD COLUMN id_key TEXT;
CREATE INDEX records_id_key ON records (id_key);
CREATE TABLE duplicate_decisions (
    id_key TEXT PRIMARY KEY,
    decision TEXT NOT NULL,
    decided_by BIGINT NOT NULL,
    decided_at BIGINT NOT NULL
);

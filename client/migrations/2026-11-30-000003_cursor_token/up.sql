-- The server's cursor is an opaque token now (a position per grid); a
-- device upgraded from a numeric cursor pulls again from the start (record
-- states join into what it has: nothing is lost or doubled).
ALTER TABLE device DROP COLUMN cursor;
ALTER TABLE device ADD COLUMN cursor TEXT;
UPDATE device SET resume = NULL;

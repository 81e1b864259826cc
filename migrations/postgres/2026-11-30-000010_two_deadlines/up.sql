-- A case's two due dates (docs/WORKFLOWS.md, "Deadlines"): statutory, from its
-- fixed event and kept across escalation; level, from reaching its level.
-- `deadline` stays the earlier of the two. Rows from before keep what they
-- had as their level due date until their next change.
ALTER TABLE records ADD COLUMN statutory_deadline BIGINT;
ALTER TABLE records ADD COLUMN level_deadline BIGINT;
UPDATE records SET level_deadline = deadline;

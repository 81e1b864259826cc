-- Cases dispatched to a department or assigned to a user are found by
-- their assignee (`user:NAME`, `department:CODE`), whatever their grid: a
-- department's case list and everyone's inbox.
CREATE INDEX records_assignee ON records (assignee) WHERE assignee IS NOT NULL;

-- A record's label in lists (its definition's title field, a person's name
-- masked), derived at merge time like the other columns. The inbox that
-- every pull answers reads it instead of parsing each case's state.
-- NULL: written before this column; readers derive it from the state.
ALTER TABLE records ADD COLUMN label TEXT;

DROP INDEX records_assignee;

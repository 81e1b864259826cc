DROP TABLE upload_days;
DROP TABLE uploads;
DROP TABLE attachment_refs;
DROP TABLE attachments;

DROP TABLE quarantine;
DROP TABLE actors;
DROP TABLE changes;
DROP TABLE records;

DROP TABLE refused;
DROP TABLE outbox;
DROP TABLE records;
DROP TABLE device;

DROP TABLE device_syncs;

-- Keys by grid are kept (a narrower key would refuse records that share an
-- id across grids); the per-actor table comes back from the heads.
CREATE TABLE actors (
    actor BIGINT PRIMARY KEY NOT NULL,
    max_seq BIGINT NOT NULL,
    last_sync_at BIGINT NOT NULL
);
INSERT INTO actors (actor, max_seq, last_sync_at)
    SELECT actor, MAX(seq), 0 FROM actor_heads GROUP BY actor;
DROP TABLE actor_heads;

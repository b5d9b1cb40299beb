-- Cross-instance invalidation on a shared PostgreSQL database (src/notified_reads.rs); unused
-- with SQLite, where one process writes.
--
-- sync_counter numbers every write that other instances' memory must learn of (trunk writes,
-- key revocations), and every instance's lease renewal: the increment takes the row's lock
-- until commit, so the numbers commit in order and a listener that sees them arrive with a gap
-- knows it missed one.
CREATE TABLE sync_counter (
    id INTEGER PRIMARY KEY,
    n  BIGINT  NOT NULL
);
INSERT INTO sync_counter (id, n) VALUES (1, 0);

-- Instances that answer from memory while their lease lasts. A writer waits, after its commit,
-- until every instance with a live lease has seen its number (or the lease has run out).
-- until_micros is on the database's clock (µs since the epoch).
CREATE TABLE serving_instances (
    id           TEXT   PRIMARY KEY,
    until_micros BIGINT NOT NULL,
    seen         BIGINT NOT NULL
);

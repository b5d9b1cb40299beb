-- Periodic OPTIONS health checks of outbound trunks, opted into per trunk. One row per trunk
-- that has (or had) checks enabled. `next_check_at` doubles as the claim: an instance takes a
-- due check by moving it forward with a conditional update, so two instances never probe the
-- same trunk at once.
CREATE TABLE trunk_health (
    trunk_id         TEXT PRIMARY KEY REFERENCES trunks(id),
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    enabled          BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,
    down_after       BIGINT NOT NULL,
    state            TEXT NOT NULL,
    misses           BIGINT NOT NULL,
    next_check_at    BIGINT NOT NULL,
    last_checked_at  BIGINT,
    last_diagnosis   TEXT,
    last_rtt_us      BIGINT,
    changed_at       BIGINT
);
CREATE INDEX trunk_health_due ON trunk_health (enabled, next_check_at);

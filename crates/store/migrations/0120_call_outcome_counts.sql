-- The overview's "calls by outcome" for the last 24 hours, without counting call rows: how
-- many of a tenant's calls created in each hour (µs since the epoch, a multiple of an hour)
-- ended in each final status. A call's move to a final status adds one here in the same
-- transaction (Store::transition), and a final status never changes again, so the rows stay
-- equal to a count of the calls table (the tests compare them). Calls still in flight are
-- counted from the calls table through calls_in_flight below.
CREATE TABLE call_outcome_counts (
    tenant_id TEXT   NOT NULL REFERENCES tenants(id),
    hour      BIGINT NOT NULL,
    status    TEXT   NOT NULL,
    calls     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour, status)
);
INSERT INTO call_outcome_counts (tenant_id, hour, status, calls)
SELECT tenant_id, created_at / 3600000000 * 3600000000, status, COUNT(*) FROM calls
WHERE status NOT IN ('queued', 'claimed', 'dialing', 'ringing', 'answered')
GROUP BY tenant_id, created_at / 3600000000 * 3600000000, status;

-- A tenant's calls in flight, newest first: small however many calls have ended. Queries use
-- it only when their WHERE repeats this exact status list (SQLite's rule for partial indexes).
CREATE INDEX calls_in_flight ON calls (tenant_id, created_at, id)
WHERE status IN ('queued', 'claimed', 'dialing', 'ringing', 'answered');

-- It served only the overview's count of every call of the last 24 hours, which the two
-- above replace; left in place, SQLite's planner prefers it over calls_in_flight.
DROP INDEX calls_by_tenant_time_status;

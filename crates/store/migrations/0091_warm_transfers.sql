-- Warm transfers of answered outbound calls: a consultation room where the agent talks to the
-- transfer target before the target is moved into the caller's room. `status` is where the
-- transfer is (dialing, consulting, completed, ended); `outcome` how it ended (accepted,
-- declined, busy, no_answer, failed, cancelled). `deadline_at` bounds the dialing: past it a
-- transfer whose dialing instance never reported is settled as failed.
CREATE TABLE warm_transfers (
    id                   TEXT PRIMARY KEY,
    call_id              TEXT NOT NULL REFERENCES calls(id),
    tenant_id            TEXT NOT NULL REFERENCES tenants(id),
    target               TEXT NOT NULL,
    agent_name           TEXT NOT NULL,
    room                 TEXT NOT NULL,
    participant_identity TEXT NOT NULL,
    status               TEXT NOT NULL,
    outcome              TEXT,
    sip_status_code      BIGINT,
    error                TEXT,
    deadline_at          BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    answered_at          BIGINT,
    ended_at             BIGINT,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX warm_transfers_by_call ON warm_transfers (call_id, created_at);
-- At most one transfer in progress per call.
CREATE UNIQUE INDEX warm_transfers_one_open ON warm_transfers (call_id) WHERE ended_at IS NULL;

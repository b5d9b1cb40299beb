-- Assistants, outbound calls and their durable queue, LiveKit webhook dedupe, and the outbox of
-- end-of-call webhooks. Portable SQL, as in 0001.

-- A tenant's dispatch profile: which LiveKit agent answers a call, with what metadata, and
-- where the end-of-call webhook goes. `config` is the validated configuration (JSON).
CREATE TABLE assistants (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    config      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX assistants_by_tenant ON assistants (tenant_id, deleted_at, created_at);

-- Per tenant, the Standard Webhooks signing secret (sealed). `previous` keeps the secret a
-- rotation replaced, signed alongside the new one for a day so receivers can switch over.
CREATE TABLE webhook_secrets (
    tenant_id       TEXT PRIMARY KEY REFERENCES tenants(id),
    sealed          TEXT NOT NULL,
    previous_sealed TEXT,
    rotated_at      BIGINT NOT NULL
);

-- Per outbound trunk: dialing limits (NULL = the defaults) and the pacing clock. A dispatcher
-- holds this row locked while it reserves dial slots, so calls-per-second holds across
-- instances. `cps_milli` is calls per second times 1000 (fractional limits, integer column).
CREATE TABLE trunk_dialing (
    trunk_id        TEXT PRIMARY KEY REFERENCES trunks(id),
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    cps_milli       BIGINT,
    max_concurrent  BIGINT,
    next_slot_at    BIGINT NOT NULL
);

-- Outbound calls. The row is the queue entry: `queued` rows are due at `next_attempt_at`;
-- a dispatcher moves them to `claimed` (slot reserved, nothing sent yet, safe to requeue if
-- its claimer dies), then `dialing` (the INVITE may be out: never requeued), then on by the
-- answer, LiveKit's webhooks or the sweeper. `plan` is what the call is dialed with, frozen at
-- enqueue (agent, metadata, limits, webhook URL).
CREATE TABLE calls (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    assistant_id        TEXT NOT NULL,
    trunk_id            TEXT NOT NULL,
    to_number           TEXT NOT NULL,
    from_number         TEXT NOT NULL,
    plan                TEXT NOT NULL,
    idempotency_key     TEXT,
    request_hash        TEXT NOT NULL,
    status              TEXT NOT NULL,
    attempts            BIGINT NOT NULL,
    max_attempts        BIGINT NOT NULL,
    next_attempt_at     BIGINT NOT NULL,
    claimed_by          TEXT,
    claimed_at          BIGINT,
    dial_at             BIGINT,
    dial_deadline_at    BIGINT,
    participant_identity TEXT,
    sip_call_id         TEXT,
    sip_status_code     BIGINT,
    last_error          TEXT,
    end_reason          TEXT,
    webhook_outcome     TEXT,
    transferred_to      TEXT,
    created_at          BIGINT NOT NULL,
    dialed_at           BIGINT,
    ringing_at          BIGINT,
    answered_at         BIGINT,
    ended_at            BIGINT,
    updated_at          BIGINT NOT NULL
);
-- NULL keys never collide (both databases treat NULLs as distinct in unique indexes).
CREATE UNIQUE INDEX calls_idempotency ON calls (tenant_id, idempotency_key);
CREATE INDEX calls_due ON calls (status, next_attempt_at);
CREATE INDEX calls_by_tenant ON calls (tenant_id, created_at, id);
CREATE INDEX calls_by_trunk ON calls (trunk_id, status);
CREATE INDEX calls_active_by_tenant ON calls (tenant_id, status);

-- Ids of LiveKit webhook events already applied: a replayed event changes nothing.
CREATE TABLE livekit_events (
    id           TEXT PRIMARY KEY,
    received_at  BIGINT NOT NULL
);

-- End-of-call webhooks waiting for (or done with) delivery. Written in the same transaction
-- as the call's final status, so none is lost; delivered at least once, deduplicable by id.
-- The body is rendered from the call's final row, which never changes again.
CREATE TABLE webhook_outbox (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    call_id          TEXT NOT NULL,
    url              TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT NOT NULL,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);
CREATE INDEX outbox_due ON webhook_outbox (status, next_attempt_at);
CREATE INDEX outbox_by_call ON webhook_outbox (call_id);

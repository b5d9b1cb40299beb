-- `POST /numbers`: one number set up end to end (the provider side, LiveKit's trunks, a
-- dispatch rule to an assistant's agent). The row records the request (for idempotency: the
-- same body answers the same row) and the ids of exactly what was made, so that a delete
-- removes those and nothing else. `status`: `creating` while the parts are being made,
-- `active` once all are.
CREATE TABLE numbers (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    number             TEXT NOT NULL,
    assistant_id       TEXT NOT NULL,
    direction          TEXT NOT NULL,
    status             TEXT NOT NULL,
    outbound_trunk_id  TEXT,
    inbound_trunk_id   TEXT,
    dispatch_rule_id   TEXT,
    created_at         BIGINT NOT NULL,
    deleted_at         BIGINT
);

-- One live setup per number and account of trunkline (a second request for it either is the
-- same, and answered with the first, or conflicts).
CREATE UNIQUE INDEX numbers_live ON numbers (tenant_id, number) WHERE deleted_at IS NULL;

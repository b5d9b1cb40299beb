-- Carrier accounts (Twilio, Exotel, Telnyx) a tenant lets trunkline act on. The credentials
-- are one JSON object sealed under the master key (the account id and field as associated
-- data); `account_hint` is the provider's account id shortened for display (`AC…1a2b`).
CREATE TABLE provider_accounts (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    provider      TEXT NOT NULL,
    name          TEXT NOT NULL,
    account_hint  TEXT NOT NULL,
    credentials   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);

CREATE INDEX provider_accounts_by_tenant ON provider_accounts (tenant_id, deleted_at, created_at);

-- Webhook requests a provider made about an account (Twilio's voice, status, SMS and
-- recording callbacks), recorded once their signature was verified. `call_sid` is the
-- provider's call id, so that the events of one call can be told apart.
CREATE TABLE provider_events (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES provider_accounts(id),
    kind         TEXT NOT NULL,
    call_sid     TEXT,
    params       TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);

CREATE INDEX provider_events_by_account ON provider_events (account_id, received_at, id);

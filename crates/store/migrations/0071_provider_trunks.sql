-- The provider side of trunks that trunkline made at a provider from a provider account
-- (today: Twilio). `id` (PT_…) is carried in the provider objects' friendly names, so they
-- are recognisably trunkline's; the provider's ids are kept so that a delete removes exactly
-- what trunkline made. `status`: `creating` until both sides exist, then `active`;
-- `failed` when the create was undone; `deleted`.
CREATE TABLE provider_trunks (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    account_id           TEXT NOT NULL REFERENCES provider_accounts(id),
    trunk_id             TEXT,
    status               TEXT NOT NULL,
    provider_trunk_sid   TEXT,
    credential_list_sid  TEXT,
    domain_name          TEXT NOT NULL,
    numbers              TEXT NOT NULL,
    last_error           TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE INDEX provider_trunks_by_account ON provider_trunks (account_id, status);
CREATE INDEX provider_trunks_by_trunk ON provider_trunks (trunk_id);

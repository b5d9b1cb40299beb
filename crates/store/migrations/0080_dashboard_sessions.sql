-- Dashboard sign-ins: a server-side session per browser, made from an API key. Only the
-- SHA-256 of the session token is stored (a copy of this table opens no session). A session
-- ends at `expires_at`, at sign-out (`revoked_at`), or when the API key it was made with is
-- revoked (the lookup joins api_keys). `csrf_token` is the session's form token: every
-- state-changing form carries it.
CREATE TABLE dashboard_sessions (
    token_hash   TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    api_key_id   TEXT NOT NULL REFERENCES api_keys(id),
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX dashboard_sessions_tenant ON dashboard_sessions (tenant_id);

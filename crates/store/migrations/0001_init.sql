-- One schema for SQLite and PostgreSQL: only types and syntax both accept (TEXT, BIGINT,
-- ON CONFLICT). A migration that needs a dialect of its own splits this directory in two.
-- Times are microseconds since the Unix epoch (UTC): one integer type both databases sort
-- and compare the same way.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- API keys are stored as SHA-256 hashes; `prefix` (the first characters of the key) lets an
-- operator tell keys apart in `keys list` without the key itself.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- The desired state of each trunk. `config` is the validated non-secret configuration (JSON);
-- `secrets` maps secret field names to values sealed with AES-256-GCM under the master key.
-- LiveKit is converged to this row: `desired_version` grows on every change, and
-- `synced_version` records the version LiveKit last acknowledged.
CREATE TABLE trunks (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    name              TEXT NOT NULL,
    trunk_type        TEXT NOT NULL,
    config            TEXT NOT NULL,
    secrets           TEXT NOT NULL,
    status            TEXT NOT NULL,
    livekit_trunk_id  TEXT,
    desired_version   BIGINT NOT NULL,
    synced_version    BIGINT NOT NULL,
    last_error        TEXT,
    synced_at         BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    deleted_at        BIGINT
);

CREATE INDEX trunks_by_tenant ON trunks (tenant_id, deleted_at, created_at);
CREATE INDEX trunks_by_status ON trunks (status, deleted_at);

-- Time-limited leases, so that of several trunkline instances sharing one database only one
-- runs the reconciler at a time.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

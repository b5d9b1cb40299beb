-- Audit of tenants' configuration. Every change to a tenant's configuration (trunks, inbound
-- trunks, dispatch rules, assistants, call limits, health checks, provider accounts) is one
-- row here, written in the same transaction as the change, and raises the tenant's
-- `config_version` by one; the row carries the version the change produced, so versions and
-- records correspond one to one. `before`/`after` are JSON snapshots of the object without
-- secrets (a secret is a marker: "set", "kept" or "changed"); `before` is NULL for a create,
-- `after` for a delete. `key_id` is the API key that made the change (NULL for an operator's
-- command, such as `trunkline restore`).
ALTER TABLE tenants ADD COLUMN config_version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE audit_records (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    version      BIGINT NOT NULL,
    key_id       TEXT,
    at           BIGINT NOT NULL,
    object_kind  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    action       TEXT NOT NULL,
    before_state TEXT,
    after_state  TEXT,
    PRIMARY KEY (tenant_id, version)
);
CREATE INDEX audit_records_by_object ON audit_records (tenant_id, object_kind, object_id, version);
CREATE INDEX audit_records_by_object_id ON audit_records (tenant_id, object_id, version);

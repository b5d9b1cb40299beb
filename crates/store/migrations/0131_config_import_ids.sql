-- What each object of an imported configuration document became in this tenant: importing
-- a document whose objects do not exist here (another tenant's, or objects deleted since the
-- export) creates them with new ids, and this mapping lets the same document imported again
-- find those copies instead of creating more.
CREATE TABLE config_import_ids (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    source_id  TEXT NOT NULL,
    local_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, source_id)
);

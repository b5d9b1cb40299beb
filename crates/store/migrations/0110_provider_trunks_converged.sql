-- The provider side of automated trunks becomes a provisioned resource like LiveKit's trunks,
-- converged by the same engine: the shared lifecycle columns (desired/synced versions, a
-- tombstone), the desired state in `name`/`config` (`{"numbers": [...], "username": ...}`)
-- and the generated credential's password sealed in `secrets`. The Twilio domain is no longer
-- stored: it is derived from the trunk's sid, so a trunk recreated after an out-of-band
-- delete gets a fresh one (Twilio keeps a deleted domain reserved for 30 days).
ALTER TABLE provider_trunks ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE provider_trunks ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
ALTER TABLE provider_trunks ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
ALTER TABLE provider_trunks ADD COLUMN desired_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE provider_trunks ADD COLUMN synced_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE provider_trunks ADD COLUMN synced_at BIGINT;
ALTER TABLE provider_trunks ADD COLUMN deleted_at BIGINT;

-- Earlier rows: their numbers become the desired state (the credential is copied from the
-- linked trunk by the first converge pass); their statuses map onto the shared ones, and
-- synced_version 0 makes that pass push every one of them.
UPDATE provider_trunks SET config = '{"numbers":' || numbers || '}';
UPDATE provider_trunks SET status = CASE status
    WHEN 'creating' THEN 'pending'
    WHEN 'active' THEN 'provisioned'
    WHEN 'missing' THEN 'provisioned'
    WHEN 'failed' THEN 'abandoned'
    ELSE 'deleted' END;
UPDATE provider_trunks SET deleted_at = updated_at WHERE status IN ('abandoned', 'deleted');

ALTER TABLE provider_trunks DROP COLUMN numbers;
ALTER TABLE provider_trunks DROP COLUMN domain_name;

CREATE INDEX provider_trunks_live ON provider_trunks (account_id) WHERE deleted_at IS NULL;

-- The reconciler looks for setups left `creating` or `failed` by a crash or an outage
-- mid-setup (`POST /numbers`), to undo the parts they recorded.
CREATE INDEX numbers_unfinished ON numbers (created_at) WHERE deleted_at IS NULL AND status <> 'active';

-- Numbers the operator approved for a tenant, for deployments that require approval
-- (TRUNKLINE_NUMBER_APPROVAL=required): an inbound trunk reaches LiveKit only when every number
-- it serves is approved for its tenant. '' stands for "any number" (a trunk that lists none).
-- Kept apart from the claims so that an approval outlives the trunk that first asked for it.
CREATE TABLE number_approvals (
    number       TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    approved_at  BIGINT NOT NULL
);

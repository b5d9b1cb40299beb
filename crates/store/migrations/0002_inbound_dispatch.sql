-- Inbound trunks and dispatch rules. Same conventions as 0001: TEXT, BIGINT, microseconds.
--
-- Rows follow the trunks table: `config` is the validated non-secret configuration (JSON),
-- `secrets` the sealed secret fields, `status` the provisioning state (`pending` while a create
-- is in flight and invisible to reads), versions for converging LiveKit.
CREATE TABLE inbound_trunks (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    name              TEXT NOT NULL,
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

CREATE INDEX inbound_trunks_by_tenant ON inbound_trunks (tenant_id, deleted_at, created_at);

-- Which account owns a phone number. A number belongs to one account only: LiveKit picks
-- the most specific trunk for a call, so another account's trunk with the same number and
-- `allowed_numbers` would otherwise take some of the owner's calls. The primary key makes
-- two concurrent claims of one number by two accounts resolve to exactly one owner.
CREATE TABLE inbound_number_owners (
    number     TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id)
);

-- LiveKit's own conflict rule for inbound trunks, held in the database so it is checked
-- atomically and before LiveKit is asked (whose message would name the other trunk, perhaps
-- another account's). Each trunk claims (number, caller) for every number it lists ('' when
-- it lists none) and every allowed caller ('' when any caller is allowed); LiveKit refuses
-- two trunks with the same pair, across the whole project.
CREATE TABLE inbound_number_claims (
    number     TEXT NOT NULL,
    caller     TEXT NOT NULL,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    trunk_id   TEXT NOT NULL REFERENCES inbound_trunks(id),
    PRIMARY KEY (number, caller)
);

CREATE INDEX inbound_number_claims_by_trunk ON inbound_number_claims (trunk_id);

CREATE TABLE dispatch_rules (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    name              TEXT NOT NULL,
    config            TEXT NOT NULL,
    status            TEXT NOT NULL,
    livekit_rule_id   TEXT,
    desired_version   BIGINT NOT NULL,
    synced_version    BIGINT NOT NULL,
    last_error        TEXT,
    synced_at         BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    deleted_at        BIGINT
);

CREATE INDEX dispatch_rules_by_tenant ON dispatch_rules (tenant_id, deleted_at, created_at);

-- What a dispatch rule matches: one row per (trunk, caller, dialed number, PIN) it covers,
-- `trunk_id` '*' for a rule on every trunk of the account, '' for "any" in the number columns.
-- Two rules of one account may not cover the same combination (LiveKit's rule, checked here
-- first); rows naming a trunk also keep that trunk from being deleted under the rule.
CREATE TABLE dispatch_rule_keys (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    trunk_id   TEXT NOT NULL,
    caller     TEXT NOT NULL,
    dialed     TEXT NOT NULL,
    pin        TEXT NOT NULL,
    rule_id    TEXT NOT NULL REFERENCES dispatch_rules(id),
    PRIMARY KEY (tenant_id, trunk_id, caller, dialed, pin)
);

CREATE INDEX dispatch_rule_keys_by_rule ON dispatch_rule_keys (rule_id);
CREATE INDEX dispatch_rule_keys_by_trunk ON dispatch_rule_keys (trunk_id);

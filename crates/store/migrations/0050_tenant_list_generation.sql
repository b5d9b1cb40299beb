-- A counter per tenant that grows after every committed write to the tenant's trunks, where
-- several instances share the database (PostgreSQL). An instance keeps each tenant's trunk
-- list in memory tagged with the counter it was read at; one indexed read of the counter (made
-- together with the API-key check every request makes anyway) tells whether that copy is
-- still exact. Not maintained on SQLite, where one process is the only writer and keeps an
-- in-memory generation instead.
ALTER TABLE tenants ADD COLUMN list_generation BIGINT NOT NULL DEFAULT 0;

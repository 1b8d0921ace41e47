-- Webhooks and their durable outbox. A delivery row is written in the same transaction as the change it reports
-- (a push, a delete, a build's end), so none is lost to a crash and none exists for a change that rolled back.
-- Timestamps are unix milliseconds (UTC).

CREATE TABLE webhooks (
    id          TEXT    NOT NULL PRIMARY KEY,
    owner       TEXT,                        -- who created it; NULL for endpoints from configuration
    scope_kind  TEXT    NOT NULL,            -- 'repository', 'namespace' or 'global' (configuration)
    scope       TEXT    NOT NULL,            -- the repository or namespace name; '' for global
    name        TEXT,                        -- configuration name of a global endpoint
    url         TEXT    NOT NULL,
    secret      TEXT,                        -- Data Protection ciphertext of the signing secret
    events      TEXT    NOT NULL,            -- comma-separated: push, delete, build
    format      TEXT    NOT NULL,            -- 'wharf' or 'distribution' (the reference registry's envelope)
    headers     TEXT,                        -- JSON object of extra request headers (global endpoints)
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX webhooks_scope ON webhooks (scope_kind, scope);
CREATE INDEX webhooks_owner ON webhooks (owner, created_at);

CREATE TABLE webhook_deliveries (
    id               TEXT    NOT NULL PRIMARY KEY,   -- X-Wharf-Delivery
    webhook_id       TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event            TEXT    NOT NULL,
    payload          TEXT    NOT NULL,               -- the exact body sent (and signed)
    state            TEXT    NOT NULL,               -- 'pending', 'delivered', 'failed' (gave up)
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    last_duration_ms INTEGER,
    redelivery_of    TEXT
) WITHOUT ROWID;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_listing ON webhook_deliveries (webhook_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id  TEXT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    status       INTEGER,                            -- the receiver's HTTP status; NULL when it could not be reached
    duration_ms  INTEGER NOT NULL,
    error        TEXT,
    PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;

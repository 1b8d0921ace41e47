-- Webhooks and their durable outbox. A delivery row is written in the same transaction as the change it reports
-- (a push, a delete, a build's end), so none is lost to a crash and none exists for a change that rolled back.
-- Dispatchers on any node lease due deliveries with FOR UPDATE SKIP LOCKED. Timestamps are unix milliseconds (UTC).

CREATE TABLE webhooks (
    id          uuid   NOT NULL PRIMARY KEY,
    owner       text,                          -- who created it; NULL for endpoints from configuration
    scope_kind  text   NOT NULL,               -- 'repository', 'namespace' or 'global' (configuration)
    scope       text   COLLATE "C" NOT NULL,   -- the repository or namespace name; '' for global
    name        text,                          -- configuration name of a global endpoint
    url         text   NOT NULL,
    secret      text,                          -- Data Protection ciphertext of the signing secret
    events      text   NOT NULL,               -- comma-separated: push, delete, build
    format      text   NOT NULL,               -- 'wharf' or 'distribution' (the reference registry's envelope)
    headers     text,                          -- JSON object of extra request headers (global endpoints)
    created_at  bigint NOT NULL
);

CREATE INDEX webhooks_scope ON webhooks (scope_kind, scope);
CREATE INDEX webhooks_owner ON webhooks (owner, created_at);

CREATE TABLE webhook_deliveries (
    id               uuid   NOT NULL PRIMARY KEY,   -- X-Wharf-Delivery
    webhook_id       uuid   NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event            text   NOT NULL,
    payload          text   NOT NULL,               -- the exact body sent (and signed)
    state            text   NOT NULL,               -- 'pending', 'delivered', 'failed' (gave up)
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  bigint NOT NULL,
    lease_until      bigint,
    created_at       bigint NOT NULL,
    finished_at      bigint,
    last_status      integer,
    last_error       text,
    last_duration_ms bigint,
    redelivery_of    uuid
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_listing ON webhook_deliveries (webhook_id, created_at DESC);

CREATE TABLE webhook_attempts (
    delivery_id  uuid    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    at           bigint  NOT NULL,
    status       integer,                           -- the receiver's HTTP status; NULL when it could not be reached
    duration_ms  bigint  NOT NULL,
    error        text,
    PRIMARY KEY (delivery_id, attempt)
);

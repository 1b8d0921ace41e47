-- Build service: builds (also the queue: state 'queued', leased by workers), their log lines, and stored
-- credentials for external registries (secret encrypted with Data Protection). Timestamps are unix milliseconds (UTC).

CREATE TABLE builds (
    id                 TEXT    NOT NULL PRIMARY KEY,
    owner              TEXT,
    namespace          TEXT    NOT NULL,
    image              TEXT    NOT NULL,
    registry           TEXT,
    repository         TEXT    NOT NULL,
    tag                TEXT    NOT NULL,
    source_kind        TEXT    NOT NULL,
    dockerfile_path    TEXT    NOT NULL,
    build_args         TEXT    NOT NULL,
    target             TEXT,
    platform           TEXT,
    credential_id      TEXT,
    use_dockerhub      INTEGER NOT NULL DEFAULT 0,
    state              TEXT    NOT NULL,
    build_status       TEXT    NOT NULL,
    push_status        TEXT    NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    build_runs         INTEGER NOT NULL DEFAULT 0,
    push_attempts      INTEGER NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_expires_at   INTEGER,
    cancel_requested   INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    queued_at          INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    error_kind         TEXT,
    error_message      TEXT,
    engine             TEXT,
    local_image        TEXT,
    digest             TEXT,
    pushed_reference   TEXT
) WITHOUT ROWID;

CREATE INDEX builds_queue ON builds (state, queued_at);
CREATE INDEX builds_listing ON builds (owner, created_at DESC, id DESC);
CREATE INDEX builds_repository ON builds (repository, created_at DESC);

CREATE TABLE build_logs (
    build_id  TEXT    NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    line      TEXT    NOT NULL,
    PRIMARY KEY (build_id, seq)
) WITHOUT ROWID;

CREATE TABLE registry_credentials (
    id          TEXT    NOT NULL PRIMARY KEY,
    owner       TEXT    NOT NULL,   -- '' for anonymous (open mode)
    host        TEXT    NOT NULL,
    username    TEXT    NOT NULL,
    secret      TEXT    NOT NULL,   -- Data Protection ciphertext
    created_at  INTEGER NOT NULL,
    UNIQUE (owner, host)
) WITHOUT ROWID;

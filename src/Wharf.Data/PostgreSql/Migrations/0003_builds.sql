-- Build service: builds (also the queue: state 'queued', leased by workers with FOR UPDATE SKIP LOCKED), their log
-- lines, and stored credentials for external registries (secret encrypted with Data Protection).
-- Timestamps are unix milliseconds (UTC).

CREATE TABLE builds (
    id                 uuid    NOT NULL PRIMARY KEY,
    owner              text    COLLATE "C",
    namespace          text    COLLATE "C" NOT NULL,
    image              text    NOT NULL,
    registry           text,
    repository         text    COLLATE "C" NOT NULL,
    tag                text    NOT NULL,
    source_kind        text    NOT NULL,
    dockerfile_path    text    NOT NULL,
    build_args         text    NOT NULL,
    target             text,
    platform           text,
    credential_id      uuid,
    use_dockerhub      boolean NOT NULL DEFAULT false,
    state              text    NOT NULL,
    build_status       text    NOT NULL,
    push_status        text    NOT NULL,
    attempts           integer NOT NULL DEFAULT 0,
    build_runs         integer NOT NULL DEFAULT 0,
    push_attempts      integer NOT NULL DEFAULT 0,
    lease_owner        text,
    lease_expires_at   bigint,
    cancel_requested   boolean NOT NULL DEFAULT false,
    created_at         bigint  NOT NULL,
    queued_at          bigint  NOT NULL,
    started_at         bigint,
    finished_at        bigint,
    error_kind         text,
    error_message      text,
    engine             text,
    local_image        text,
    digest             text,
    pushed_reference   text
);

CREATE INDEX builds_queue ON builds (state, queued_at);
CREATE INDEX builds_listing ON builds (owner, created_at DESC, id DESC);
CREATE INDEX builds_repository ON builds (repository, created_at DESC);
CREATE INDEX builds_running_namespace ON builds (namespace) WHERE state = 'running';

CREATE TABLE build_logs (
    build_id  uuid   NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    seq       bigint NOT NULL,
    at        bigint NOT NULL,
    line      text   NOT NULL,
    PRIMARY KEY (build_id, seq)
);

CREATE TABLE registry_credentials (
    id          uuid   NOT NULL PRIMARY KEY,
    owner       text   COLLATE "C" NOT NULL,   -- '' for anonymous (open mode)
    host        text   COLLATE "C" NOT NULL,
    username    text   NOT NULL,
    secret      text   NOT NULL,   -- Data Protection ciphertext
    created_at  bigint NOT NULL,
    UNIQUE (owner, host)
);

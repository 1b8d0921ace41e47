-- Registry metadata: repositories, per-repository blob links, manifests with their raw bytes,
-- manifest references, tags and referrers. Timestamps are unix milliseconds (UTC).
-- Names compare BINARY so that listings are in ASCII order.

CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL COLLATE BINARY UNIQUE,
    created_at  INTEGER NOT NULL
);

-- Blobs known to the registry, global (content-addressed, shared between repositories).
CREATE TABLE blobs (
    digest      TEXT    NOT NULL PRIMARY KEY,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Which repository may serve which blob.
CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL REFERENCES blobs (digest),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;

CREATE INDEX ix_repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    id             INTEGER PRIMARY KEY,
    repository_id  INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    content        BLOB    NOT NULL,
    size           INTEGER NOT NULL,
    artifact_type  TEXT    NULL,
    subject_digest TEXT    NULL,
    annotations    TEXT    NULL,
    pushed_at      INTEGER NOT NULL,
    UNIQUE (repository_id, digest)
);

CREATE INDEX ix_manifests_subject ON manifests (repository_id, subject_digest);

-- What a manifest needs: its config and layers ('blob') or an index's children ('manifest').
CREATE TABLE manifest_references (
    manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    digest      TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (manifest_id, digest, kind)
) WITHOUT ROWID;

CREATE INDEX ix_manifest_references_digest ON manifest_references (digest);

CREATE TABLE tags (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL COLLATE BINARY,
    manifest_id   INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;

CREATE INDEX ix_tags_manifest ON tags (manifest_id);

-- Immutable tags: a repository's tag patterns (a JSON array of regular expressions, each matched against the whole tag);
-- a tag that matches one can be pushed once, then neither moved nor deleted.
ALTER TABLE repositories ADD COLUMN immutable_tags TEXT NULL;

-- Storage quotas per namespace, in bytes of the distinct blobs that the namespace's manifests reference.
CREATE TABLE namespace_quotas (
    namespace  TEXT    NOT NULL PRIMARY KEY COLLATE BINARY,
    bytes      INTEGER NOT NULL CHECK (bytes >= 0),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

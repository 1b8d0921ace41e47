-- Progress of `wharf migrate-store` in the database it fills (its target is PostgreSQL; the table exists on every
-- provider so that both carry the same migrations). One row per item: 'source' (where the copy comes from: the run
-- that wrote it started this database), 'table:<name>' (the key of the last row copied), 'blobs' (the last digest
-- copied), 'blob:<digest>' (a blob that could not be copied yet), 'complete'. Timestamps are unix milliseconds (UTC).
CREATE TABLE store_migration (
    item       TEXT    NOT NULL PRIMARY KEY,
    position   TEXT    NULL,
    done       INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

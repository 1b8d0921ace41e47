-- Online garbage collection. A blob row carries its state: 'live', or 'deleting' once the collector has claimed it
-- (compare-and-swap, only while nothing references it); the object is deleted next, then the row. linked_at is when a
-- repository last linked the blob (upload commit, mount, manifest push): the grace period counts from it.
ALTER TABLE blobs ADD COLUMN state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'deleting'));
ALTER TABLE blobs ADD COLUMN linked_at INTEGER NOT NULL DEFAULT 0;
UPDATE blobs SET linked_at = created_at;

CREATE INDEX ix_blobs_state ON blobs (state, digest);
CREATE INDEX ix_manifests_digest ON manifests (digest);

-- One row per collection: what it deleted, what it freed, how long it took.
CREATE TABLE gc_runs (
    id                INTEGER PRIMARY KEY,
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER NULL,
    dry_run           INTEGER NOT NULL,
    triggered_by      TEXT    NOT NULL,
    blobs_deleted     INTEGER NOT NULL DEFAULT 0,
    bytes_freed       INTEGER NOT NULL DEFAULT 0,
    manifests_deleted INTEGER NOT NULL DEFAULT 0,
    uploads_expired   INTEGER NOT NULL DEFAULT 0,
    error             TEXT    NULL
);

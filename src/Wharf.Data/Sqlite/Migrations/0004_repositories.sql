-- Repositories as a product: description, README, counters, labels, per-manifest details for tag listings,
-- and a full-text index (FTS5) over names, namespaces, descriptions and image labels for search.
-- Timestamps are unix milliseconds (UTC).

ALTER TABLE repositories ADD COLUMN description    TEXT    NULL;
ALTER TABLE repositories ADD COLUMN readme         TEXT    NULL;
-- Labels of the image most recently pushed with a tag, as "key value" lines (what search indexes).
ALTER TABLE repositories ADD COLUMN labels         TEXT    NULL;
ALTER TABLE repositories ADD COLUMN updated_at     INTEGER NULL;
ALTER TABLE repositories ADD COLUMN push_count     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN pull_count     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN last_pushed_at INTEGER NULL;
ALTER TABLE repositories ADD COLUMN last_pulled_at INTEGER NULL;
-- The first path component, or NULL for a one-component name (the root namespace).
ALTER TABLE repositories ADD COLUMN namespace TEXT GENERATED ALWAYS AS
    (CASE WHEN instr(name, '/') > 0 THEN substr(name, 1, instr(name, '/') - 1) END) VIRTUAL;

CREATE INDEX ix_repositories_namespace ON repositories (namespace, name);

ALTER TABLE tags ADD COLUMN last_pulled_at INTEGER NULL;

-- What a tag listing shows for a manifest, computed when it is pushed: size is the sum of the layer sizes
-- (for an index, of its children's); platforms are "os/arch[/variant]" joined by ','.
CREATE TABLE manifest_details (
    manifest_id INTEGER NOT NULL PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
    size        INTEGER NOT NULL,
    platforms   TEXT    NULL,
    labels      TEXT    NULL
);

-- One row per repository, rowid = repositories.id. name is the part after the namespace.
CREATE VIRTUAL TABLE repository_search USING fts5 (name, namespace, description, labels, tokenize = 'unicode61');

INSERT INTO repository_search (rowid, name, namespace, description, labels)
SELECT id, substr(name, instr(name, '/') + 1), namespace, description, labels FROM repositories;

CREATE TRIGGER tr_repositories_search_insert AFTER INSERT ON repositories BEGIN
    INSERT INTO repository_search (rowid, name, namespace, description, labels)
    VALUES (new.id, substr(new.name, instr(new.name, '/') + 1), new.namespace, new.description, new.labels);
END;

CREATE TRIGGER tr_repositories_search_update AFTER UPDATE OF description, labels ON repositories BEGIN
    UPDATE repository_search SET description = new.description, labels = new.labels WHERE rowid = new.id;
END;

CREATE TRIGGER tr_repositories_search_delete AFTER DELETE ON repositories BEGIN
    DELETE FROM repository_search WHERE rowid = old.id;
END;

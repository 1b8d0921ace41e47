-- Repositories as a product: description, README, counters, labels, per-manifest details for tag listings, and a
-- weighted full-text document (tsvector) over names, namespaces, descriptions and image labels for search.
-- Timestamps are unix milliseconds (UTC).

ALTER TABLE repositories ADD COLUMN description    text   NULL;
ALTER TABLE repositories ADD COLUMN readme         text   NULL;
-- Labels of the image most recently pushed with a tag, as "key value" lines.
ALTER TABLE repositories ADD COLUMN labels         text   NULL;
ALTER TABLE repositories ADD COLUMN updated_at     bigint NULL;
ALTER TABLE repositories ADD COLUMN push_count     bigint NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN pull_count     bigint NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN last_pushed_at bigint NULL;
ALTER TABLE repositories ADD COLUMN last_pulled_at bigint NULL;
-- The first path component, or NULL for a one-component name (the root namespace).
ALTER TABLE repositories ADD COLUMN namespace text COLLATE "C" GENERATED ALWAYS AS
    (CASE WHEN strpos(name, '/') > 0 THEN split_part(name, '/', 1) END) STORED;

-- The words of the description and of the labels as Wharf's search splits text (runs of letters and digits,
-- lower-cased), written by Wharf beside the text itself: the full-text document is built from these, so documents
-- and queries split words the same way (PostgreSQL's own parser would keep "1.2.3" or "a@b.c" whole).
ALTER TABLE repositories ADD COLUMN description_words text NULL;
ALTER TABLE repositories ADD COLUMN label_words       text NULL;

-- The search document, weighted like SQLite's bm25 columns: name (the part after the namespace) A, namespace B,
-- description C, labels D. Repository names are lower-case ASCII by the OCI grammar, so splitting them here is exact.
ALTER TABLE repositories ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple'::regconfig, regexp_replace(substr(name, strpos(name, '/') + 1), '[^a-z0-9]+', ' ', 'g')), 'A') ||
    setweight(to_tsvector('simple'::regconfig, CASE WHEN strpos(name, '/') > 0 THEN regexp_replace(split_part(name, '/', 1), '[^a-z0-9]+', ' ', 'g') ELSE '' END), 'B') ||
    setweight(to_tsvector('simple'::regconfig, coalesce(description_words, '')), 'C') ||
    setweight(to_tsvector('simple'::regconfig, coalesce(label_words, '')), 'D')
) STORED;

CREATE INDEX ix_repositories_namespace ON repositories (namespace, name);
CREATE INDEX ix_repositories_search ON repositories USING gin (search);

ALTER TABLE tags ADD COLUMN last_pulled_at bigint NULL;

-- What a tag listing shows for a manifest, computed when it is pushed: size is the sum of the layer sizes
-- (for an index, of its children's); platforms are "os/arch[/variant]" joined by ','.
CREATE TABLE manifest_details (
    manifest_id bigint NOT NULL PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
    size        bigint NOT NULL,
    platforms   text   NULL,
    labels      text   NULL
);

-- Files every node must see (build sources and secrets, the Data Protection key ring, the token-signing key), stored
-- in chunks so that no write transaction holds more than one chunk. A path points at its content once every chunk of
-- it is stored; replacing a file points the path at new content and drops the old chunks in one transaction.
CREATE TABLE IF NOT EXISTS shared_files (
    path TEXT PRIMARY KEY,
    content_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shared_file_chunks (
    content_id TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (content_id, chunk)
);

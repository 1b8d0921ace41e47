-- Files every node must see (build sources and secrets, the Data Protection key ring, the token-signing key), stored
-- in chunks so that no write transaction holds more than one chunk. A path points at its content once every chunk of
-- it is stored; replacing a file points the path at new content and drops the old chunks in one transaction.
CREATE TABLE IF NOT EXISTS shared_files (
    path text COLLATE "C" PRIMARY KEY,
    content_id text NOT NULL,
    size bigint NOT NULL,
    chunks integer NOT NULL,
    created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS shared_file_chunks (
    content_id text NOT NULL,
    chunk integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (content_id, chunk)
);

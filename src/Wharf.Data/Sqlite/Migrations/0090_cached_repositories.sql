-- Repositories that a pull-through cache filled: which upstream repository each one copies. A repository
-- pushed to Wharf has no row; deleting the repository deletes its row.
CREATE TABLE cached_repositories (
    repository_id INTEGER NOT NULL PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    upstream      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

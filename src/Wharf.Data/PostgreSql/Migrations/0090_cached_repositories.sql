-- Repositories that a pull-through cache filled: which upstream repository each one copies. A repository
-- pushed to Wharf has no row; deleting the repository deletes its row.
CREATE TABLE cached_repositories (
    repository_id bigint NOT NULL PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    upstream      text   NOT NULL,
    created_at    bigint NOT NULL
);

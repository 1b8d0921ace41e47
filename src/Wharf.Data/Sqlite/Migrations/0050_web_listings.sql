-- The web UI's listings: a repository's tag table newest first (keyset pages over pushed time, then name) and the
-- home page's recently pushed repositories, each walked along an index so a page never sorts every row.
CREATE INDEX IF NOT EXISTS ix_tags_pushed ON tags (repository_id, updated_at, name);
CREATE INDEX IF NOT EXISTS ix_repositories_pushed ON repositories (last_pushed_at DESC, name);

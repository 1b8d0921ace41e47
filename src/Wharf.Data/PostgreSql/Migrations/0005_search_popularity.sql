-- Broad searches (a word in most repositories) and browsing list repositories by popularity: this index lets
-- PostgreSQL walk repositories from the most pulled down and stop once a page is full, instead of sorting every match.
CREATE INDEX IF NOT EXISTS ix_repositories_pulls ON repositories (pull_count DESC, name);

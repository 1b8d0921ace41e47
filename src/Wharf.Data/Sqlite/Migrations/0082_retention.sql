-- Retention rules per repository, each optional (NULL: not set): keep the last N tags pushed, keep tags pulled within
-- D days, keep tags whose whole name matches a regular expression. The collector deletes the tags no rule keeps.
ALTER TABLE repositories ADD COLUMN retention_keep_last INTEGER NULL;
ALTER TABLE repositories ADD COLUMN retention_keep_pulled_days INTEGER NULL;
ALTER TABLE repositories ADD COLUMN retention_keep_matching TEXT NULL;

-- What the collector's pass finds: the repositories that have rules, in name order.
CREATE INDEX ix_repositories_retention ON repositories (name)
    WHERE retention_keep_last IS NOT NULL OR retention_keep_pulled_days IS NOT NULL OR retention_keep_matching IS NOT NULL;

-- Tags that retention deleted in a run (a dry run: would delete).
ALTER TABLE gc_runs ADD COLUMN tags_deleted INTEGER NOT NULL DEFAULT 0;

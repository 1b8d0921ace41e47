-- Open upload sessions: who opened each (the signed-in user, NULL when anonymous), from which client address, and
-- when it was last used. The limits Wharf:Registry:MaxUploadSessionsPerUser and …PerAddress count these rows, so they
-- hold for every node on the database. The session's bytes are in blob storage; a row is removed when its session is
-- committed or cancelled, and when it has been idle for longer than Wharf:Registry:UploadIdleTimeout.

CREATE TABLE upload_sessions (
    id uuid NOT NULL PRIMARY KEY,
    user_name text,
    address text,
    started_at bigint NOT NULL,
    used_at bigint NOT NULL
);

CREATE INDEX upload_sessions_by_user ON upload_sessions (user_name, used_at) WHERE user_name IS NOT NULL;
CREATE INDEX upload_sessions_by_address ON upload_sessions (address, used_at) WHERE address IS NOT NULL;
CREATE INDEX upload_sessions_by_use ON upload_sessions (used_at);

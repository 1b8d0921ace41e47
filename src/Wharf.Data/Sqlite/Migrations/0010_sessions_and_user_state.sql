-- Sessions that remember the credential they came from, and the per-user state every session-like credential
-- checks. Timestamps are unix milliseconds (UTC).

-- The security stamp: raised by a password change and by disabling the account. Registry tokens, refresh tokens
-- and sign-in cookies carry the value they were issued under and stop working once it moves on.
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
-- Set while an administrator has disabled the account: no sign-in, no credential of it works.
ALTER TABLE users ADD COLUMN disabled_at INTEGER NULL;
-- When an administrator last cleared the user's failed-login limits (every node forgets older failures).
ALTER TABLE users ADD COLUMN logins_unlocked_at INTEGER NULL;

-- Refresh tokens (docker login's identity tokens, wharf login) before this version recorded neither the scopes nor
-- the credential they came from, and were redeemed for everything the user may do. They cannot be trusted with
-- less, so they are dropped: clients log in again once.
DROP TABLE refresh_tokens;

CREATE TABLE refresh_tokens (
    id                 INTEGER PRIMARY KEY,
    token_hash         TEXT    NOT NULL UNIQUE,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The personal access token the session was made with; NULL when made with the password.
    access_token_id    INTEGER NULL REFERENCES access_tokens (id) ON DELETE CASCADE,
    -- What the making credential allowed ('pull,push,delete,admin' for a password): the most the session grants.
    scopes             TEXT    NOT NULL,
    -- users.credential_version when issued: a password change or disabling ends the session.
    credential_version INTEGER NOT NULL,
    client_id          TEXT    NOT NULL,
    client_address     TEXT    NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    last_used_at       INTEGER NULL,
    revoked_at         INTEGER NULL
);

CREATE INDEX ix_refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX ix_refresh_tokens_access_token ON refresh_tokens (access_token_id);

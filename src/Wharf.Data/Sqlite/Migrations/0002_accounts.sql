-- Accounts and access control: one name space for users and organizations, memberships with roles,
-- personal access tokens and refresh tokens (stored as SHA-256 hashes only), repository visibility
-- and the audit log. Timestamps are unix milliseconds (UTC).

-- NULL: not set yet (the repository has had blobs but no manifest); reads use the configured default.
ALTER TABLE repositories ADD COLUMN visibility TEXT NULL CHECK (visibility IN ('public', 'private'));

-- Users and organizations share this name space: a name is one or the other, never both.
CREATE TABLE namespaces (
    name        TEXT    NOT NULL COLLATE BINARY PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('user', 'org')),
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL COLLATE BINARY UNIQUE REFERENCES namespaces (name),
    email         TEXT    NULL,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL COLLATE BINARY UNIQUE REFERENCES namespaces (name),
    created_at  INTEGER NOT NULL
);

CREATE TABLE organization_members (
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT    NOT NULL CHECK (role IN ('owner', 'maintainer', 'reader')),
    added_at        INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
) WITHOUT ROWID;

CREATE INDEX ix_organization_members_user ON organization_members (user_id);

CREATE TABLE access_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NULL,
    last_used_at INTEGER NULL,
    revoked_at   INTEGER NULL
);

CREATE INDEX ix_access_tokens_user ON access_tokens (user_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT    NOT NULL PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER NULL
) WITHOUT ROWID;

CREATE INDEX ix_refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    actor          TEXT    NULL,
    client_address TEXT    NULL,
    action         TEXT    NOT NULL,
    target         TEXT    NULL,
    success        INTEGER NOT NULL,
    detail         TEXT    NULL
);

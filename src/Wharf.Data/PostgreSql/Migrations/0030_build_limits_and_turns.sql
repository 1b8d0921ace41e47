-- Builds: which limit ended a build (the setting's name: BuildTimeout, QueueTimeToLive, MaxProcesses, …), and when a
-- build was last leased, so the queue can give namespaces turns (the one served longest ago goes first).

ALTER TABLE builds ADD COLUMN error_limit text;
ALTER TABLE builds ADD COLUMN leased_at bigint;

CREATE INDEX builds_namespace_turns ON builds (namespace, leased_at);
CREATE INDEX builds_namespace_running ON builds (namespace, state, lease_expires_at);

-- The ids of the secrets a build was given (RUN --mount=type=secret,id=…), as a JSON array. Only the ids: the values
-- are kept encrypted with the build's source until it succeeds, never in the database.
ALTER TABLE builds ADD COLUMN secret_ids text NOT NULL DEFAULT '[]';

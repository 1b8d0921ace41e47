-- Progress of `wharf migrate-store` in the database it fills. One row per item: 'source' (where the copy comes from:
-- the run that wrote it started this database), 'table:<name>' (the key of the last row copied, written in the same
-- transaction as the rows), 'blobs' (the last digest copied), 'blob:<digest>' (a blob that could not be copied yet),
-- 'complete'. Timestamps are unix milliseconds (UTC).
CREATE TABLE store_migration (
    item       text    COLLATE "C" NOT NULL PRIMARY KEY,
    position   text    NULL,
    done       boolean NOT NULL DEFAULT false,
    updated_at bigint  NOT NULL
);

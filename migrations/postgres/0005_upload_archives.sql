-- Uploaded archives, for every node of a cluster to unpack what it runs:
-- one row per archive (by digest) and its bytes in chunks of 1 MiB, so
-- that neither storing nor reading one holds it whole in memory. An
-- archive goes with the last upload that refers to it.

CREATE TABLE upload_archives (
    digest     TEXT PRIMARY KEY,
    bytes      BIGINT NOT NULL,
    stored_ms  BIGINT NOT NULL
);

CREATE TABLE upload_archive_chunks (
    digest  TEXT NOT NULL REFERENCES upload_archives (digest) ON DELETE CASCADE,
    chunk   INTEGER NOT NULL,
    data    BYTEA NOT NULL,
    PRIMARY KEY (digest, chunk)
);

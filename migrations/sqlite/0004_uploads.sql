-- Archives uploaded to be scanned. The archive's bytes live in a file named
-- by its digest (stored once however many uploads share it); each row is
-- one user's upload of it, removed once unused for the retention time.
CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id),
    digest          TEXT NOT NULL,
    bytes           INTEGER NOT NULL,
    files           INTEGER NOT NULL,
    unpacked_bytes  INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    last_used_ms    INTEGER NOT NULL
);
CREATE INDEX uploads_by_user ON uploads (user_id);
CREATE INDEX uploads_by_digest ON uploads (digest);
CREATE INDEX uploads_by_last_use ON uploads (last_used_ms);

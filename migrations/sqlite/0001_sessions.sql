-- Sessions and their append-only event logs.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    meta        TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_ms DESC);

CREATE TABLE events (
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    seq         INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    tool        TEXT,
    payload     TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

-- At most one report per (session, tool) and one end per session: a replayed
-- or raced append is dropped instead of stored twice.
CREATE UNIQUE INDEX one_report_per_tool ON events (session_id, tool) WHERE kind = 'tool_finished';
CREATE UNIQUE INDEX one_end_per_session ON events (session_id) WHERE kind = 'session_finished';

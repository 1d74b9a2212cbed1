-- The whole schema as the SQLite store has it after its ninth migration,
-- the same records (JSON as text) in the same tables, with the head of
-- each session's log kept on its session row: appends lock that row, so
-- sequence numbers are handed out in commit order.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    balance     BIGINT NOT NULL CHECK (balance >= 0),
    created_ms  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    -- SHA-256 of the whole key, hex; the key itself is never stored.
    hash        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT,
    revoked_ms  BIGINT
);
CREATE INDEX api_keys_by_user ON api_keys (user_id);

CREATE TABLE ledger (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    at_ms         BIGINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('grant', 'reserve', 'refund')),
    amount        BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    session_id    TEXT,
    note          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ledger_by_user ON ledger (user_id, id DESC);
CREATE UNIQUE INDEX one_reserve_per_session ON ledger (session_id) WHERE kind = 'reserve';
CREATE UNIQUE INDEX one_refund_per_session ON ledger (session_id) WHERE kind = 'refund';

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    meta        TEXT NOT NULL,
    scan_id     TEXT NOT NULL UNIQUE,
    listing     TEXT,
    -- Insertion order, the tie-break of the list's order (SQLite's rowid).
    position    BIGINT GENERATED ALWAYS AS IDENTITY,
    -- The head of the log: its last event, and whether it holds a cancel
    -- or the end.
    last_seq    BIGINT NOT NULL DEFAULT 0,
    last_at_ms  BIGINT NOT NULL DEFAULT 0,
    cancelled   BOOLEAN NOT NULL DEFAULT FALSE,
    finished    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_ms DESC, position DESC);
CREATE INDEX sessions_unfinished ON sessions (created_ms, position) WHERE NOT finished;

CREATE TABLE events (
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    seq         BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    tool        TEXT,
    payload     TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE UNIQUE INDEX one_report_per_tool ON events (session_id, tool) WHERE kind = 'tool_finished';
CREATE UNIQUE INDEX one_end_per_session ON events (session_id) WHERE kind = 'session_finished';
CREATE UNIQUE INDEX one_analysis_per_session ON events (session_id) WHERE kind = 'analysis';
CREATE UNIQUE INDEX one_narrative_per_session ON events (session_id) WHERE kind = 'narrative';

CREATE TABLE session_counts (
    user_id   TEXT PRIMARY KEY,
    sessions  BIGINT NOT NULL
);

CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    digest          TEXT NOT NULL,
    bytes           BIGINT NOT NULL,
    files           BIGINT NOT NULL,
    unpacked_bytes  BIGINT NOT NULL,
    created_ms      BIGINT NOT NULL,
    last_used_ms    BIGINT NOT NULL,
    config          TEXT
);
CREATE INDEX uploads_by_user ON uploads (user_id);
CREATE INDEX uploads_by_digest ON uploads (digest);
CREATE INDEX uploads_by_last_use ON uploads (last_used_ms);

CREATE TABLE tool_runs (
    tool      TEXT PRIMARY KEY,
    runs      BIGINT NOT NULL,
    total_ms  BIGINT NOT NULL,
    version   TEXT
);

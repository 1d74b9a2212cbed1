-- Accounts: users with a credit balance, their API keys (hashes only) and a
-- ledger from which every balance can be recomputed.
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    balance     INTEGER NOT NULL CHECK (balance >= 0),
    created_ms  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL,
    -- SHA-256 of the whole key, hex; the key itself is never stored.
    hash        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER,
    revoked_ms  INTEGER
);
CREATE INDEX api_keys_by_user ON api_keys (user_id);

-- amount is signed: grants and refunds add, reservations subtract.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       TEXT NOT NULL REFERENCES users (id),
    at_ms         INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('grant', 'reserve', 'refund')),
    amount        INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    session_id    TEXT,
    note          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ledger_by_user ON ledger (user_id, id DESC);
-- A session is charged once and refunded at most once.
CREATE UNIQUE INDEX one_reserve_per_session ON ledger (session_id) WHERE kind = 'reserve';
CREATE UNIQUE INDEX one_refund_per_session ON ledger (session_id) WHERE kind = 'refund';
